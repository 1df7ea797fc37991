"""``gnt-instance recreate-disks``: make lost disks again, empty, maybe on other nodes.

For when a disk is gone (a dead node, a deleted file): the instance must be
stopped, the disks named (or all) must not exist any more, and with
``-n``/``-I`` all of them are made on the new nodes, which then become the
instance's. Sizes and modes may change on the way, as in Ganeti. A failure
removes the disks this run made, and the config only changes at the end.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING
from typing import Any

from corral.api.errors import OpPrereqError
from corral.cmdlib import instance_common as ic
from corral.cmdlib import migration
from corral.cmdlib.instance_lifecycle import InstanceLU
from corral.cmdlib.instance_lifecycle import running_record
from corral.config import objects as o
from corral.config.writer import target as rpc_target
from corral.locking import ALL
from corral.locking import Level

if TYPE_CHECKING:
    from corral.cmdlib.base import LockSpec

#: The disk parameters recreate-disks may change (Ganeti's).
CHANGEABLE = frozenset({"size", "mode", "spindles"})


def wanted_disks(inst: o.Instance, disks: list[Any]) -> dict[int, dict[str, Any]]:
    """Index -> changes, from the opcode's ``disks`` (empty: all, unchanged)."""
    if not disks:
        return {i: {} for i in range(len(inst.disks))}
    out: dict[int, dict[str, Any]] = {}
    for item in disks:
        index, changes = (item, {}) if isinstance(item, int) else (int(item[0]), dict(item[1]))
        if not 0 <= index < len(inst.disks):
            raise OpPrereqError(
                f"Invalid disk index {index}: instance {inst.name} has {len(inst.disks)} disk(s)"
            )
        unknown = sorted(set(changes) - CHANGEABLE)
        if unknown:
            raise OpPrereqError(
                f"Disk {index}: only size, mode and spindles can change while recreating,"
                f" not {', '.join(unknown)}"
            )
        if "size" in changes and (not isinstance(changes["size"], int) or changes["size"] <= 0):
            raise OpPrereqError(f"Disk {index}: size must be a positive number of MiB")
        if "mode" in changes and changes["mode"] not in ("rw", "ro"):
            raise OpPrereqError(f"Disk {index}: mode must be rw or ro, not {changes['mode']!r}")
        if index in out:
            raise OpPrereqError(f"Disk {index} is named twice")
        out[index] = changes
    return out


class LUInstanceRecreateDisks(InstanceLU):
    OP_ID = "OP_INSTANCE_RECREATE_DISKS"

    def check_arguments(self) -> None:
        if self.op.nodes and self.op.iallocator:
            raise OpPrereqError("Give either new nodes (-n) or an iallocator (-I), not both")

    def declare_locks(self) -> dict[Level, LockSpec]:
        locks = super().declare_locks()
        if self.op.iallocator:
            locks[Level.NODE] = (ALL, False)
        return locks

    def extra_nodes(self) -> list[str]:
        cfg = self.master.config
        self.new_uuids = [ic.lookup_node(cfg, name).uuid for name in self.op.nodes or []]
        return self.new_uuids

    async def check_prereq(self) -> None:
        await super().check_prereq()
        cfg, inst, op = self.master.config, self.inst, self.op
        if not inst.disks:
            raise OpPrereqError(f"Instance {inst.name} has no disks to recreate")
        self.todo = wanted_disks(inst, list(op.disks or []))
        moving = bool(self.new_uuids or op.iallocator)
        if moving and len(self.todo) != len(inst.disks):
            raise OpPrereqError(
                "Changing the nodes needs every disk recreated: leave out --disk or name them all"
            )
        current = [inst.primary_node, *inst.secondary_nodes]
        if self.new_uuids and len(self.new_uuids) != len(current):
            raise OpPrereqError(
                f"Instance {inst.name} has {len(current)} node(s): give as many with -n,"
                f" not {len(self.new_uuids)}"
            )
        if len(set(self.new_uuids)) != len(self.new_uuids):
            raise OpPrereqError("The same node is given twice with -n")
        if op.iallocator:
            self.new_uuids = [(await migration.choose_target(self, inst, None, op.iallocator)).uuid]
        nodes = [cfg.nodes[u] for u in (self.new_uuids or current)]
        for node in nodes:
            if node.offline:
                raise OpPrereqError(
                    f"Node {node.name} of instance {inst.name} is offline: give new nodes with"
                    " -n or an iallocator with -I"
                )
            if self.new_uuids:
                ic.check_node_usable(node, f"hold the disks of {inst.name}")
        if not self.pnode.offline and await running_record(self.master, inst) is not None:
            raise OpPrereqError(
                f"Instance {inst.name} is running: 'gnt-instance shutdown {inst.name}' first"
            )
        self.nodes = nodes

    async def execute(self) -> Any:
        master, inst = self.master, self.inst
        uuids = tuple(n.uuid for n in self.nodes)
        disks = list(inst.disks)
        for index, changes in self.todo.items():
            if "mode" in changes:
                changes = {**changes, "mode": o.DiskMode(changes["mode"])}
            disks[index] = dataclasses.replace(
                disks[index], nodes=uuids, logical_id=None, **changes
            )
        new = dataclasses.replace(
            inst, primary_node=uuids[0], secondary_nodes=uuids[1:], disks=tuple(disks)
        )
        view = dataclasses.replace(master.config, instances={**master.config.instances,
                                                             inst.uuid: new})  # fmt: skip
        made: list[tuple[int, o.Disk]] = []
        try:
            for index in sorted(self.todo):
                self.feedback(f" - INFO: Recreating disk {index} of {inst.name}")
                args = ic.disk_args(master, view, new, disks[index], index)
                for node in self.nodes:
                    logical_id = await ic.call(master, node, "disk_create", args, 3600)
                disks[index] = dataclasses.replace(disks[index], logical_id=str(logical_id))
                made.append((index, disks[index]))
        except BaseException:
            await self._remove(view, new, made)
            raise
        await ic.set_instance(
            master, inst, self.feedback, primary_node=uuids[0], secondary_nodes=uuids[1:],
            disks=tuple(disks),
        )  # fmt: skip
        return None

    async def _remove(
        self, cfg: o.ConfigData, inst: o.Instance, made: list[tuple[int, o.Disk]]
    ) -> None:
        for index, disk in made:
            args = ic.disk_args(self.master, cfg, inst, disk, index)
            for node in self.nodes:
                answer = await self.master.rpc.call(rpc_target(node), "disk_remove", args, 300)
                if not answer.ok:
                    self.feedback(
                        f"WARNING: could not remove disk/{index} on {node.name}: {answer.error}"
                    )
