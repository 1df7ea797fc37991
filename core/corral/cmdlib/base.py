"""The logical-unit contract, kept from Ganeti: arguments, locks, prerequisites, execution.

The processor calls, in order: :meth:`LogicalUnit.check_arguments` (no
cluster state), :meth:`~LogicalUnit.declare_locks` (what to lock, level by
level), then with those locks held :meth:`~LogicalUnit.check_prereq`
(against the config and live nodes: nothing may change yet), the
``corral_opcode_pre`` hooks, :meth:`~LogicalUnit.execute`, and the
``corral_opcode_post`` hooks. Locks are released whatever happens.
"""

from __future__ import annotations

from abc import ABC
from abc import abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING
from typing import Any
from typing import ClassVar

from corral.api.errors import CorralError
from corral.api.errors import OpPrereqError

if TYPE_CHECKING:
    from collections.abc import Callable

    from twisted.internet.interfaces import IReactorTime

    from corral.locking import Level
    from corral.locking import LockManager
    from corral.locking import _AllNames
    from corral.masterd.context import MasterContext
    from corral.opcodes import OpCode

#: Every LU class by the OP_ID it carries out.
LU_CLASSES: dict[str, type[LogicalUnit]] = {}

#: What an LU wants locked at one level: names, ALL, and whether shared.
LockSpec = tuple["list[str] | _AllNames", bool]


@dataclass
class LUContext:
    """What an LU may use: the clock, the lock manager, and the job's log.

    ``feedback(message)`` appends a line to the job's log, which
    ``gnt-job watch`` and the submitting command print as it runs;
    ``locked()`` is called, and awaited if it returns an awaitable, once the
    opcode holds its locks and before anything is checked or changed (the
    job queue records the opcode as running).
    """

    clock: IReactorTime
    locks: LockManager
    job_id: int
    feedback: Callable[[str], None]
    locked: Callable[[], object] = lambda: None


class LogicalUnit(ABC):
    """Base of every LU; subclasses set ``OP_ID`` and are registered by that."""

    OP_ID: ClassVar[str]
    #: Whether the LU needs the cluster lock exclusively (it changes cluster-wide
    #: state); most LUs hold it shared, so they run alongside each other.
    REQ_BGL: ClassVar[bool] = True
    #: Whether running the opcode twice does no harm. Then it may start before
    #: the job queue has durably recorded it as running (a crash in between
    #: only means it runs again), which saves a disk sync per opcode.
    IDEMPOTENT: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        op_id = getattr(cls, "OP_ID", None)
        if op_id is None:
            return
        if op_id in LU_CLASSES:
            raise CorralError(f"two logical units for {op_id}: {LU_CLASSES[op_id]} and {cls}")
        LU_CLASSES[op_id] = cls

    def __init__(self, ctx: LUContext, op: OpCode, master: MasterContext | None = None) -> None:
        self.ctx = ctx
        self.op = op
        self._master = master

    @property
    def master(self) -> MasterContext:
        """The cluster (config and node RPC); an error in a daemon that has none."""
        if self._master is None:
            raise OpPrereqError(
                f"{self.OP_ID} needs a cluster, and this master daemon runs without a cluster"
                " config: create one with 'gnt-cluster init'"
            )
        return self._master

    def check_arguments(self) -> None:  # noqa: B027 - an optional step
        """Checks that need no cluster state (beyond the opcode schema's)."""

    def declare_locks(self) -> dict[Level, LockSpec]:
        """Locks to take below the cluster lock, by level (none by default)."""
        return {}

    async def check_prereq(self) -> None:  # noqa: B027 - an optional step
        """Checks against the cluster, with the locks held; change nothing here."""

    @abstractmethod
    async def execute(self) -> Any:
        """Do the work; the return value is the opcode's result (JSON)."""

    def cleanup(self) -> None:  # noqa: B027 - an optional step
        """Give back what the LU holds besides locks (resource reservations), however it ended."""

    def hooks_env(self) -> dict[str, str]:
        """The GANETI_* environment the opcode's hooks see."""
        return {"GANETI_OP_CODE": self.op.OP_ID}

    def hooks_nodes(self) -> list[str]:
        """Nodes besides the master whose hook scripts run too (Ganeti's BuildHooksNodes).

        Asked after the prerequisite checks (for the pre phase) and again after
        execution (for the post phase), so it may name what the LU chose.
        """
        names = []
        node = getattr(self.op, "node_name", None)
        if isinstance(node, str) and self._master is not None:
            found = self._master.config.node_by_name(node)
            if found is not None:
                names.append(found.name)
        return names

    def feedback(self, message: str) -> None:
        self.ctx.feedback(message)
