"""Copying the job queue to the master candidates, before a job is acknowledged.

Every change to the queue directory (a job file written, the id serial
raised, a job archived, the drain flag set) is an operation that the
master applies locally and then sends to every candidate; the caller (for
a submission: the client waiting for its job id) hears back only once the
candidates answered. Operations queued while a send is in flight go
together in the next one, so a busy queue costs one round trip per batch,
not per job. A candidate that misses an operation stops getting single
operations and is sent the whole queue by :meth:`QueueReplicator.catch_up`
instead (the master daemon runs it periodically), so a replica is never a
queue with holes.

On the candidate the operations land in its own ``queue`` directory,
where a master failover finds them (see ``corral.noded.methods``).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING
from typing import Any

from twisted.internet import defer
from twisted.internet import threads
from twisted.logger import Logger

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from corral.rpc.client import RpcClient
    from corral.rpc.client import Target

log = Logger()

#: The files of a queue directory that replicas hold (relative paths).
QUEUE_PATH = re.compile(r"^(job-[0-9]+|serial|drain|archive/[0-9]+/job-[0-9]+)$")


def write_op(path: str, data: bytes) -> dict[str, Any]:
    return {"op": "write", "path": path, "data": data.decode()}


def rename_op(source: str, target: str) -> dict[str, Any]:
    return {"op": "rename", "path": source, "to": target}


def remove_op(path: str) -> dict[str, Any]:
    return {"op": "remove", "path": path}


def coalesce(ops: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``ops`` without writes that a later write of the same file in the batch replaces.

    A busy job is often written several times while one batch is under
    way; the candidate needs only its newest file. Any operation other
    than a write (rename, remove, reset) keeps everything before it, so
    the order of what remains never changes the outcome.
    """
    kept: list[dict[str, Any] | None] = []
    last_write: dict[str, int] = {}
    for op in ops:
        if op["op"] == "write":
            earlier = last_write.get(op["path"])
            if earlier is not None:
                kept[earlier] = None
            last_write[op["path"]] = len(kept)
        else:
            last_write.clear()
        kept.append(op)
    return [op for op in kept if op is not None]


def snapshot(queue_dir: Path) -> list[dict[str, Any]]:
    """Operations that recreate the whole queue directory (blocking)."""
    ops: list[dict[str, Any]] = [{"op": "reset"}]
    for path in sorted(queue_dir.rglob("*")):
        relative = path.relative_to(queue_dir).as_posix()
        if path.is_file() and QUEUE_PATH.match(relative):
            ops.append(write_op(relative, path.read_bytes()))
    return ops


class QueueReplicator:
    """Sends queue operations to the candidates that ``targets()`` names, in batches."""

    def __init__(
        self,
        rpc: RpcClient,
        targets: Callable[[], list[Target]],
        queue_dir: Path,
        timeout: float = 15.0,
    ) -> None:
        self._rpc = rpc
        self._targets = targets
        self._queue_dir = queue_dir
        self.timeout = timeout
        self._pending: list[tuple[dict[str, Any], defer.Deferred[None]]] = []
        self._sending = False
        #: One send at a time: a batch, or a whole-queue catch-up.
        self._lock = defer.DeferredLock()
        #: Candidates that missed an operation, by name: they get the whole queue next.
        self.behind: dict[str, str] = {}
        #: Candidates that hold the whole queue (got a snapshot and every operation since).
        self._in_step: set[str] = set()

    def replicate(self, op: dict[str, Any]) -> defer.Deferred[None]:
        """Send ``op`` to the candidates; fires once they answered (it never fails)."""
        done: defer.Deferred[None] = defer.Deferred()
        self._pending.append((op, done))
        if not self._sending:
            self._sending = True
            defer.Deferred.fromCoroutine(self._send())
        return done

    async def _send(self) -> None:
        try:
            while self._pending:
                async with self._lock:
                    batch, self._pending = self._pending, []
                    await self._push(coalesce([op for op, _ in batch]))
                for _, done in batch:
                    done.callback(None)
        finally:
            self._sending = False

    async def _push(self, ops: list[dict[str, Any]]) -> None:
        targets = []
        for target in self._targets():
            if target.name not in self._in_step:
                self.behind.setdefault(target.name, "a new candidate: it gets the whole queue")
            elif target.name not in self.behind:
                targets.append(target)
        if not targets:
            return
        results = await self._rpc.call_many(
            targets, "jobqueue_update", {"ops": ops}, timeout=self.timeout
        )
        for name, result in results.items():
            if not result.ok and not result.offline:
                log.warn(
                    "job queue replica on {node} fell behind: {error}",
                    node=name,
                    error=result.error,
                )
                self.behind[name] = result.error or "unknown error"
                self._in_step.discard(name)

    async def catch_up(self) -> dict[str, str]:
        """Send the whole queue to candidates that fell behind; returns those still behind.

        No batch goes out meanwhile: operations applied after the snapshot
        wait, and reach every candidate, the caught-up one included, after it.
        """
        async with self._lock:
            current = {t.name: t for t in self._targets()}
            self._in_step &= current.keys()
            for name in current.keys() - self._in_step:
                self.behind.setdefault(name, "a new candidate: it gets the whole queue")
            for name in list(self.behind):
                if name not in current:
                    del self.behind[name]
            due = [current[name] for name in self.behind if not current[name].offline]
            if not due:
                return dict(self.behind)
            ops = await threads.deferToThread(snapshot, self._queue_dir)
            results = await self._rpc.call_many(due, "jobqueue_update", {"ops": ops}, timeout=120)
            for target in due:
                if results[target.name].ok:
                    log.info("job queue replica on {node} caught up", node=target.name)
                    del self.behind[target.name]
                    self._in_step.add(target.name)
            return dict(self.behind)
