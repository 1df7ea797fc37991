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
from corral.query import cluster
from corral.query import groups
from corral.query import instances
from corral.query import nodes
from corral.query.fields import names_filter
from corral.query.fields import plain_rows

if TYPE_CHECKING:
    from collections.abc import Awaitable
    from collections.abc import Callable
    from pathlib import Path

    from corral.jobs.queue import JobQueue
    from corral.masterd.context import MasterContext
    from corral.query.fields import Resource


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

    def __init__(
        self, queue: JobQueue, watcher_pause_file: Path, master: MasterContext | None = None
    ) -> None:
        self._queue = queue
        self._pause_file = watcher_pause_file
        self._master = master
        self._resources: dict[str, Resource[Any]] = {}
        if master is not None:
            self._resources = {
                "node": nodes.resource(master),
                "instance": instances.resource(master),
                "group": groups.resource(master),
            }
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
            "Query": self._query,
            "QueryFields": self._query_fields,
            "QueryNodes": functools.partial(self._legacy_query, "node"),
            "QueryInstances": functools.partial(self._legacy_query, "instance"),
            "QueryGroups": functools.partial(self._legacy_query, "group"),
            "QueryClusterInfo": self._cluster_info,
            "QueryConfigValues": self._config_values,
            "QueryTags": self._tags,
        }
        #: (required, all) positional parameter names per method, worked out once.
        self._arity = {name: _positional(func) for name, func in self._methods.items()}

    async def call(self, method: str, args: list[Any]) -> Any:
        func = self._methods.get(method)
        if func is None:
            close = difflib.get_close_matches(method, self._methods, n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise LuxiError(f"unknown LUXI method {method!r}{hint}")
        required, positional = self._arity[method]
        if not len(required) <= len(args) <= len(positional):
            raise LuxiError(
                f"{method} takes {len(required)} argument(s) ({', '.join(positional)}),"
                f" got {len(args)}"
            )
        result = func(*args)
        if inspect.isawaitable(result):
            result = await result
        return result

    # -- queries ---------------------------------------------------------------------

    def _cluster(self) -> MasterContext:
        if self._master is None:
            raise OpPrereqError(
                "this master daemon runs without a cluster config: create one with"
                " 'gnt-cluster init'"
            )
        return self._master

    def _resource(self, what: Any) -> Resource[Any]:
        self._cluster()
        resource = self._resources.get(what)
        if resource is None:
            known = ", ".join(sorted(self._resources))
            raise OpPrereqError(f"cannot query {what!r}: known resources are {known}")
        return resource

    async def _query(self, what: Any, fields: Any, qfilter: Any = None) -> dict[str, Any]:
        return await self._resource(what).query(fields, qfilter)

    def _query_fields(self, what: Any, fields: Any = None) -> dict[str, Any]:
        if fields is not None and not isinstance(fields, list):
            raise OpPrereqError("QueryFields takes a list of field names (or null for all)")
        return self._resource(what).query_fields(fields)

    async def _legacy_query(
        self, what: str, names: Any, fields: Any, use_locking: Any = False
    ) -> list[list[Any]]:
        """Ganeti's QueryNodes/QueryInstances/QueryGroups: plain values, unknown names fail."""
        if names is not None and (
            not isinstance(names, list) or not all(isinstance(n, str) for n in names)
        ):
            raise OpPrereqError(f"Query{what.title()}s takes a list of names")
        answer = await self._resource(what).query(
            fields, names_filter(names), missing_ok=False, wanted=names
        )
        return plain_rows(answer)

    def _cluster_info(self) -> dict[str, Any]:
        return cluster.cluster_info(self._cluster())

    def _config_values(self, names: Any) -> list[Any]:
        return cluster.config_values(
            self._cluster(), names, self._queue.drained, self._watcher_pause()
        )

    def _tags(self, kind: Any, name: Any = None) -> list[str]:
        return cluster.tags(self._cluster().config, kind, name)

    def _watcher_pause(self) -> float | None:
        try:
            until = float(self._pause_file.read_text().strip())
        except (OSError, ValueError):
            return None
        return until if until > time.time() else None

    # -- watcher -----------------------------------------------------------------------

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
