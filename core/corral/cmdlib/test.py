"""Logical units for testing the job machinery (Ganeti's OP_TEST_*)."""

from __future__ import annotations

from typing import Any

from twisted.internet import task

from corral.api.errors import OpExecError
from corral.api.errors import OpPrereqError
from corral.cmdlib.base import LockSpec
from corral.cmdlib.base import LogicalUnit
from corral.locking import Level


class LUTestDelay(LogicalUnit):
    """Sleep on the master and on nodes (``gnt-debug delay``): exercises locks and RPC."""

    OP_ID = "OP_TEST_DELAY"
    REQ_BGL = False
    IDEMPOTENT = True  # a sleep: running it again after a crash changes nothing

    def check_arguments(self) -> None:
        if not self.op.on_master and not (self.op.on_nodes or self.op.on_node_uuids):
            raise OpPrereqError("OP_TEST_DELAY: nothing to do (on_master is false, no nodes)")
        self._node_uuids: list[str] = []

    def declare_locks(self) -> dict[Level, LockSpec]:
        if self.op.on_nodes or self.op.on_node_uuids:
            cfg = self.master.config
            uuids = list(self.op.on_node_uuids or [])
            unknown = [u for u in uuids if u not in cfg.nodes]
            for name in self.op.on_nodes or []:
                node = cfg.node_by_name(name)
                if node is None:
                    unknown.append(name)
                else:
                    uuids.append(node.uuid)
            if unknown:
                raise OpPrereqError(f"OP_TEST_DELAY: unknown node(s) {', '.join(unknown)}")
            self._node_uuids = sorted(set(uuids))
        if self.op.no_locks or not self._node_uuids:
            return {}
        return {Level.NODE: (self._node_uuids, False)}

    async def execute(self) -> Any:
        if self.op.duration < 0:
            raise OpExecError(f"test delay failed on request (duration {self.op.duration} < 0)")
        rounds = self.op.repeat + 1
        for index in range(rounds):
            if rounds > 1:
                self.feedback(f"Test delay iteration {index + 1}/{rounds}")
            if self.op.on_master and self.op.duration > 0:
                await task.deferLater(self.ctx.clock, self.op.duration, lambda: None)
            if self._node_uuids:
                await self._on_nodes()
        return None

    async def _on_nodes(self) -> None:
        cfg = self.master.config
        nodes = [cfg.nodes[u] for u in self._node_uuids if u in cfg.nodes]
        results = await self.master.rpc.call_many(
            self.master.targets(nodes),
            "test_delay",
            {"duration": self.op.duration},
            timeout=self.op.duration + 30,
        )
        failed = [f"{name}: {r.error}" for name, r in sorted(results.items()) if not r.ok]
        if failed:
            raise OpExecError("test delay failed on node(s): " + "; ".join(failed))
