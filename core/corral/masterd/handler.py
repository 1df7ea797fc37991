"""LUXI methods of the master daemon, with Ganeti's names and arguments."""

from __future__ import annotations

import difflib
import functools
import inspect
import time
from typing import TYPE_CHECKING
from typing import Any

from twisted.internet import threads

from corral.api.errors import OpPrereqError
from corral.atomicfile import write_atomically
from corral.luxi.protocol import LuxiError

if TYPE_CHECKING:
    from collections.abc import Awaitable
    from collections.abc import Callable
    from pathlib import Path

    from corral.jobs.queue import JobQueue


def _positional(func: Callable[..., Any]) -> tuple[list[str], list[str]]:
    """The names of ``func``'s required and of all its positional parameters."""
    params = [
        p
        for p in inspect.signature(func).parameters.values()
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]
    return [p.name for p in params if p.default is p.empty], [p.name for p in params]


class MasterHandler:
    """Dispatches LUXI requests to the job queue."""

    def __init__(self, queue: JobQueue, watcher_pause_file: Path) -> None:
        self._queue = queue
        self._pause_file = watcher_pause_file
        self._methods: dict[str, Callable[..., Awaitable[Any] | Any]] = {
            "SubmitJob": queue.submit,
            # Ganeti's watcher may submit while the queue is drained.
            "SubmitJobToDrainedQueue": functools.partial(queue.submit, ignore_drain=True),
            "SubmitManyJobs": queue.submit_many,
            "QueryJobs": queue.query,
            "WaitForJobChange": queue.wait_for_change,
            "CancelJob": queue.cancel,
            "ArchiveJob": queue.archive,
            "AutoArchiveJobs": queue.auto_archive,
            "ChangeJobPriority": queue.change_priority,
            "SetDrainFlag": queue.set_drain,
            "SetWatcherPause": self._set_watcher_pause,
        }
        #: (required, all) positional parameter names per method, worked out once.
        self._arity = {name: _positional(func) for name, func in self._methods.items()}

    async def call(self, method: str, args: list[Any]) -> Any:
        func = self._methods.get(method)
        if func is None:
            close = difflib.get_close_matches(method, self._methods, n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise LuxiError(f"unknown LUXI method {method!r}{hint}")
        positional = [
            p
            for p in inspect.signature(func).parameters.values()
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        ]
        required = [p.name for p in positional if p.default is p.empty]
        if not len(required) <= len(args) <= len(positional):
            names = ", ".join(p.name for p in positional)
            raise LuxiError(
                f"{method} takes {len(required)} argument(s) ({names}), got {len(args)}"
            )
        result = func(*args)
        if inspect.isawaitable(result):
            result = await result
        return result

    async def _set_watcher_pause(self, until: Any) -> Any:
        """Pause the watcher until a time (seconds since the epoch), or resume it (null)."""
        if until is None:
            await threads.deferToThread(self._pause_file.unlink, missing_ok=True)
            return None
        if not isinstance(until, int | float) or isinstance(until, bool) or until < time.time():
            raise OpPrereqError(f"the watcher pause must end in the future, not at {until!r}")
        data = f"{int(until)}\n".encode()
        await threads.deferToThread(write_atomically, self._pause_file, data, 0o644)
        return until
