"""The LUXI server: framing, one request at a time per connection, errors as replies.

A malformed or oversized request gets an error reply naming the problem;
the daemon keeps serving. What a method does is up to the ``Handler``.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING
from typing import Any
from typing import Protocol

from twisted.internet import defer
from twisted.internet import protocol
from twisted.logger import Logger

from corral.api.errors import CorralError
from corral.luxi.protocol import EOM
from corral.luxi.protocol import MAX_MESSAGE
from corral.luxi.protocol import LuxiError
from corral.luxi.protocol import ProtocolError
from corral.luxi.protocol import encode_error
from corral.luxi.protocol import format_response
from corral.luxi.protocol import parse_request

if TYPE_CHECKING:
    from twisted.internet.interfaces import IAddress
    from twisted.python.failure import Failure

log = Logger()


class Handler(Protocol):
    """Carries out LUXI methods; raise a CorralError to answer with a failure."""

    async def call(self, method: str, args: list[Any]) -> Any: ...


class LuxiServerProtocol(protocol.Protocol):
    def __init__(self, handler: Handler, max_message: int = MAX_MESSAGE) -> None:
        self._handler = handler
        self._max = max_message
        self._buffer = bytearray()
        self._scanned = 0  # bytes of the buffer already searched for EOM
        self._pending: deque[bytes] = deque()
        self._current: defer.Deferred[None] | None = None

    def dataReceived(self, data: bytes) -> None:
        self._buffer += data
        while True:
            end = self._buffer.find(EOM, self._scanned)
            if end < 0:
                self._scanned = len(self._buffer)
                if self._scanned > self._max:
                    self._refuse_oversized()
                    return
                break
            message = bytes(self._buffer[:end])
            del self._buffer[: end + 1]
            self._scanned = 0
            if len(message) > self._max:
                self._refuse_oversized()
                return
            self._pending.append(message)
        self._serve_next()

    def _refuse_oversized(self) -> None:
        """Answer, then hang up: the rest of an oversized message cannot be told apart."""
        self._buffer.clear()
        self._pending.clear()
        err = ProtocolError(f"request larger than {self._max} bytes refused")
        assert self.transport is not None
        self.transport.write(format_response(False, encode_error(err)))
        self.transport.loseConnection()

    def _serve_next(self) -> None:
        if self._current is not None or not self._pending:
            return
        self._current = defer.Deferred.fromCoroutine(self._serve(self._pending.popleft()))
        self._current.addErrback(self._ignore_cancel)
        self._current.addBoth(self._served)

    def _served(self, _: object) -> None:
        self._current = None
        self._serve_next()

    @staticmethod
    def _ignore_cancel(failure: Failure) -> Failure | None:
        return None if isinstance(failure.value, defer.CancelledError) else failure

    async def _serve(self, message: bytes) -> None:
        method = "?"
        try:
            request = parse_request(message)
            method = request.method
            result = await self._handler.call(request.method, request.args)
            reply = format_response(True, result)
        except CorralError as err:
            reply = format_response(False, encode_error(err))
        except defer.CancelledError:
            raise
        except (TypeError, ValueError) as err:  # e.g. a result that is not JSON
            log.failure("LUXI {method} failed", method=method)
            reply = format_response(False, encode_error(LuxiError(f"{method}: {err}")))
        except Exception as err:
            log.failure("LUXI {method} failed", method=method)
            reply = format_response(
                False, encode_error(LuxiError(f"internal error in {method}: {err}"))
            )
        if self.transport is not None and self.connected:
            self.transport.write(reply)

    def connectionLost(self, reason: Failure = protocol.connectionDone) -> None:
        self._pending.clear()
        if self._current is not None:
            self._current.cancel()  # e.g. a WaitForJobChange whose client went away


class LuxiServerFactory(protocol.Factory):
    noisy = False  # no log line per connection

    def __init__(self, handler: Handler, max_message: int = MAX_MESSAGE) -> None:
        self.handler = handler
        self.max_message = max_message

    def buildProtocol(self, addr: IAddress | None) -> LuxiServerProtocol:
        return LuxiServerProtocol(self.handler, self.max_message)
