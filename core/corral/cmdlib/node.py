"""Logical units for cluster membership: add, remove and modify nodes.

A node is added only once it holds a certificate of this cluster (see
:mod:`corral.crypto.jointoken`): the TLS handshake with it proves both
that and its name. Roles follow Ganeti's rules: the master is always a
candidate and never offline or drained; an offline, drained or not
master-capable node is never a candidate; and the candidate pool is kept
filled up to ``candidate_pool_size`` from the nodes that can serve.
"""

from __future__ import annotations

import dataclasses
import time
import uuid
from typing import TYPE_CHECKING
from typing import Any

from corral.api.errors import OpPrereqError
from corral.cmdlib.base import LockSpec
from corral.cmdlib.base import LogicalUnit
from corral.config import objects as o
from corral.config.writer import target
from corral.hostname import check_name
from corral.hostname import is_ip
from corral.locking import ALL
from corral.locking import Level
from corral.rpc.client import Target
from corral.rpc.protocol import PROTOCOL_VERSION

if TYPE_CHECKING:
    from collections.abc import Iterable


def _can_serve(node: o.Node) -> bool:
    return node.master_capable and not node.offline and not node.drained


def fill_candidate_pool(cfg: o.ConfigData, exclude: Iterable[str] = ()) -> o.ConfigData:
    """Promote nodes (by name order) until the pool is as full as it can be."""
    skip = set(exclude)
    nodes = dict(cfg.nodes)
    have = sum(1 for n in nodes.values() if n.master_candidate)
    now = time.time()
    for node in sorted(nodes.values(), key=lambda n: n.name):
        if have >= cfg.cluster.candidate_pool_size:
            break
        if not node.master_candidate and _can_serve(node) and node.uuid not in skip:
            nodes[node.uuid] = o.touched(node, now, master_candidate=True)
            have += 1
    return dataclasses.replace(cfg, nodes=nodes)


def candidate_stats(cfg: o.ConfigData, exclude: str | None = None) -> tuple[int, int]:
    """(candidates there are, candidates there should be), leaving ``exclude`` out."""
    others = [n for n in cfg.nodes.values() if n.uuid != exclude]
    have = sum(1 for n in others if n.master_candidate)
    possible = sum(1 for n in others if _can_serve(n))
    return have, min(cfg.cluster.candidate_pool_size, possible)


def _lookup_node(cfg: o.ConfigData, name: str) -> o.Node:
    node = cfg.node_by_name(name)
    if node is None:
        raise OpPrereqError(f"Node {name} not known (gnt-node list shows the cluster's nodes)")
    return node


class LUClusterRedistConf(LogicalUnit):
    """``gnt-cluster redist-conf``: push the config (a new serial) to every node again."""

    OP_ID = "OP_CLUSTER_REDIST_CONF"
    REQ_BGL = True

    async def execute(self) -> Any:
        await self.master.writer.update(lambda cfg: cfg, self.feedback)
        await self.master.writer.catch_up()
        return None


