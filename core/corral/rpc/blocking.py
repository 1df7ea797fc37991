"""Node RPC for command-line tools: blocking calls with Python's ssl module.

The daemons use :mod:`corral.rpc.client` on the reactor; a tool that runs
once (``corral-node-join``, ``gnt-cluster master-failover``) is simpler
with plain sockets, a thread per node when it asks several. The wire
format and the TLS checks are the same: the node's certificate must chain
to the cluster CA and name the node.
"""

from __future__ import annotations

import http.client
import socket
import ssl
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING
from typing import Any

from corral.api.errors import CorralError
from corral.rpc.protocol import RpcError
from corral.rpc.protocol import decode_answer
from corral.rpc.protocol import encode_args

if TYPE_CHECKING:
    from collections.abc import Iterable

    from corral.rpc.client import Target


def post(sock: ssl.SSLSocket, host: str, method: str, args: dict[str, Any]) -> Any:
    """One call over a connected TLS socket; the node's error is raised as its class."""
    body = encode_args(args)
    sock.sendall(
        f"POST /{method} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
        + body
    )
    response = http.client.HTTPResponse(sock)
    response.begin()
    return decode_answer(response.read(), host)


def connect(
    address: str, port: int, context: ssl.SSLContext, name: str | None, timeout: float = 30
) -> ssl.SSLSocket:
    try:
        raw = socket.create_connection((address, port), timeout=timeout)
    except OSError as err:
        raise RpcError(f"cannot connect to {address}:{port}: {err.strerror or err}") from None
    try:
        return context.wrap_socket(raw, server_hostname=name)
    except (ssl.SSLError, OSError) as err:
        raw.close()
        raise RpcError(f"TLS with {address}:{port} failed: {err}") from None


class BlockingRpc:
    """Calls nodes with this node's cluster certificate (``server.pem``)."""

    def __init__(self, ca_pem: bytes, node_pem: bytes, port: int, timeout: float = 30) -> None:
        self.port = port
        self.timeout = timeout
        self._context = ssl.create_default_context(cadata=ca_pem.decode())
        with tempfile.NamedTemporaryFile(suffix=".pem") as handle:  # ssl wants a file
            Path(handle.name).write_bytes(node_pem)
            self._context.load_cert_chain(handle.name)

    def call(self, target: Target, method: str, args: dict[str, Any] | None = None) -> Any:
        """The result, or raise (RpcError for the transport, the node's error otherwise)."""
        with connect(target.address, self.port, self._context, target.name, self.timeout) as sock:
            try:
                return post(sock, target.name, method, args or {})
            except (OSError, http.client.HTTPException) as err:
                raise RpcError(f"node {target.name}: {err}") from None

    def call_many(
        self, targets: Iterable[Target], method: str, args: dict[str, Any] | None = None
    ) -> dict[str, Any | CorralError]:
        """Each node's result, or the error it gave, by name (in parallel)."""
        chosen = list(targets)

        def one(target: Target) -> Any | CorralError:
            try:
                return self.call(target, method, args)
            except CorralError as err:
                return err

        with ThreadPoolExecutor(max_workers=max(1, min(32, len(chosen)))) as pool:
            return dict(zip((t.name for t in chosen), pool.map(one, chosen), strict=True))
