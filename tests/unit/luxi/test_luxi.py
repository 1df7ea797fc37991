"""LUXI over a real UNIX socket: framing, errors as replies, oversized requests, order."""

from __future__ import annotations

import json
import socket
from typing import Any

import pytest
from twisted.internet import defer
from twisted.internet import endpoints
from twisted.internet import threads

from corral.api import OpPrereqError
from corral.luxi.client import Client
from corral.luxi.protocol import EOM
from corral.luxi.protocol import LuxiError
from corral.luxi.server import LuxiServerFactory
from corral.testing import async_test


class Echo:
    """A handler: echoes, fails on request, or waits."""

    def __init__(self, reactor) -> None:
        self.reactor = reactor
        self.calls: list[str] = []

    async def call(self, method: str, args: list[Any]) -> Any:
        self.calls.append(method)
        if method == "Echo":
            return args
        if method == "Refuse":
            raise OpPrereqError(f"instance {args[0]} does not exist")
        if method == "Sleep":
            d: defer.Deferred[None] = defer.Deferred()
            self.reactor.callLater(args[0], d.callback, None)
            await d
            return "slept"
        if method == "Broken":
            raise RuntimeError("boom")
        raise LuxiError(f"unknown method {method!r}")


@pytest.fixture
def server(reactor, tmp_path):
    path = tmp_path / "master.sock"
    handler = Echo(reactor)
    endpoint = endpoints.UNIXServerEndpoint(reactor, str(path))
    port = []

    d = endpoint.listen(LuxiServerFactory(handler, max_message=4096))
    d.addCallback(port.append)
    yield path, handler
    for p in port:
        p.stopListening()


def in_thread(func, *args):
    return threads.deferToThread(func, *args)


def call(path, method, *args):
    with Client(path) as client:
        return client.call(method, *args)


@async_test
async def test_call_and_result(server) -> None:
    path, _ = server
    assert await in_thread(call, path, "Echo", 1, "two", [3]) == [1, "two", [3]]


@async_test
async def test_errors_come_back_as_their_class(server) -> None:
    path, _ = server

    def refuse():
        with pytest.raises(OpPrereqError, match="instance web9 does not exist"):
            call(path, "Refuse", "web9")
        with pytest.raises(LuxiError, match="unknown method 'Nope'"):
            call(path, "Nope")
        with pytest.raises(LuxiError, match="internal error in Broken: boom"):
            call(path, "Broken")

    await in_thread(refuse)


def raw_exchange(path, payload: bytes) -> bytes:
    with socket.socket(socket.AF_UNIX) as sock:
        sock.settimeout(5)
        sock.connect(str(path))
        sock.sendall(payload)
        data = b""
        while not data.endswith(EOM):
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
        return data


@async_test
async def test_malformed_requests_get_clear_errors_and_the_server_goes_on(server) -> None:
    path, handler = server
    cases = {
        b"{not json": "the request is not valid JSON",
        b"[1, 2]": "must be a JSON object",
        b'{"args": []}': "has no 'method'",
        b'{"method": "Echo", "args": 5}': "'args' must be a list, not int",
        b'{"method": "Echo", "args": [], "version": 1}': "version mismatch",
    }
    for payload, expected in cases.items():
        answer = json.loads((await in_thread(raw_exchange, path, payload + EOM))[:-1])
        assert answer["success"] is False
        assert answer["result"][0] == "ProtocolError" and expected in answer["result"][1][0]
    assert await in_thread(call, path, "Echo", "still here") == ["still here"]
    assert handler.calls == ["Echo"]


@async_test
async def test_oversized_request_is_refused_and_the_server_goes_on(server) -> None:
    path, _ = server
    answer = await in_thread(raw_exchange, path, b'{"method": "Echo", "args": ["' + b"x" * 10000)
    reply = json.loads(answer[:-1])
    assert reply["success"] is False and "larger than 4096 bytes" in reply["result"][1][0]
    assert await in_thread(call, path, "Echo", 1) == [1]


@async_test
async def test_pipelined_requests_are_answered_in_order(server) -> None:
    path, _ = server
    payload = b"".join(
        json.dumps({"method": m, "args": a}).encode() + EOM
        for m, a in [("Sleep", [0.2]), ("Echo", ["fast"])]
    )

    def exchange():
        with socket.socket(socket.AF_UNIX) as sock:
            sock.settimeout(5)
            sock.connect(str(path))
            sock.sendall(payload)
            data = b""
            while data.count(EOM) < 2:
                data += sock.recv(65536)
            return [json.loads(part) for part in data.split(EOM) if part]

    first, second = await in_thread(exchange)
    assert first["result"] == "slept" and second["result"] == ["fast"]


@async_test
async def test_client_says_when_no_master_runs(tmp_path) -> None:
    def unreachable():
        with pytest.raises(
            LuxiError, match=r"cannot reach the master daemon at .*is corral-masterd"
        ):
            call(tmp_path / "nothing.sock", "Echo")

    await in_thread(unreachable)
