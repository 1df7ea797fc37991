"""``gnt-instance change-group`` and ``gnt-group evacuate``: instances into other groups.

An allocator picks a node in one of the target groups (all other groups
when none are named); the instance then moves as its disks allow: a
migration (running) or failover (stopped) for disks every node reaches, a
copy (``gnt-instance move``) for node-local ones. Ganeti answers these
opcodes with jobs for the client to submit; corral moves the instances in
the opcode itself, one after the other, so one job tells the whole story
and a failure stops the rest with what was done in the log.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from typing import Any

from corral.api.errors import OpPrereqError
from corral.cmdlib import instance_common as ic
from corral.cmdlib import instance_copy
from corral.cmdlib import migration
from corral.cmdlib.base import LogicalUnit
from corral.cmdlib.instance_lifecycle import InstanceLU
from corral.cmdlib.instance_lifecycle import running_record
from corral.config.inheritance import effective_beparams
from corral.iallocator import builtin
from corral.iallocator import request as ia_request
from corral.iallocator import runner as ia_runner
from corral.locking import ALL
from corral.locking import Level
from corral.plugins.kinds import DriverKind

if TYPE_CHECKING:
    from corral.cmdlib.base import LockSpec
    from corral.config import objects as o


def target_groups(cfg: o.ConfigData, names: list[str] | None, current: str) -> list[str]:
    """UUIDs of the groups to move into: the named ones, else every other group."""
    if not names:
        others = sorted(u for u in cfg.nodegroups if u != current)
        if not others:
            raise OpPrereqError(
                "There is no other node group to move to ('gnt-group add' makes one)"
            )
        return others
    uuids = []
    for name in names:
        group = ic.lookup_group(cfg, name)
        if group.uuid == current:
            raise OpPrereqError(
                f"Can't use group {group.name} as a target: the instance is already in it"
            )
        uuids.append(group.uuid)
    return uuids


async def choose_node(
    lu: LogicalUnit, inst: o.Instance, groups: list[str], iallocator: str | None, copied: bool
) -> o.Node:
    """A node in one of ``groups`` for ``inst`` (``copied``: its disks are copied there)."""
    cfg, master = lu.master.config, lu.master
    nodes = [n for n in cfg.nodes.values() if n.group in groups]
    live = await ic.node_info(master, nodes, inst.hypervisor)
    data = ia_request.cluster_data(cfg, live, inst.hypervisor, master.reserved)
    name = ia_runner.resolve(iallocator, cfg.cluster.default_iallocator)
    if name == ia_runner.BUILTIN:
        be = effective_beparams(cfg.cluster, inst)
        disks = [{"size": d.size} for d in inst.disks]
        req = {
            "memory": be["maxmem"],
            "vcpus": be["vcpus"],
            "spindle_use": be["spindle_use"],
            "disk_template": inst.disk_template,
            "disk_space_total": ia_request.disk_space(inst.disk_template, disks),
        }
        chosen, why = builtin.choose(data, req, 1, groups=groups)
        if not chosen:
            raise OpPrereqError(f"No node of the target groups can take {inst.name}: {why}")
        node_name = chosen[0]
    elif copied:
        # Ganeti's change-group only moves instances whose disks follow them
        # (hail refuses plain and file ones); a copied instance is placed anew,
        # on the target groups' nodes
        spec = ia_request.instance_spec(cfg, inst)
        data["request"] = {
            "type": "allocate",
            "name": inst.name,
            **{k: spec[k] for k in ("disk_template", "tags", "os", "vcpus", "memory")},
            **{k: spec[k] for k in ("spindle_use", "disks", "disk_space_total", "hypervisor")},
            "nics": [],
            "required_nodes": 1,
            "restrict-to-nodes": [n.name for n in nodes],
        }
        node_name = (await ia_runner.run(name, data, master.registry))[0]
    else:
        data["request"] = {
            "type": "change-group",
            "instances": [inst.name],
            "target_groups": groups,
        }
        node_name = _moved_to(name, inst.name, await ia_runner.answer(name, data, master.registry))
    lu.feedback(f"Selected node {node_name} for instance {inst.name} via iallocator {name}")
    return ic.lookup_node(cfg, node_name)


def _moved_to(allocator: str, instance: str, result: Any) -> str:
    """The new primary from a change-group answer: ``[moved, failed, jobs]``."""
    try:
        moved, failed = result[0], result[1]
        for entry in failed:
            if entry[0] == instance:
                raise OpPrereqError(f"iallocator {allocator} cannot move {instance}: {entry[1]}")
        for entry in moved:
            if entry[0] == instance and entry[2]:
                return str(entry[2][0])
    except (TypeError, IndexError, KeyError):
        raise OpPrereqError(
            f"iallocator {allocator} answered with a bad change-group result: {result!r}"
        ) from None
    raise OpPrereqError(f"iallocator {allocator} found no move for {instance}")


async def relocate(
    lu: LogicalUnit, inst: o.Instance, groups: list[str], iallocator: str | None, failover: bool
) -> o.Node:
    """Move ``inst`` to a node of ``groups``; returns that node."""
    cls = lu.master.registry.driver_class(DriverKind.STORAGE, inst.disk_template)
    if getattr(cls, "MIRRORED", False):
        raise OpPrereqError(
            f"Instance {inst.name} has mirrored disks ({inst.disk_template}): moving it to another"
            " group needs 'gnt-instance replace-disks', which corral lacks so far"
        )
    copied = not getattr(cls, "SHARED", False)
    node = await choose_node(lu, inst, groups, iallocator, copied)
    running = await running_record(lu.master, inst) is not None
    await migration.check_target(lu, inst, node, False, running)
    if copied:
        await instance_copy.move(lu, inst, node, 120, False)
    elif running and not failover:
        await migration.migrate(lu, inst, node, migration.live_mode(lu, inst, None, None))
    else:
        await migration.failover(lu, inst, node, 120, False)
    return node


class LUInstanceChangeGroup(InstanceLU):
    OP_ID = "OP_INSTANCE_CHANGE_GROUP"

    def declare_locks(self) -> dict[Level, LockSpec]:
        locks = super().declare_locks()
        locks[Level.NODE] = (ALL, False)  # the allocator may choose any node
        return locks

    async def check_prereq(self) -> None:
        await super().check_prereq()
        cfg = self.master.config
        self.groups = target_groups(cfg, self.op.target_groups, self.pnode.group)

    async def execute(self) -> Any:
        node = await relocate(self, self.inst, self.groups, self.op.iallocator, False)
        return [[self.inst.name, node.group, [node.name]]]


def _members(cfg: o.ConfigData, group: str) -> list[o.Instance]:
    """The instances whose primary node is in ``group``, by name."""
    found = (i for i in cfg.instances.values() if cfg.nodes[i.primary_node].group == group)
    return sorted(found, key=lambda i: i.name)


class LUGroupEvacuate(LogicalUnit):
    OP_ID = "OP_GROUP_EVACUATE"
    REQ_BGL = False

    def declare_locks(self) -> dict[Level, LockSpec]:
        cfg = self.master.config
        group = ic.lookup_group(cfg, self.op.group_name)
        self.group_uuid = group.uuid
        names = [i.name for i in _members(cfg, group.uuid)]
        locks: dict[Level, LockSpec] = {Level.NODE: (ALL, False)}
        if names:
            locks[Level.INSTANCE] = (names, False)
        return locks

    async def check_prereq(self) -> None:
        cfg = self.master.config
        self.todo = sorted(
            (
                i
                for i in cfg.instances.values()
                if cfg.nodes[i.primary_node].group == self.group_uuid
            ),
            key=lambda i: i.name,
        )
        self.groups = target_groups(cfg, self.op.target_groups, self.group_uuid)

    async def execute(self) -> Any:
        done = []
        name = self.master.config.nodegroups[self.group_uuid].name
        if not self.todo:
            self.feedback(f"No instances in group {name}, nothing to evacuate")
        for index, inst in enumerate(self.todo, start=1):
            self.feedback(f"Moving instance {inst.name} ({index}/{len(self.todo)})")
            current = self.master.config.instances[inst.uuid]
            node = await relocate(
                self, current, self.groups, self.op.iallocator, self.op.force_failover
            )
            done.append([current.name, node.group, [node.name]])
        return done