class LUNodeAdd(LogicalUnit):
    """``gnt-node add``: make a node that joined (holds a cluster certificate) a member."""

    OP_ID = "OP_NODE_ADD"
    REQ_BGL = True

    def check_arguments(self) -> None:
        self.name = check_name(self.op.node_name, "node name")
        if not self.op.primary_ip:
            raise OpPrereqError(
                f"OP_NODE_ADD: the primary IP of {self.name} is missing (gnt-node add resolves"
                " the name; other clients must send primary_ip)"
            )
        for field_name in ("primary_ip", "secondary_ip"):
            value = getattr(self.op, field_name)
            if value is not None and not is_ip(value):
                raise OpPrereqError(f"OP_NODE_ADD: {field_name} {value!r} is not an IP address")

    async def check_prereq(self) -> None:
        cfg = self.master.config
        existing = cfg.node_by_name(self.name)
        if existing is not None and not self.op.readd:
            raise OpPrereqError(
                f"Node {self.name} is already in the configuration (use --readd to add it again)"
            )
        if existing is None and self.op.readd:
            raise OpPrereqError(
                f"Node {self.name} is not in the configuration: add it without --readd"
            )
        if existing is not None and existing.uuid == cfg.cluster.master_node:
            raise OpPrereqError("the master node cannot be re-added")
        for node in cfg.nodes.values():
            if node.name == self.name:
                continue
            if self.op.primary_ip in (node.primary_ip, node.secondary_ip):
                raise OpPrereqError(
                    f"the address {self.op.primary_ip} is already used by node {node.name}"
                )
        master = cfg.nodes[cfg.cluster.master_node]
        dual_homed = master.secondary_ip not in (None, master.primary_ip)
        if dual_homed and not self.op.secondary_ip:
            raise OpPrereqError(
                "the cluster is dual-homed (the master has a secondary IP): give the new node"
                " one with -s"
            )
        if self.op.group is not None:
            group = cfg.group_by_name(self.op.group)
            if group is None:
                raise OpPrereqError(f"Node group {self.op.group} not known")
        elif existing is not None:
            group = cfg.nodegroups[existing.group]
        else:
            group = (
                cfg.group_by_name("default")
                or sorted(cfg.nodegroups.values(), key=lambda g: g.name)[0]
            )
        self.group = group
        self.existing = existing
        self.feedback(f"Contacting node {self.name} at {self.op.primary_ip}")
        result = await self.master.rpc.call(
            Target(self.name, self.op.primary_ip), "version", timeout=30
        )
        if not result.ok:
            raise OpPrereqError(
                f"cannot talk to node {self.name} at {self.op.primary_ip}: {result.error}."
                f" If it has not joined yet: 'gnt-node join-token {self.name}' here, then"
                " 'corral-node-join TOKEN' on the node"
            )
        answer = result.result
        if answer.get("protocol") != PROTOCOL_VERSION:
            raise OpPrereqError(
                f"node {self.name} speaks node protocol {answer.get('protocol')}, this master"
                f" {PROTOCOL_VERSION}: install the same corral version ({answer.get('version')}"
                " there)"
            )

    async def execute(self) -> Any:
        now = time.time()
        master_capable = True if self.op.master_capable is None else self.op.master_capable
        vm_capable = True if self.op.vm_capable is None else self.op.vm_capable
        if self.existing is not None:
            node = o.touched(
                self.existing, now, primary_ip=self.op.primary_ip,
                secondary_ip=self.op.secondary_ip, group=self.group.uuid, offline=False,
                drained=False, master_candidate=False, master_capable=master_capable,
                vm_capable=vm_capable,
            )  # fmt: skip
        else:
            node = o.Node(
                uuid=str(uuid.uuid4()), name=self.name,
                primary_ip=self.op.primary_ip, secondary_ip=self.op.secondary_ip,
                group=self.group.uuid, master_capable=master_capable, vm_capable=vm_capable,
                ndparams=dict(self.op.ndparams or {}), ctime=now, mtime=now,
            )  # fmt: skip

        def add(cfg: o.ConfigData) -> o.ConfigData:
            nodes = {**cfg.nodes, node.uuid: node}
            return fill_candidate_pool(dataclasses.replace(cfg, nodes=nodes))

        cfg = await self.master.writer.update(add, self.feedback)
        added = cfg.nodes[node.uuid]
        role = "a master candidate" if added.master_candidate else "a regular node"
        self.feedback(f"Node {self.name} is {'re-added' if self.existing else 'added'} as {role}")
        return None


