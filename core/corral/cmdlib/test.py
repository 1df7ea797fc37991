"""Logical units for testing the job machinery (Ganeti's OP_TEST_*)."""

from __future__ import annotations

from typing import TYPE_CHECKING
from typing import Any

from twisted.internet import task

from corral.api.errors import OpExecError
from corral.api.errors import OpPrereqError
from corral.cmdlib.base import LockSpec
from corral.cmdlib.base import LogicalUnit

if TYPE_CHECKING:
    from corral.locking import Level


class LUTestDelay(LogicalUnit):
    """Sleep on the master (and, later, on nodes): ``gnt-debug delay``."""

    OP_ID = "OP_TEST_DELAY"
    REQ_BGL = False
    IDEMPOTENT = True  # a sleep: running it again after a crash changes nothing

    def check_arguments(self) -> None:
        if self.op.on_nodes or self.op.on_node_uuids:
            # Sleeping on nodes is a node-daemon RPC; the node daemon is not there yet.
            raise OpPrereqError(
                "OP_TEST_DELAY: delays on nodes need the node daemons, which this corral"
                " does not run yet; run the delay on the master only (no node names)"
            )
        if not self.op.on_master:
            raise OpPrereqError("OP_TEST_DELAY: nothing to do (on_master is false, no nodes)")

    def declare_locks(self) -> dict[Level, LockSpec]:
        return {}

    async def execute(self) -> Any:
        if self.op.duration < 0:
            raise OpExecError(f"test delay failed on request (duration {self.op.duration} < 0)")
        rounds = self.op.repeat + 1
        for index in range(rounds):
            if rounds > 1:
                self.feedback(f"Test delay iteration {index + 1}/{rounds}")
            if self.op.duration > 0:
                await task.deferLater(self.ctx.clock, self.op.duration, lambda: None)
        return None
