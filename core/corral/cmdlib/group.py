"""Node groups (``gnt-group``): add, remove, rename, modify, assign nodes.

A group is where instances live: the allocator keeps an instance's nodes in
one group, and the group's instance policy and parameters override the
cluster's. Moving a node to another group must not split an instance
between groups (unless ``--force``), as in Ganeti.
"""

from __future__ import annotations

import dataclasses
import time
import uuid
from typing import TYPE_CHECKING
from typing import Any

from corral.api.errors import OpPrereqError
from corral.cmdlib import instance_common as ic
from corral.cmdlib.base import LogicalUnit
from corral.cmdlib.cluster import merge
from corral.config import objects as o
from corral.config import typed
from corral.hostname import check_name

if TYPE_CHECKING:
    from collections.abc import Mapping


def _typed_ipolicy(values: Mapping[str, Any] | None) -> dict[str, Any]:
    return typed.core("ipolicy", values, "ipolicy") if values else {}


def _replace_group(cfg: o.ConfigData, group: o.NodeGroup) -> o.ConfigData:
    return dataclasses.replace(cfg, nodegroups={**cfg.nodegroups, group.uuid: group})


class LUGroupAdd(LogicalUnit):
    OP_ID = "OP_GROUP_ADD"
    REQ_BGL = True

    def check_arguments(self) -> None:
        self.name = check_name(self.op.group_name, "group name")

    async def check_prereq(self) -> None:
        if self.master.config.group_by_name(self.name) is not None:
            raise OpPrereqError(f"Desired group name '{self.name}' already exists as a node group")
        self.ipolicy = _typed_ipolicy(self.op.ipolicy)
        self.ndparams = typed.core("ndparams", self.op.ndparams or {}, "ndparams")

    async def execute(self) -> Any:
        now = time.time()
        group = o.NodeGroup(
            uuid=str(uuid.uuid4()),
            name=self.name,
            alloc_policy=o.AllocPolicy(self.op.alloc_policy or "preferred"),
            ndparams=self.ndparams,
            ipolicy=self.ipolicy,
            diskparams=dict(self.op.diskparams or {}),
            ctime=now,
            mtime=now,
        )
        await self.master.writer.update(lambda cfg: _replace_group(cfg, group), self.feedback)
        return None


class LUGroupRemove(LogicalUnit):
    OP_ID = "OP_GROUP_REMOVE"
    REQ_BGL = True

    async def check_prereq(self) -> None:
        cfg = self.master.config
        self.group = ic.lookup_group(cfg, self.op.group_name)
        members = sorted(n.name for n in cfg.nodes.values() if n.group == self.group.uuid)
        if members:
            raise OpPrereqError(
                f"Group '{self.group.name}' not empty, has the following node(s):"
                f" {', '.join(members)} (move them with 'gnt-group assign-nodes' first)"
            )
        if len(cfg.nodegroups) == 1:
            raise OpPrereqError(f"Group '{self.group.name}' is the only group, cannot be removed")

    async def execute(self) -> Any:
        gone = self.group.uuid

        def remove(cfg: o.ConfigData) -> o.ConfigData:
            rest = {u: g for u, g in cfg.nodegroups.items() if u != gone}
            return dataclasses.replace(cfg, nodegroups=rest)

        await self.master.writer.update(remove, self.feedback)
        return None


class LUGroupRename(LogicalUnit):
    OP_ID = "OP_GROUP_RENAME"
    REQ_BGL = True

    async def check_prereq(self) -> None:
        cfg = self.master.config
        self.group = ic.lookup_group(cfg, self.op.group_name)
        self.new_name = check_name(self.op.new_name, "group name")
        if cfg.group_by_name(self.new_name) is not None:
            raise OpPrereqError(
                f"Desired new name '{self.new_name}' clashes with existing node group"
            )

    async def execute(self) -> Any:
        renamed = o.touched(self.group, time.time(), name=self.new_name)
        await self.master.writer.update(lambda cfg: _replace_group(cfg, renamed), self.feedback)
        return self.new_name


class LUGroupSetParams(LogicalUnit):
    OP_ID = "OP_GROUP_SET_PARAMS"
    REQ_BGL = True

    async def check_prereq(self) -> None:
        op = self.op
        self.group = ic.lookup_group(self.master.config, op.group_name)
        self.changes: dict[str, Any] = {}
        self.report: list[list[Any]] = []
        if op.alloc_policy is not None:
            self.changes["alloc_policy"] = o.AllocPolicy(op.alloc_policy)
            self.report.append(["alloc_policy", op.alloc_policy])
        if op.ndparams:
            self.changes["ndparams"] = typed.core(
                "ndparams", merge(self.group.ndparams, op.ndparams), "ndparams"
            )
            self.report.append(["ndparams", str(self.changes["ndparams"])])
        if op.ipolicy:
            self.changes["ipolicy"] = _typed_ipolicy(merge(self.group.ipolicy, op.ipolicy))
            self.report.append(["ipolicy", str(self.changes["ipolicy"])])
        if not self.changes:
            raise OpPrereqError("Please pass at least one modification")

    async def execute(self) -> Any:
        changed = o.touched(self.group, time.time(), **self.changes)
        await self.master.writer.update(lambda cfg: _replace_group(cfg, changed), self.feedback)
        return self.report


class LUGroupAssignNodes(LogicalUnit):
    OP_ID = "OP_GROUP_ASSIGN_NODES"
    REQ_BGL = True

    async def check_prereq(self) -> None:
        cfg = self.master.config
        self.group = ic.lookup_group(cfg, self.op.group_name)
        self.nodes = []
        for name in self.op.nodes:
            node = cfg.node_by_name(name)
            if node is None:
                raise OpPrereqError(f"Node {name} not known")
            self.nodes.append(node)
        moving = {n.uuid for n in self.nodes}
        split = []
        for inst in cfg.instances.values():
            members = [inst.primary_node, *inst.secondary_nodes]
            groups = {self.group.uuid if u in moving else cfg.nodes[u].group for u in members}
            if len(groups) > 1:
                split.append(inst.name)
        if split and not self.op.force:
            raise OpPrereqError(
                f"Hypervisor/disk layout of instance(s) {', '.join(sorted(split))} would span"
                " more than one group: use --force to move the nodes anyway"
            )

    async def execute(self) -> Any:
        now, target = time.time(), self.group.uuid

        def assign(cfg: o.ConfigData) -> o.ConfigData:
            nodes = dict(cfg.nodes)
            for node in self.nodes:
                nodes[node.uuid] = o.touched(nodes[node.uuid], now, group=target)
            return dataclasses.replace(cfg, nodes=nodes)

        await self.master.writer.update(assign, self.feedback)
        return None
