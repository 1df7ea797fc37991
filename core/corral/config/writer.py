"""The master's config: one in-memory copy, changed only through :meth:`ConfigWriter.update`.

An update is a function from the current config to the new one. The writer
bumps the serial, checks the result (a bad change raises and changes
nothing), writes it atomically, then pushes it to every other master
candidate and the ssconf values to every node, and only then returns: a job
is never told a change is done before the replicas have it. A node that
misses a push (down, partitioned) is remembered and brought up to date by
:meth:`ConfigWriter.catch_up`, which the master daemon runs periodically.
"""

from __future__ import annotations

import dataclasses
import time
from typing import TYPE_CHECKING
from typing import Any

from twisted.internet import defer
from twisted.internet import threads
from twisted.logger import Logger

from corral import ssconf
from corral.api.errors import ConfigError
from corral.config.check import check_config
from corral.config.store import encode_document
from corral.config.store import to_document
from corral.rpc.client import Target

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    import pluggy

    from corral.config.objects import ConfigData
    from corral.config.objects import Node
    from corral.config.store import ConfigStore
    from corral.plugins.registry import DriverRegistry
    from corral.rpc.client import RpcClient

log = Logger()


def target(node: Node) -> Target:
    return Target(node.name, node.primary_ip, offline=node.offline)


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
        #: Nodes whose last push failed, by name: what :meth:`catch_up` retries.
        self.behind: dict[str, str] = {}

    @property
    def config(self) -> ConfigData:
        """The current config (immutable: read it, never keep it across an await)."""
        return self._cfg

    @property
    def this_node(self) -> Node:
        return self._cfg.nodes[self._cfg.cluster.master_node]

    async def update(
        self,
        change: Callable[[ConfigData], ConfigData],
        feedback: Callable[[str], None] | None = None,
    ) -> ConfigData:
        """Apply ``change``, save and distribute the result; return it."""
        async with self._lock:
            old = self._cfg
            stamp = self._now()
            new = dataclasses.replace(change(old), serial_no=old.serial_no + 1, mtime=stamp)
            problems = check_config(new, self._registry, self._pm)
            if problems:
                raise ConfigError("the change would make the config inconsistent:", problems)
            data = await threads.deferToThread(self._save, new)
            self._cfg = new
            await self._distribute(new, data, feedback)
            return new

    def _save(self, cfg: ConfigData) -> dict[str, Any]:
        """Write the master's own file and ssconf; return the document pushed to candidates."""
        document = to_document(cfg)
        self._store.write(encode_document(document))
        ssconf.write(self._ssconf_dir, ssconf.values_from_config(cfg))
        return document

    async def _distribute(
        self, cfg: ConfigData, document: dict[str, Any], feedback: Callable[[str], None] | None
    ) -> None:
        if self._rpc is None:
            return
        master = cfg.cluster.master_node
        others = [n for uuid, n in cfg.nodes.items() if uuid != master]
        if not others:
            return
        values = ssconf.values_from_config(cfg)
        candidates = [target(n) for n in others if n.master_candidate]
        configs, ssconfs = await defer.gatherResults(
            [
                defer.Deferred.fromCoroutine(
                    self._rpc.call_many(
                        candidates, "config_push", {"serial": cfg.serial_no, "config": document}
                    )
                ),
                defer.Deferred.fromCoroutine(
                    self._rpc.call_many(
                        [target(n) for n in others], "ssconf_write", {"values": values}
                    )
                ),
            ]
        )
        for node in others:
            failed = [
                (what, result)
                for what, result in (
                    ("config", configs.get(node.name)),
                    ("ssconf", ssconfs[node.name]),
                )
                if result is not None and not result.ok
            ]
            if not failed:
                self.behind.pop(node.name, None)
                continue
            self.behind[node.name] = "; ".join(f"{r.error}" for _, r in failed)
            if node.offline:
                continue  # it gets the config when it is brought back online
            for what, result in failed:
                message = (
                    f"WARNING: could not update the {what} on node {node.name}: {result.error}"
                )
                log.warn(message)
                if feedback is not None:
                    feedback(message)

    async def catch_up(self) -> dict[str, str]:
        """Push the current config to every node that missed a push; returns those still behind."""
        if not self.behind or self._rpc is None:
            return dict(self.behind)
        async with self._lock:
            cfg = self._cfg
            document = await threads.deferToThread(to_document, cfg)
            values = ssconf.values_from_config(cfg)
            by_name = {n.name: n for n in cfg.nodes.values()}
            for name in list(self.behind):
                node = by_name.get(name)
                if node is None:  # removed from the cluster since
                    del self.behind[name]
                    continue
                if node.offline:
                    continue
                calls: list[tuple[str, dict[str, Any]]] = [("ssconf_write", {"values": values})]
                if node.master_candidate:
                    calls.insert(0, ("config_push", {"serial": cfg.serial_no, "config": document}))
                for method, args in calls:
                    result = await self._rpc.call(target(node), method, args)
                    if not result.ok:
                        self.behind[name] = result.error or "unknown error"
                        break
                else:
                    log.info(
                        "node {name} caught up with config serial {serial}",
                        name=name,
                        serial=cfg.serial_no,
                    )
                    del self.behind[name]
        return dict(self.behind)
