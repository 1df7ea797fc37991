"""The master's config: one in-memory copy, changed only through :meth:`ConfigWriter.update`.

An update is a function from the current config to the new one. The writer
bumps the serial, checks the result (a bad change raises and changes
nothing), writes it atomically, then pushes the file to every other master
candidate and the ssconf values to every node, and only then returns: a job
is never told a change is done before the replicas have it. A node that
misses a push (down, partitioned) is remembered and brought up to date by
:meth:`ConfigWriter.catch_up`, which the master daemon runs periodically.

Large configs stay cheap to change: the check and the encoding redo only
the objects that changed (:class:`~corral.config.check.CheckMemo`,
:class:`~corral.config.store.DocumentEncoder`), both run in a thread, and
candidates get the encoded file as it is (a "document" RPC), never
re-encoded per node.

Writes are pipelined one deep: while one config is being pushed to the
nodes, the next batch of changes is checked and written here; its push
starts once the previous one ended, so nodes see the serials in order.
"""

from __future__ import annotations

import dataclasses
import hashlib
import time
from typing import TYPE_CHECKING

from twisted.internet import defer
from twisted.internet import threads
from twisted.logger import Logger

from corral import ssconf
from corral.api.errors import ConfigError
from corral.config.check import CheckMemo
from corral.config.check import check_config
from corral.config.store import DocumentEncoder
from corral.rpc.client import Target

if TYPE_CHECKING:
    from collections.abc import Awaitable
    from collections.abc import Callable
    from pathlib import Path

    import pluggy

    from corral.config.objects import ConfigData
    from corral.config.objects import Node
    from corral.config.store import ConfigStore
    from corral.plugins.registry import DriverRegistry
    from corral.rpc.client import NodeResult
    from corral.rpc.client import RpcClient

log = Logger()


def target(node: Node) -> Target:
    return Target(node.name, node.primary_ip, offline=node.offline)


@dataclasses.dataclass
class _Pending:
    """One caller's change, waiting for the write that includes it."""

    change: Callable[[ConfigData], ConfigData]
    feedback: Callable[[str], None] | None
    done: defer.Deferred[ConfigData]

    def fail(self, err: BaseException) -> None:
        if not self.done.called:
            self.done.errback(err)


