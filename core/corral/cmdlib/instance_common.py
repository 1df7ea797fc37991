"""What the instance logical units share: lookups, node calls, live resources, policy.

Node calls that fail become :class:`~corral.api.errors.OpExecError` naming
the call and the node, so an LU reads as the list of its steps.
"""

from __future__ import annotations

import dataclasses
import time
from typing import TYPE_CHECKING
from typing import Any

from corral.api.errors import OpExecError
from corral.api.errors import OpPrereqError
from corral.config import objects as o
from corral.config.inheritance import effective_beparams
from corral.config.inheritance import effective_ipolicy
from corral.config.params import ISPEC_KEYS
from corral.config.writer import target
from corral.rpc import instancedoc

if TYPE_CHECKING:
    from corral.masterd.context import MasterContext
    from corral.rpc.client import NodeResult


def lookup_instance(cfg: o.ConfigData, name: str) -> o.Instance:
    inst = cfg.instance_by_name(name)
    if inst is None:
        raise OpPrereqError(
            f"Instance '{name}' not known (gnt-instance list shows the cluster's instances)"
        )
    return inst


def lookup_node(cfg: o.ConfigData, name: str) -> o.Node:
    node = cfg.node_by_name(name)
    if node is None:
        raise OpPrereqError(f"Node {name} not known (gnt-node list shows the cluster's nodes)")
    return node


def lookup_group(cfg: o.ConfigData, name: str) -> o.NodeGroup:
    group = cfg.group_by_name(name)
    if group is None:
        raise OpPrereqError(f"Node group '{name}' not known (gnt-group list shows them)")
    return group


def check_node_usable(node: o.Node, what: str = "host instances") -> None:
    """Ganeti's CheckNodeOnline / CheckNodeNotDrained / CheckNodeVmCapable in one."""
    if node.offline:
        raise OpPrereqError(f"Can't use offline node {node.name} to {what}")
    if node.drained:
        raise OpPrereqError(f"Can't use drained node {node.name} to {what}")
    if not node.vm_capable:
        raise OpPrereqError(f"Can't use non-vm_capable node {node.name} to {what}")


async def call(
    master: MasterContext,
    node: o.Node,
    method: str,
    args: dict[str, Any] | None = None,
    timeout: float = 120.0,
) -> Any:
    """Call one node; its failure raises OpExecError saying which call on which node."""
    result = await master.rpc.call(target(node), method, args, timeout=timeout)
    if not result.ok:
        raise OpExecError(f"{method} failed on node {node.name}: {result.error}")
    return result.result


def disk_args(
    master: MasterContext, cfg: o.ConfigData, inst: o.Instance, disk: o.Disk, index: int
) -> dict[str, Any]:
    """The arguments of a node's disk call (disk_create, disk_remove, ...) for one disk."""
    spec = instancedoc.disk_spec(cfg, inst, disk, index, master.registry)
    return {"template": inst.disk_template, "disk": dataclasses.asdict(spec)}


def document(
    master: MasterContext, inst: o.Instance, cfg: o.ConfigData | None = None, **overrides: Any
) -> dict[str, Any]:
    return instancedoc.encode(cfg or master.config, inst, master.registry, **overrides)


async def node_info(
    master: MasterContext, nodes: list[o.Node], hypervisor: str
) -> dict[str, NodeResult]:
    """One ``node_info`` round (by node name); offline nodes are not asked."""
    online = [n for n in nodes if not n.offline]
    return await master.rpc.call_many(
        master.targets(online), "node_info", {"hypervisors": [hypervisor]}, timeout=30
    )


def free_memory(
    info: NodeResult | None, node: o.Node, hypervisor: str, reserved: dict[str, int]
) -> int:
    """Free memory on ``node`` (MiB): the hypervisor's, less what is promised to instances
    starting there; or an error saying why it is unknown."""
    if info is None or not info.ok:
        why = info.error if info is not None else "it was not asked"
        raise OpPrereqError(f"Can't compute free memory on node {node.name}: {why}")
    hv = (info.result or {}).get("hv", {}).get(hypervisor) or {}
    if "memory_free" not in hv:
        raise OpPrereqError(
            f"Can't compute free memory on node {node.name}: hypervisor {hypervisor}"
            f" answered {hv.get('error', 'nothing')}"
        )
    return int(hv["memory_free"]) - reserved.get(node.uuid, 0)


