"""The master's side of node RPC: one call to many nodes at once, a result per node.

A node that is offline, down, slow or refuses the call gives a
:class:`NodeResult` carrying the error; it never aborts the others, so a
logical unit decides what a missing node means for its operation.
Connections are kept open between calls (one TLS handshake per node, not
per call), which is what makes a fan-out to many nodes cheap.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING
from typing import Any
from typing import TypeAlias

from service_identity import VerificationError
from twisted.internet import defer
from twisted.internet import endpoints
from twisted.internet.error import ConnectError
from twisted.internet.error import TimeoutError as TxTimeoutError
from twisted.web import client
from twisted.web.http_headers import Headers
from twisted.web.iweb import IAgentEndpointFactory
from twisted.web.iweb import IBodyProducer
from zope.interface import implementer

from corral.api.errors import CorralError
from corral.rpc.protocol import DEFAULT_PORT
from corral.rpc.protocol import RpcError
from corral.rpc.protocol import decode_answer
from corral.rpc.protocol import request_parts

if TYPE_CHECKING:
    from collections.abc import Callable
    from collections.abc import Iterable

    from twisted.internet.interfaces import IConsumer
    from twisted.internet.interfaces import IOpenSSLClientConnectionCreator
    from twisted.internet.interfaces import IStreamClientEndpoint
    from twisted.web.client import URI

    from corral.crypto.tls import NodeCredentials

    #: TLS settings for a connection to the named node.
    TlsFor: TypeAlias = Callable[[str], IOpenSSLClientConnectionCreator]

_HEADERS = Headers({b"content-type": [b"application/json"], b"user-agent": [b"corral-rpc"]})


@dataclass(frozen=True)
class Target:
    """A node to call: its name (what its certificate must say) and its address."""

    name: str
    address: str
    offline: bool = False


@dataclass(frozen=True)
class NodeResult:
    """One node's answer: ``result`` if ``error`` is None, else why there is none."""

    node: str
    result: Any = None
    error: str | None = None
    offline: bool = False
    #: The remote error itself, when the node answered with one (else None).
    exception: CorralError | None = None
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.error is None

    def payload(self, what: str) -> Any:
        """The result, or raise an error saying which call on which node failed."""
        if self.error is not None:
            raise RpcError(f"{what} failed on node {self.node}: {self.error}")
        return self.result


@implementer(IBodyProducer)
class _Bytes:
    """A request body written at once (FileBodyProducer costs a cooperator turn)."""

    def __init__(self, data: bytes) -> None:
        self._data = data
        self.length = len(data)

    def startProducing(self, consumer: IConsumer) -> defer.Deferred[None]:
        consumer.write(self._data)
        return defer.succeed(None)

    def pauseProducing(self) -> None:
        pass

    def resumeProducing(self) -> None:
        pass

    def stopProducing(self) -> None:
        pass


@implementer(IAgentEndpointFactory)
class _NodeEndpoints:
    """Connects a URL naming a node to that node's address, checking its certificate."""

    def __init__(self, reactor: Any, tls_for: TlsFor, port: int) -> None:
        self._reactor = reactor
        self._tls_for = tls_for
        self._port = port
        self.addresses: dict[str, str] = {}
        #: Built once per node and address: a TLS context costs more than a call.
        self._cache: dict[tuple[str, str], IStreamClientEndpoint] = {}

    def clear(self) -> None:
        self._cache.clear()

    def endpointForURI(self, uri: URI) -> IStreamClientEndpoint:
        name = uri.host.decode("ascii")
        key = (name, self.addresses.get(name, name))
        endpoint = self._cache.get(key)
        if endpoint is None:
            tcp = endpoints.HostnameEndpoint(self._reactor, key[1].encode("ascii"), self._port)
            endpoint = endpoints.wrapClientTLS(self._tls_for(name), tcp)
            self._cache[key] = endpoint
        return endpoint