class ConfigWriter:
    """Owns the config on the master; see the module docstring for the write path."""

    def __init__(
        self,
        cfg: ConfigData,
        store: ConfigStore,
        ssconf_dir: Path,
        rpc: RpcClient | None = None,
        registry: DriverRegistry | None = None,
        pm: pluggy.PluginManager | None = None,
        now: Callable[[], float] = time.time,
    ) -> None:
        self._cfg = cfg
        self._store = store
        self._ssconf_dir = ssconf_dir
        self._rpc = rpc
        self._registry = registry
        self._pm = pm
        self._now = now
        self._lock = defer.DeferredLock()
        #: Held while a config goes to the nodes: pushes never overtake each other.
        self._push_lock = defer.DeferredLock()
        #: Changes waiting for the next write, and whether a write loop runs.
        self._pending: list[_Pending] = []
        self._committing = False
        self._memo = CheckMemo()
        self._encoder = DocumentEncoder()
        #: The bytes of the file as last written (what catch-up pushes).
        self._data: bytes | None = None
        #: Nodes whose last push failed, by name, with why: what :meth:`catch_up` retries.
        self.behind: dict[str, str] = {}
        #: Awaited after each change is distributed, with the new config (e.g. the job
        #: queue replicator, which must give a new candidate the whole queue at once).
        self.listeners: list[Callable[[ConfigData], Awaitable[object]]] = []

    async def warm(self) -> None:
        """Check and encode the config once, so the first change costs no more than the next."""
        async with self._lock:
            cfg = self._cfg

            def prime() -> bytes:
                check_config(cfg, self._registry, self._pm, self._memo)
                return self._encoder.encode(cfg)

            self._data = await threads.deferToThread(prime)

    def file_digest(self) -> str | None:
        """SHA-256 of the config file as last written (what candidates must hold)."""
        return None if self._data is None else hashlib.sha256(self._data).hexdigest()

    @property
    def config(self) -> ConfigData:
        """The current config (immutable: read it, never keep it across an await)."""
        return self._cfg

    async def update(
        self,
        change: Callable[[ConfigData], ConfigData],
        feedback: Callable[[str], None] | None = None,
    ) -> ConfigData:
        """Apply ``change``, save and distribute the result; return it.

        Changes that arrive while a write is under way are committed together
        in the next one (group commit): each is applied in turn, the result is
        checked, written and distributed once, and every caller hears back
        only then. If the combined result fails the check, the changes are
        retried one by one, so only the bad one fails.
        """
        pending = _Pending(change, feedback, defer.Deferred())
        self._pending.append(pending)
        if not self._committing:
            self._committing = True
            defer.Deferred.fromCoroutine(self._commit_all()).addErrback(
                lambda f: log.failure("config commit loop failed", f)
            )
        new: ConfigData = await pending.done
        return new

    async def _commit_all(self) -> None:
        try:
            pushing: defer.Deferred[None] | None = None
            while self._pending:
                batch, self._pending = self._pending, []
                published = await self._commit(batch)
                if pushing is not None:
                    await pushing  # at most one push behind the writes
                pushing = published
        finally:
            self._committing = False

    async def _commit(self, batch: list[_Pending]) -> defer.Deferred[None] | None:
        """Apply, check and write ``batch``; the push to the nodes is returned, under way."""
        async with self._lock:
            cfg, taken = self._cfg, []
            for item in batch:
                try:
                    cfg = item.change(cfg)
                except Exception as err:
                    item.fail(err)
                else:
                    taken.append(item)
            if not taken:
                return None
            new = dataclasses.replace(cfg, serial_no=self._cfg.serial_no + 1, mtime=self._now())
            try:
                data, values = await self._check_and_save(new)
            except ConfigError as err:
                if len(taken) == 1:
                    taken[0].fail(err)
                    return None
                retry = taken  # find the culprit: one write per change
            except Exception as err:
                for item in taken:
                    item.fail(err)
                return None
            else:
                self._cfg, self._data = new, data
                # Queued for the push lock now, so pushes keep the order of the writes.
                return defer.Deferred.fromCoroutine(self._publish(new, data, values, taken))
        pushing: defer.Deferred[None] | None = None
        for item in retry:
            if pushing is not None:
                await pushing
            pushing = await self._commit([item])
        return pushing

    async def _publish(
        self, new: ConfigData, data: bytes, values: dict[str, str], taken: list[_Pending]
    ) -> None:
        """Push a written config to the nodes, run the listeners, then answer the callers."""

        def feedback(message: str) -> None:
            for item in taken:
                if item.feedback is not None:
                    item.feedback(message)

        try:
            async with self._push_lock:
                await self._distribute(new, data, values, feedback)
                for listener in self.listeners:
                    await listener(new)
        except Exception as err:
            for item in taken:
                item.fail(err)
            return
        for item in taken:
            if not item.done.called:  # the caller may have given up (a killed job)
                item.done.callback(new)

    async def _check_and_save(self, cfg: ConfigData) -> tuple[bytes, dict[str, str]]:
        """Check and encode (in a thread), then write the file and ssconf (in parallel)."""

        def check_and_encode() -> tuple[bytes, dict[str, str]]:
            problems = check_config(cfg, self._registry, self._pm, self._memo)
            if problems:
                raise ConfigError("the change would make the config inconsistent:", problems)
            return self._encoder.encode(cfg), ssconf.values_from_config(cfg)

        data, values = await threads.deferToThread(check_and_encode)
        written = threads.deferToThread(self._store.write, data)
        shared = threads.deferToThread(ssconf.write, self._ssconf_dir, values)
        try:
            await written
        finally:
            await shared
        return data, values

    def _others(self, cfg: ConfigData) -> list[Node]:
        return [n for uuid, n in cfg.nodes.items() if uuid != cfg.cluster.master_node]

    async def _push(
        self, cfg: ConfigData, data: bytes, values: dict[str, str], nodes: list[Node]
    ) -> dict[str, list[str]]:
        """Config to the candidates among ``nodes``, ssconf to all; what failed, by node."""
        assert self._rpc is not None
        candidates = [target(n) for n in nodes if n.master_candidate]
        configs, ssconfs = await defer.gatherResults(
            [
                defer.Deferred.fromCoroutine(
                    self._rpc.call_many(
                        candidates, "config_push", {"serial": cfg.serial_no}, document=data
                    )
                ),
                defer.Deferred.fromCoroutine(
                    self._rpc.call_many(
                        [target(n) for n in nodes], "ssconf_write", {"values": values}
                    )
                ),
            ]
        )
        failed: dict[str, list[str]] = {}
        for what, results in (("config", configs), ("ssconf", ssconfs)):
            result: NodeResult
            for name, result in results.items():
                if not result.ok:
                    failed.setdefault(name, []).append(f"{what}: {result.error}")
        return failed

    async def _distribute(
        self,
        cfg: ConfigData,
        data: bytes,
        values: dict[str, str],
        feedback: Callable[[str], None] | None,
    ) -> None:
        others = self._others(cfg)
        if self._rpc is None or not others:
            return
        failed = await self._push(cfg, data, values, others)
        for node in others:
            problems = failed.get(node.name)
            if not problems:
                self.behind.pop(node.name, None)
                continue
            self.behind[node.name] = "; ".join(problems)
            if node.offline:
                continue  # it gets the config when it is brought back online
            for problem in problems:
                what, _, error = problem.partition(": ")
                message = f"WARNING: could not update the {what} on node {node.name}: {error}"
                log.warn(message)
                if feedback is not None:
                    feedback(message)

    async def catch_up(self) -> dict[str, str]:
        """Push the current config to nodes that missed a push; returns those still behind."""
        if not self.behind or self._rpc is None:
            return dict(self.behind)
        async with self._lock:
            cfg = self._cfg
            if self._data is None:
                self._data = await threads.deferToThread(self._encoder.encode, cfg)
            by_name = {n.name: n for n in self._others(cfg)}
            for name in list(self.behind):
                if name not in by_name:  # removed from the cluster since
                    del self.behind[name]
            due = [by_name[name] for name in self.behind if not by_name[name].offline]
            if not due:
                return dict(self.behind)
            values = ssconf.values_from_config(cfg)
            async with self._push_lock:  # after the pushes under way, never between them
                failed = await self._push(cfg, self._data, values, due)
            for node in due:
                if node.name in failed:
                    self.behind[node.name] = "; ".join(failed[node.name])
                else:
                    log.info(
                        "node {name} caught up with config serial {serial}",
                        name=node.name,
                        serial=cfg.serial_no,
                    )
                    del self.behind[node.name]
        return dict(self.behind)
