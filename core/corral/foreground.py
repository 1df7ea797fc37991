"""How every corral daemon runs: in the foreground, logging to standard error.

A service manager (or ``corral-daemon-util``) supervises it; SIGTERM and
SIGINT stop the reactor cleanly, and a daemon that cannot start says why
in one log line and exits with 1.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING
from typing import Any

from twisted.internet import defer
from twisted.internet import task
from twisted.logger import Logger
from twisted.logger import globalLogBeginner
from twisted.logger import textFileLogObserver

from corral.api.errors import CorralError

if TYPE_CHECKING:
    from collections.abc import Awaitable
    from collections.abc import Callable

log = Logger()


def run_daemon(name: str, serve: Callable[[Any], Awaitable[None]]) -> None:
    """Run ``serve(reactor)`` until the reactor stops; never returns."""
    globalLogBeginner.beginLoggingTo([textFileLogObserver(sys.stderr)], redirectStandardIO=False)
    os.umask(0o027)

    async def run(reactor: Any) -> None:
        try:
            await serve(reactor)
        except (CorralError, OSError) as err:
            log.error("{name} cannot start: {err}", name=name, err=err)
            raise SystemExit(1) from None

    task.react(lambda reactor: defer.Deferred.fromCoroutine(run(reactor)))