async def check_free_memory(
    master: MasterContext, node: o.Node, hypervisor: str, needed: int, reason: str
) -> None:
    """Ganeti's CheckNodeFreeMemory: refuse before anything changes."""
    answers = await node_info(master, [node], hypervisor)
    free = free_memory(answers.get(node.name), node, hypervisor, master.reserved)
    if needed > free:
        raise OpPrereqError(
            f"Not enough memory on node {node.name} for {reason}: needed {needed} MiB,"
            f" available {free} MiB"
        )


def ipolicy_violations(
    cfg: o.ConfigData,
    group: o.NodeGroup | None,
    template: str,
    memory: int,
    vcpus: int,
    disk_sizes: list[int],
    nic_count: int,
    spindle_use: int,
) -> list[str]:
    """What an instance of these specs breaks in its group's policy (Ganeti's wording)."""
    policy = effective_ipolicy(cfg.cluster, group)
    problems = []
    if template not in policy.get("disk-templates", []):
        allowed = ", ".join(policy.get("disk-templates", [])) or "none"
        problems.append(f"Disk template {template} is not allowed (allowed templates: {allowed})")
    values: dict[str, list[int]] = {
        "memory-size": [memory],
        "cpu-count": [vcpus],
        "nic-count": [nic_count],
        "spindle-use": [spindle_use],
    }
    if template != "diskless":  # Ganeti skips the disk specs of diskless instances
        values["disk-count"] = [len(disk_sizes)]
        values["disk-size"] = disk_sizes
    best: list[str] | None = None
    for pair in policy.get("minmax", []):
        found = []
        for key in ISPEC_KEYS:
            low, high = pair["min"][key], pair["max"][key]
            for value in values.get(key, []):
                if not low <= value <= high:
                    found.append(f"{key} value {value} is not in range [{low}, {high}]")
        if not found:
            return problems
        if best is None or len(found) < len(best):
            best = found
    return problems + (best or [])


def check_ipolicy(
    cfg: o.ConfigData, node: o.Node, inst_specs: dict[str, Any], ignore: bool, what: str
) -> list[str]:
    """Raise on policy violations (or return them as warnings with ``ignore``)."""
    group = cfg.nodegroups.get(node.group)
    problems = ipolicy_violations(cfg, group, **inst_specs)
    if problems and not ignore:
        name = group.name if group is not None else "?"
        raise OpPrereqError(
            f"{what} to group {name} ({node.group}) violates policy: {', '.join(problems)}"
            " (use --ignore-ipolicy to override)"
        )
    return problems


def specs_of(cfg: o.ConfigData, inst: o.Instance, **changes: Any) -> dict[str, Any]:
    be = effective_beparams(cfg.cluster, inst)
    specs = {
        "template": inst.disk_template,
        "memory": int(be["maxmem"]),
        "vcpus": int(be["vcpus"]),
        "disk_sizes": [d.size for d in inst.disks],
        "nic_count": len(inst.nics),
        "spindle_use": int(be["spindle_use"]),
    }
    specs.update(changes)
    return specs


async def set_instance(
    master: MasterContext,
    inst: o.Instance,
    feedback: Any = None,
    **changes: Any,
) -> o.Instance:
    """Store ``changes`` to ``inst`` (a new serial); returns the stored instance."""
    now = time.time()

    def change(cfg: o.ConfigData) -> o.ConfigData:
        current = cfg.instances[inst.uuid]
        return dataclasses.replace(
            cfg, instances={**cfg.instances, inst.uuid: o.touched(current, now, **changes)}
        )

    cfg = await master.writer.update(change, feedback)
    return cfg.instances[inst.uuid]