class LUNodeRemove(LogicalUnit):
    """``gnt-node remove``: take a node out of the cluster; it forgets the cluster."""

    OP_ID = "OP_NODE_REMOVE"
    REQ_BGL = True

    async def check_prereq(self) -> None:
        cfg = self.master.config
        self.node = _lookup_node(cfg, self.op.node_name)
        if self.node.uuid == cfg.cluster.master_node:
            raise OpPrereqError(
                f"Node {self.node.name} is the master node: fail the master over to another"
                " node first (gnt-cluster master-failover there)"
            )
        used = sorted(
            i.name
            for i in cfg.instances.values()
            if self.node.uuid in (i.primary_node, *i.secondary_nodes)
        )
        if used:
            raise OpPrereqError(
                f"Node {self.node.name} still hosts instances ({', '.join(used)}): move or"
                " remove them first (gnt-node evacuate)"
            )

    async def execute(self) -> Any:
        node = self.node

        def remove(cfg: o.ConfigData) -> o.ConfigData:
            nodes = {u: n for u, n in cfg.nodes.items() if u != node.uuid}
            return fill_candidate_pool(dataclasses.replace(cfg, nodes=nodes))

        await self.master.writer.update(remove, self.feedback)
        self.master.writer.behind.pop(node.name, None)
        result = await self.master.rpc.call(target(node), "node_leave", timeout=30)
        if not result.ok and not result.offline:
            self.feedback(
                f"WARNING: node {node.name} was removed from the cluster but could not be told"
                f" to forget it ({result.error}); clean it up with 'gnt-cluster destroy' there"
            )
        return None


class LUNodeSetParams(LogicalUnit):
    """``gnt-node modify``: roles and flags of a node, under Ganeti's rules."""

    OP_ID = "OP_NODE_SET_PARAMS"
    REQ_BGL = False
    _FLAGS = ("master_candidate", "offline", "drained", "master_capable", "vm_capable", "powered")

    def check_arguments(self) -> None:
        changes = [f for f in self._FLAGS if getattr(self.op, f) is not None]
        if not changes and self.op.secondary_ip is None and not self.op.ndparams:
            raise OpPrereqError("Please pass at least one modification")
        turned_on = [f for f in ("master_candidate", "offline", "drained") if getattr(self.op, f)]
        if len(turned_on) > 1:
            raise OpPrereqError(
                "Can't set the node into more than one state at the same time"
                f" ({', '.join(turned_on)})"
            )

    def declare_locks(self) -> dict[Level, LockSpec]:
        node = _lookup_node(self.master.config, self.op.node_name)
        self.node_uuid = node.uuid
        # Role changes can promote others to keep the candidate pool full.
        return {Level.NODE: (ALL if self.op.auto_promote else [node.uuid], False)}

    async def check_prereq(self) -> None:
        cfg = self.master.config
        node = cfg.nodes.get(self.node_uuid)
        if node is None:
            raise OpPrereqError(f"Node {self.op.node_name} was removed meanwhile")
        self.node = node
        is_master = node.uuid == cfg.cluster.master_node
        if is_master and (
            self.op.master_candidate is False
            or self.op.offline
            or self.op.drained
            or self.op.master_capable is False
        ):
            raise OpPrereqError(
                f"Node {node.name} is the master: it cannot be demoted, offlined, drained or"
                " made not master-capable (fail the master over first)"
            )
        if self.op.master_candidate and (
            self.op.master_capable is False
            or (not node.master_capable and not self.op.master_capable)
        ):
            raise OpPrereqError(f"Node {node.name} is not master capable, cannot promote it")
        if self.op.master_candidate and (
            (node.offline and self.op.offline is not False)
            or (node.drained and self.op.drained is not False)
        ):
            raise OpPrereqError(
                f"Node {node.name} is offline or drained: clear that flag (-O no / -D no) to"
                " promote it"
            )
        self.demoting = node.master_candidate and (
            self.op.master_candidate is False
            or self.op.offline
            or self.op.drained
            or self.op.master_capable is False
        )
        if self.demoting and not self.op.auto_promote and not self.op.force:
            have, should = candidate_stats(cfg, exclude=node.uuid)
            if have < should:
                raise OpPrereqError(
                    f"Not enough master candidates (desired {should}, new value will be {have}):"
                    " use --auto-promote to promote another node, or --force"
                )
        if self.op.secondary_ip is not None and not is_ip(self.op.secondary_ip):
            raise OpPrereqError(f"secondary IP {self.op.secondary_ip!r} is not an IP address")

    async def execute(self) -> Any:
        node = self.node
        changes: dict[str, Any] = {}
        for flag in self._FLAGS:
            value = getattr(self.op, flag)
            if value is not None and value != getattr(node, flag):
                changes[flag] = value
        if self.demoting:
            changes["master_candidate"] = False
        if self.op.offline and node.drained:
            changes["drained"] = False
        if self.op.drained and node.offline:
            changes["offline"] = False
        if self.op.secondary_ip is not None and self.op.secondary_ip != node.secondary_ip:
            changes["secondary_ip"] = self.op.secondary_ip
        if self.op.ndparams:
            changes["ndparams"] = {**node.ndparams, **self.op.ndparams}
        if not changes:
            return []
        now = time.time()

        def modify(cfg: o.ConfigData) -> o.ConfigData:
            current = cfg.nodes[node.uuid]
            nodes = {**cfg.nodes, node.uuid: o.touched(current, now, **changes)}
            new = dataclasses.replace(cfg, nodes=nodes)
            if self.op.auto_promote or self.demoting:
                new = fill_candidate_pool(new, exclude=[node.uuid])
            return new

        await self.master.writer.update(modify, self.feedback)
        if changes.get("master_candidate") is False and not changes.get("offline"):
            result = await self.master.rpc.call(target(node), "demote", timeout=30)
            if not result.ok:
                self.feedback(
                    f"WARNING: could not remove the config replica from {node.name}: {result.error}"
                )
        if changes.get("offline") is False:
            self.feedback(f"Node {node.name} is online again; it has the current config")
        return [[key, value] for key, value in changes.items()]


