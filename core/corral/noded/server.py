"""The node daemon's HTTPS front: routing, caller checks, and answers.

Every request is ``POST /<procedure>`` with a JSON object of arguments.
Who may call what is decided here, from the client certificate the TLS
handshake verified against the cluster CA (see :mod:`corral.crypto.tls`):
nobody without one (except for :attr:`NodeMethods.ANONYMOUS`), and for
procedures that change the node, only the master or a master candidate.
"""

from __future__ import annotations

import inspect
import io
import json
from typing import TYPE_CHECKING
from typing import Any

from twisted.internet import defer
from twisted.internet import threads
from twisted.logger import Logger
from twisted.web import http
from twisted.web import resource
from twisted.web import server

from corral.api.errors import CorralError
from corral.api.errors import OpExecError
from corral.api.errors import OpPrereqError
from corral.crypto.tls import peer_name
from corral.rpc.protocol import MAX_BODY
from corral.rpc.protocol import encode_failure
from corral.rpc.protocol import encode_result
from corral.rpc.protocol import query_args

if TYPE_CHECKING:
    from corral.noded.methods import NodeMethods

log = Logger()

#: Bodies larger than this are decoded in a thread, not on the reactor.
_BIG_BODY = 256 * 1024


class AccessDenied(OpPrereqError):
    """The caller may not use this procedure."""


class _Discard(io.BytesIO):
    def write(self, data: Any) -> int:
        return len(data)


class _LimitedRequest(server.Request):
    """Refuses a body over :data:`MAX_BODY` before reading it."""

    def gotLength(self, length: int | None) -> None:
        if length is not None and length > MAX_BODY:
            self.channel.transport.write(  # type: ignore[union-attr]
                b"HTTP/1.1 413 Request Entity Too Large\r\nContent-Length: 0\r\n"
                b"Connection: close\r\n\r\n"
            )
            self.channel.loseConnection()
            self.content = _Discard()  # what still arrives before the close is dropped
            return
        super().gotLength(length)


class RpcResource(resource.Resource):
    """Every procedure of :class:`NodeMethods` at ``/<name>``, with the checks above."""

    isLeaf = True

    def __init__(self, methods: NodeMethods) -> None:
        super().__init__()
        self._methods = methods
        self._signatures = {
            name: inspect.signature(getattr(methods, f"rpc_{name}")) for name in methods.names()
        }
        self._names = set(self._signatures)

    def render_GET(self, request: server.Request) -> bytes:
        request.setResponseCode(http.NOT_ALLOWED)
        request.setHeader(b"allow", b"POST")
        return encode_failure(OpPrereqError("node RPC takes POST /<procedure>"))

    def render_POST(self, request: server.Request) -> Any:
        request.setHeader(b"content-type", b"application/json")
        d = defer.Deferred.fromCoroutine(self._answer(request))
        d.addErrback(self._crashed, request)
        return server.NOT_DONE_YET

    def _crashed(self, failure: Any, request: server.Request) -> None:
        log.failure("RPC handler crashed", failure)
        if not request.finished:
            request.setResponseCode(http.INTERNAL_SERVER_ERROR)
            request.write(encode_failure(OpExecError("internal error in the node daemon")))
            request.finish()

    async def _answer(self, request: server.Request) -> None:
        gone: list[bool] = []
        request.notifyFinish().addErrback(lambda _: gone.append(True))
        code, body = await self._dispatch(request)
        if gone:
            return  # the caller hung up (its timeout); nobody is left to answer
        request.setResponseCode(code)
        request.setHeader(b"content-length", b"%d" % len(body))  # not chunked: one write
        request.write(body)
        request.finish()

    def _caller(self, request: server.Request) -> str | None:
        transport = request.channel.transport
        get_peer = getattr(transport, "getPeerCertificate", None)
        return peer_name(get_peer() if get_peer else None)

    async def _dispatch(self, request: server.Request) -> tuple[int, bytes]:
        path = request.postpath or []
        name = path[0].decode("ascii", "replace") if path else ""
        if len(path) != 1 or name not in self._names:
            known = ", ".join(sorted(self._names))
            error = OpPrereqError(f"unknown RPC procedure {name!r} (this node offers {known})")
            return http.NOT_FOUND, encode_failure(error)
        caller = self._caller(request)
        try:
            self._authorize(name, caller)
        except AccessDenied as err:
            log.warn("refused {name} from {caller}: {err}", name=name, caller=caller, err=err)
            return http.FORBIDDEN, encode_failure(err)
        assert request.content is not None
        data = request.content.read()
        try:
            if name in self._methods.DOCUMENT:
                args = {**query_args(request.args or {}), "document": data}
            elif len(data) > _BIG_BODY:
                args = await threads.deferToThread(json.loads, data)
            else:
                args = json.loads(data or b"{}")
        except (UnicodeDecodeError, ValueError) as err:
            return http.BAD_REQUEST, encode_failure(OpPrereqError(f"body is not JSON: {err}"))
        if not isinstance(args, dict):
            error = OpPrereqError("the body must be a JSON object of arguments")
            return http.BAD_REQUEST, encode_failure(error)
        try:
            self._signatures[name].bind(**args)
        except TypeError as err:
            error = OpPrereqError(f"{name}: {err}")
            return http.BAD_REQUEST, encode_failure(error)
        try:
            result = await getattr(self._methods, f"rpc_{name}")(**args)
        except CorralError as err:
            return http.OK, encode_failure(err)
        return http.OK, encode_result(result)

    def _authorize(self, name: str, caller: str | None) -> None:
        if name in self._methods.ANONYMOUS:
            return
        if caller is None:
            raise AccessDenied(f"{name} needs a client certificate signed by this cluster's CA")
        if name in self._methods.READ_ONLY:
            return
        allowed = self._methods.allowed_callers()
        if allowed is not None and caller not in allowed:
            raise AccessDenied(
                f"{name} may be called by the master or a master candidate, not {caller}"
            )


class RpcSite(server.Site):
    """A Site without access logs (the callers log what they asked for).

    Bodies are JSON documents the procedures decode themselves: Twisted's
    form parsing, which reads every request's content type with the email
    package, is turned off.
    """

    requestFactory = _LimitedRequest

    def __init__(self, resource: RpcResource) -> None:
        super().__init__(resource, parsePOSTFormSubmission=False)

    def log(self, request: http.Request) -> None:
        pass
