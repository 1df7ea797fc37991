"""Running child processes without blocking the reactor.

Drivers never call :mod:`subprocess`: slow commands (qemu-img, ip, dd, OS
scripts) go through the :class:`ProcessRunner` in their
:class:`~corral.api.context.DriverContext`, which tests can replace.

Cancelling a run (a killed job cancels the coroutine it runs in) stops
its child: nothing a job started outlives the job.
"""

from __future__ import annotations

import os
import signal
from dataclasses import dataclass
from typing import TYPE_CHECKING
from typing import Any

from twisted.internet import defer
from twisted.internet import error as tx_error
from twisted.internet import protocol

from corral.api.errors import CommandError

if TYPE_CHECKING:
    from collections.abc import Mapping
    from collections.abc import Sequence

    from twisted.internet.interfaces import IReactorProcess
    from twisted.internet.interfaces import IReactorTime
    from twisted.python.failure import Failure

#: Seconds a child has after SIGTERM (timeout or cancellation) before it gets SIGKILL.
KILL_GRACE = 5.0


@dataclass(frozen=True)
class ProcessResult:
    """What a finished child process left behind."""

    argv: list[str]
    exit_code: int | None  # None when killed by a signal (or by our timeout)
    stdout: str
    stderr: str
    timed_out: bool = False

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.timed_out

    def check(self) -> ProcessResult:
        """Return self, or raise :class:`CommandError` naming the command."""
        if not self.ok:
            raise CommandError(self.argv, self.exit_code, self.stdout, self.stderr)
        return self


class _Collector(protocol.ProcessProtocol):
    def __init__(self, stdin: bytes | None) -> None:
        self._stdin = stdin
        self._ended = False
        self._code: int | None = None
        self._waiters: list[defer.Deferred[int | None]] = []
        self._out: list[bytes] = []
        self._err: list[bytes] = []

    def connectionMade(self) -> None:
        assert self.transport is not None
        if self._stdin:
            self.transport.write(self._stdin)
        self.transport.closeStdin()

    def outReceived(self, data: bytes) -> None:
        self._out.append(data)

    def errReceived(self, data: bytes) -> None:
        self._err.append(data)

    def processEnded(self, reason: Failure) -> None:
        value = reason.value
        code: int | None = value.exitCode if isinstance(value, tx_error.ProcessTerminated) else 0
        if isinstance(value, tx_error.ProcessTerminated) and value.signal is not None:
            code = None
        self._ended, self._code = True, code
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            waiter.callback(code)

    def ended(self) -> defer.Deferred[int | None]:
        """The exit code once the child has ended and its pipes are closed.

        Each call gets a Deferred of its own, so that a cancelled wait can
        be followed by another one (while the child is being stopped).
        """
        if self._ended:
            return defer.succeed(self._code)
        waiter: defer.Deferred[int | None] = defer.Deferred()
        self._waiters.append(waiter)
        return waiter

    def output(self) -> tuple[str, str]:
        return (
            b"".join(self._out).decode("utf-8", "replace"),
            b"".join(self._err).decode("utf-8", "replace"),
        )


def _signal(transport: Any, sig: int) -> None:
    try:
        transport.signalProcess(sig)
    except tx_error.ProcessExitedAlready:
        pass


class ProcessRunner:
    """Spawns child processes on the reactor and collects their output."""

    def __init__(self, reactor: Any) -> None:
        self._reactor: IReactorProcess = reactor
        self._clock: IReactorTime = reactor

    async def run(
        self,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        cwd: str | None = None,
        stdin: bytes | None = None,
        timeout: float | None = None,
    ) -> ProcessResult:
        """Run ``argv`` to completion; a non-zero exit is a result, not an exception.

        ``env`` replaces the environment entirely (OS and hook scripts expect a
        controlled one); ``None`` inherits corral's. After ``timeout`` seconds
        the process gets SIGTERM, then SIGKILL :data:`KILL_GRACE` seconds later.

        Cancelled, the run stops the child the same way (SIGTERM, then
        SIGKILL; at once if cancelled again) and raises CancelledError only
        once the child is gone, so that whoever holds locks for it keeps
        them until then.
        """
        args = [str(a) for a in argv]
        proto = _Collector(stdin)
        environ = dict(os.environ) if env is None else dict(env)
        transport = self._reactor.spawnProcess(
            proto, args[0], args, env=environ, path=cwd, usePTY=False
        )
        timed_out = False
        calls = []
        if timeout is not None:

            def _kill(sig: int) -> None:
                nonlocal timed_out
                timed_out = True
                _signal(transport, sig)

            calls.append(self._clock.callLater(timeout, _kill, signal.SIGTERM))
            calls.append(self._clock.callLater(timeout + KILL_GRACE, _kill, signal.SIGKILL))
        try:
            code = await proto.ended()
        except defer.CancelledError:
            await self._stop(transport, proto)
            raise
        finally:
            for call in calls:
                if call.active():
                    call.cancel()
        out, err = proto.output()
        return ProcessResult(args, code, out, err, timed_out)

    async def _stop(self, transport: Any, proto: _Collector) -> None:
        """Terminate a child whose run was cancelled, and wait until it has ended.

        Our ends of its pipes are closed, so that a process it started and
        that keeps them open cannot hold the wait up.
        """
        _signal(transport, signal.SIGTERM)
        transport.loseConnection()
        escalation = self._clock.callLater(KILL_GRACE, _signal, transport, signal.SIGKILL)
        try:
            while True:
                try:
                    await proto.ended()
                    return
                except defer.CancelledError:
                    _signal(transport, signal.SIGKILL)  # cancelled again: no more grace
        finally:
            if escalation.active():
                escalation.cancel()
