"""``gnt-instance migrate|failover`` and ``gnt-node migrate|evacuate``.

The node LUs move every instance of a node, one after the other, through
the same steps as the instance LUs (:mod:`corral.cmdlib.migration`); the
first failure stops them, with what was already moved said in the log.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from typing import Any

from corral.api.errors import OpPrereqError
from corral.cmdlib import instance_common as ic
from corral.cmdlib import migration
from corral.cmdlib.base import LogicalUnit
from corral.cmdlib.instance_lifecycle import InstanceLU
from corral.cmdlib.instance_lifecycle import running_record
from corral.config import objects as o
from corral.locking import ALL
from corral.locking import Level
from corral.plugins.kinds import DriverKind

if TYPE_CHECKING:
    from corral.cmdlib.base import LockSpec


class _MoveLU(InstanceLU):
    """Locks every node: the target may be chosen by an allocator."""

    def declare_locks(self) -> dict[Level, LockSpec]:
        locks = super().declare_locks()
        locks[Level.NODE] = (ALL, False)
        return locks


class LUInstanceMigrate(_MoveLU):
    OP_ID = "OP_INSTANCE_MIGRATE"

    async def check_prereq(self) -> None:
        await super().check_prereq()
        inst, op = self.inst, self.op
        migration.check_movable(self, inst, "migration")
        hv = self.master.registry.driver_class(DriverKind.HYPERVISOR, inst.hypervisor)
        running = await running_record(self.master, inst) is not None
        problem = None
        if not running:
            problem = f"Instance {inst.name} is not running: it cannot be migrated"
        elif not getattr(hv, "CAN_MIGRATE", False):
            problem = f"Hypervisor {inst.hypervisor} cannot migrate instances"
        if problem and not op.allow_failover:
            raise OpPrereqError(f"{problem} (use --allow-failover to fail it over instead)")
        self.failover = problem is not None
        self.target = await migration.choose_target(self, inst, op.target_node, op.iallocator)
        await migration.check_target(self, inst, self.target, op.ignore_ipolicy, True)
        self.live = migration.live_mode(self, inst, op.mode, op.live)

    async def execute(self) -> Any:
        if self.failover:
            self.feedback(f"Instance {self.inst.name} cannot be migrated: failing it over")
            await migration.failover(self, self.inst, self.target, 120, False)
        else:
            await migration.migrate(self, self.inst, self.target, self.live)
        return None


class LUInstanceFailover(_MoveLU):
    OP_ID = "OP_INSTANCE_FAILOVER"

    async def check_prereq(self) -> None:
        await super().check_prereq()
        inst, op = self.inst, self.op
        migration.check_movable(self, inst, "failover")
        self.target = await migration.choose_target(self, inst, op.target_node, op.iallocator)
        await migration.check_target(
            self, inst, self.target, op.ignore_ipolicy, inst.admin_state == o.AdminState.UP
        )

    async def execute(self) -> Any:
        await migration.failover(
            self, self.inst, self.target, self.op.shutdown_timeout, self.op.ignore_consistency
        )
        return None


class _NodeMoveLU(LogicalUnit):
    """Moves the instances of one node; locks them and every node."""

    REQ_BGL = False

    def declare_locks(self) -> dict[Level, LockSpec]:
        cfg = self.master.config
        node = ic.lookup_node(cfg, self.op.node_name)
        self.node_uuid = node.uuid
        names = sorted(i.name for i in self.instances(cfg, node))
        locks: dict[Level, LockSpec] = {Level.NODE: (ALL, False)}
        if names:
            locks[Level.INSTANCE] = (names, False)
        return locks

    def instances(self, cfg: o.ConfigData, node: o.Node) -> list[o.Instance]:
        return sorted(
            (i for i in cfg.instances.values() if i.primary_node == node.uuid),
            key=lambda i: i.name,
        )

    async def check_prereq(self) -> None:
        cfg = self.master.config
        self.node = cfg.nodes[self.node_uuid]
        self.todo = self.instances(cfg, self.node)
        for inst in self.todo:
            migration.check_movable(self, inst, "migration")


class LUNodeMigrate(_NodeMoveLU):
    OP_ID = "OP_NODE_MIGRATE"

    async def execute(self) -> Any:
        op, done = self.op, []
        if not self.todo:
            self.feedback(f"No primary instances on node {self.node.name}, nothing to migrate")
        for inst in self.todo:
            current = self.master.config.instances[inst.uuid]
            target = await migration.choose_target(self, current, op.target_node, op.iallocator)
            await migration.check_target(self, current, target, op.ignore_ipolicy, True)
            if await running_record(self.master, current) is None:
                self.feedback(f"Instance {current.name} is not running: failing it over")
                await migration.failover(self, current, target, 120, False)
            else:
                live = migration.live_mode(self, current, op.mode, op.live)
                await migration.migrate(self, current, target, live)
            done.append([current.name, target.name])
        return done


class LUNodeEvacuate(_NodeMoveLU):
    OP_ID = "OP_NODE_EVACUATE"

    def instances(self, cfg: o.ConfigData, node: o.Node) -> list[o.Instance]:
        mode = self.op.mode or "all"
        wanted = []
        for inst in cfg.instances.values():
            primary = inst.primary_node == node.uuid
            secondary = node.uuid in inst.secondary_nodes
            if (mode in ("primary-only", "all") and primary) or (
                mode in ("secondary-only", "all") and secondary
            ):
                wanted.append(inst)
        return sorted(wanted, key=lambda i: i.name)

    async def check_prereq(self) -> None:
        cfg = self.master.config
        self.node = cfg.nodes[self.node_uuid]
        self.todo = self.instances(cfg, self.node)
        for inst in self.todo:
            if self.node.uuid in inst.secondary_nodes:
                raise OpPrereqError(
                    f"Instance {inst.name} has node {self.node.name} as secondary: changing a"
                    " secondary needs 'gnt-instance replace-disks', which corral lacks so far"
                )
            migration.check_movable(self, inst, "migration")

    async def execute(self) -> Any:
        op, done = self.op, []
        if not self.todo:
            self.feedback(f"No instances to evacuate from node {self.node.name}")
        for inst in self.todo:
            current = self.master.config.instances[inst.uuid]
            target = await migration.choose_target(self, current, op.remote_node, op.iallocator)
            await migration.check_target(self, current, target, False, True)
            if await running_record(self.master, current) is None:
                await migration.failover(self, current, target, 120, False)
            else:
                await migration.migrate(
                    self, current, target, migration.live_mode(self, current, None, None)
                )
            done.append([current.name, target.name])
        return done