class _NodeFanOut(LogicalUnit):
    """Ask nodes (all, or those named) for rows; the opcode's output_fields pick columns."""

    REQ_BGL = False
    FIELDS: tuple[str, ...] = ()

    def check_arguments(self) -> None:
        unknown = [f for f in self.op.output_fields if f not in self.FIELDS]
        if unknown:
            raise OpPrereqError(
                f"Unknown output fields selected: {', '.join(unknown)}"
                f" (known: {', '.join(self.FIELDS)})"
            )

    def _nodes(self) -> list[o.Node]:
        cfg = self.master.config
        if not self.op.nodes:
            return sorted(cfg.nodes.values(), key=lambda n: n.name)
        return [_lookup_node(cfg, name) for name in self.op.nodes]

    async def _gather(self, method: str, args: dict[str, Any]) -> list[list[Any]]:
        nodes = self._nodes()
        results = await self.master.rpc.call_many(
            [target(n) for n in nodes], method, args, timeout=60
        )
        rows = []
        for node in nodes:
            result = results[node.name]
            if not result.ok:
                self.feedback(f"WARNING: node {node.name}: {result.error}")
                continue
            for item in result.result:
                item = {"node": node.name, **item}
                if self._wanted(item):
                    rows.append([item.get(f) for f in self.op.output_fields])
        return rows

    def _wanted(self, item: dict[str, Any]) -> bool:
        return True


class LUNodeQueryvols(_NodeFanOut):
    """``gnt-node volumes``: the disks that exist on nodes, with their instances."""

    OP_ID = "OP_NODE_QUERYVOLS"
    FIELDS = ("node", "template", "name", "size", "instance")

    async def execute(self) -> Any:
        templates = list(self.master.config.cluster.enabled_disk_templates)
        return await self._gather("volumes", {"disk_templates": templates})


class LUNodeQueryStorage(_NodeFanOut):
    """``gnt-node list-storage``: size, use and room of each node's storage units."""

    OP_ID = "OP_NODE_QUERY_STORAGE"
    FIELDS = ("node", "type", "name", "size", "used", "free", "allocatable")

    async def execute(self) -> Any:
        return await self._gather("storage_info", {})

    def _wanted(self, item: dict[str, Any]) -> bool:
        if self.op.storage_type and item["type"] != self.op.storage_type:
            return False
        return not self.op.name or item["name"] == self.op.name