def _describe(failure: BaseException, timeout: float) -> str:
    if isinstance(failure, defer.CancelledError | TxTimeoutError):
        return f"no answer within {timeout:g} s"
    if isinstance(failure, ConnectError):
        return f"cannot connect: {str(failure).rstrip('.')}"
    if isinstance(failure, client.ResponseNeverReceived | client.ResponseFailed):
        for reason in failure.reasons:
            if isinstance(reason.value, VerificationError):
                return "TLS failed: the node's certificate was not issued for this node name"
        text = "; ".join(r.getErrorMessage() for r in failure.reasons) or type(failure).__name__
        if "certificate" in text.lower() or "SSL" in text or "alert" in text:
            return f"TLS failed (is it a node of this cluster?): {text}"
        return f"connection lost: {text}"
    return str(failure) or type(failure).__name__


class _QuietFactory(client._HTTP11ClientFactory):
    """Connection factories that do not log each start and stop (one per node)."""

    noisy = False


class RpcClient:
    """Calls node daemons over HTTPS with this node's cluster certificate.

    ``tls_for`` replaces the certificate where there is none yet: a node
    that joins talks to the master with the TLS settings it gives per name.
    """

    def __init__(
        self,
        reactor: Any,
        creds: NodeCredentials | None,
        port: int = DEFAULT_PORT,
        timeout: float = 60.0,
        max_per_node: int = 32,
        tls_for: TlsFor | None = None,
    ) -> None:
        self._reactor = reactor
        self.timeout = timeout
        if tls_for is None:
            if creds is None:
                raise ValueError("RpcClient needs node credentials or tls_for")
            tls_for = creds.client_options
        self._endpoints = _NodeEndpoints(reactor, tls_for, port)
        self._pool = client.HTTPConnectionPool(reactor, persistent=True)
        self._pool.maxPersistentPerHost = max_per_node
        self._pool.retryAutomatically = False  # a call may not be idempotent
        self._pool._factory = _QuietFactory
        self._agent = client.Agent.usingEndpointFactory(reactor, self._endpoints, pool=self._pool)
        self._port = port

    async def call(
        self,
        target: Target,
        method: str,
        args: dict[str, Any] | None = None,
        timeout: float | None = None,
        *,
        document: bytes | None = None,
    ) -> NodeResult:
        """Call ``method`` on one node; never raises for what went wrong there.

        ``document`` is for procedures that take one large JSON document
        (a config): it is sent as the body as it is, and ``args`` travel in
        the query string, so neither side encodes the document again.
        """
        return await self._send(target, method, *request_parts(method, args, document), timeout)

    async def _send(
        self, target: Target, method: str, path: str, body: bytes, timeout: float | None
    ) -> NodeResult:
        if target.offline:
            return NodeResult(target.name, error="node is offline", offline=True)
        limit = self.timeout if timeout is None else timeout
        self._endpoints.addresses[target.name] = target.address
        url = f"https://{target.name}:{self._port}/{path}".encode("ascii")
        started = time.monotonic()
        request = self._agent.request(b"POST", url, _HEADERS, _Bytes(body))
        request.addTimeout(limit, self._reactor)
        try:
            response = await request
            answer = await client.readBody(response)
            result = decode_answer(answer, target.name)
        except CorralError as err:
            elapsed = time.monotonic() - started
            return NodeResult(target.name, error=str(err), exception=err, seconds=elapsed)
        except Exception as err:
            elapsed = time.monotonic() - started
            return NodeResult(target.name, error=_describe(err, limit), seconds=elapsed)
        return NodeResult(target.name, result, seconds=time.monotonic() - started)

    async def call_many(
        self,
        targets: Iterable[Target],
        method: str,
        args: dict[str, Any] | None = None,
        timeout: float | None = None,
        *,
        document: bytes | None = None,
    ) -> dict[str, NodeResult]:
        """Call ``method`` on every node in parallel; a result for each, by node name.

        The request is encoded once for all of them.
        """
        path, body = request_parts(method, args, document)
        calls = [
            defer.Deferred.fromCoroutine(self._send(t, method, path, body, timeout))
            for t in targets
        ]
        results: list[NodeResult] = await defer.gatherResults(calls)
        return {r.node: r for r in results}

    def reset_tls(self) -> None:
        """New credentials: build TLS settings afresh and stop reusing old connections."""
        self._endpoints.clear()
        self._pool.closeCachedConnections()

    async def close(self) -> None:
        """Close the kept connections (tests and shutdown)."""
        await self._pool.closeCachedConnections()
