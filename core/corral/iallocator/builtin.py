"""corral's own simple allocator, for clusters that name no allocator plugin.

It answers ``allocate`` requests: among the online, undrained, VM-capable
nodes of allocable groups (``preferred`` before ``last_resort``) that have
the memory, the disk, the spindles and the CPU ratio for the instance, it
takes the one with the most memory left after placing it. What does not
fit is counted per reason, in the words Ganeti's hail uses, so the
operator learns why nothing fits. The native ``hail`` plugin (corral-htools)
balances far better; this one only has to be right.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING
from typing import Any

if TYPE_CHECKING:
    from collections.abc import Collection

#: Template names whose disks live on every node of a group, taking no node disk space.
SHARED_TEMPLATES = frozenset({"diskless", "sharedfile", "rbd", "ext", "gluster"})


def _vcpus_on(data: dict[str, Any], node: str) -> int:
    return sum(
        int(i.get("vcpus", 1))
        for i in data["instances"].values()
        if i.get("nodes", [None])[0] == node
    )


def _reasons(data: dict[str, Any], name: str, req: dict[str, Any]) -> list[str]:
    node = data["nodes"][name]
    group = data["nodegroups"].get(node["group"], {})
    policy = group.get("ipolicy") or data.get("ipolicy") or {}
    failed = []
    if node["free_memory"] < req["memory"]:
        failed.append("FailMem")
    if req["disk_template"] not in SHARED_TEMPLATES and node["free_disk"] < req["disk_space_total"]:
        failed.append("FailDisk")
    if node["free_spindles"] < req.get("spindle_use", 1) and node["ndparams"].get(
        "exclusive_storage"
    ):
        failed.append("FailSpindles")
    ratio = policy.get("vcpu-ratio")
    if ratio and _vcpus_on(data, name) + req["vcpus"] > ratio * node["total_cpus"]:
        failed.append("FailCPU")
    return failed


def _unusable(data: dict[str, Any], name: str, exclude: Collection[str]) -> str | None:
    """Why a node cannot take any instance, or None."""
    node = data["nodes"][name]
    if name in exclude:
        return "FailExcluded"
    if node["offline"]:
        return "FailOffline"
    if node["drained"]:
        return "FailDrained"
    if not node["vm_capable"]:
        return "FailNotVmCapable"
    return None


def choose(
    data: dict[str, Any],
    req: dict[str, Any],
    count: int,
    exclude: Collection[str] = (),
    group: str | None = None,
    groups: Collection[str] | None = None,
) -> tuple[list[str], str]:
    """``count`` nodes (of one group: ``group``, one of ``groups``, or any) for the request,
    or ([], why not)."""
    wanted = {group} if group is not None else set(groups) if groups is not None else None
    by_group: dict[str, list[str]] = {}
    for name, node in sorted(data["nodes"].items()):
        if wanted is None or node["group"] in wanted:
            by_group.setdefault(node["group"], []).append(name)
    order = sorted(
        by_group,
        key=lambda g: (
            data["nodegroups"].get(g, {}).get("alloc_policy") != "preferred",
            data["nodegroups"].get(g, {}).get("name", g),
        ),
    )
    messages = []
    for uuid in order:
        name = data["nodegroups"].get(uuid, {}).get("name", uuid)
        policy = data["nodegroups"].get(uuid, {}).get("alloc_policy", "preferred")
        if policy == "unallocable":
            continue
        fits, counts = [], Counter[str]()
        for node in by_group[uuid]:
            reason = _unusable(data, node, exclude)
            if reason is not None:
                counts[reason] += 1
                continue
            failed = _reasons(data, node, req)
            counts.update(failed)
            if not failed:
                fits.append(node)
        if len(fits) >= count:
            fits.sort(key=lambda n: (-(data["nodes"][n]["free_memory"] - req["memory"]), n))
            return fits[:count], f"{name} ({policy})"
        shown = ", ".join(f"{reason}: {n}" for reason, n in sorted(counts.items())) or "no nodes"
        messages.append(
            f"Group {name} ({policy}): No valid allocation solutions, failure reasons: {shown}"
        )
    return [], "; ".join(messages) or "no node group can take instances"


def run(data: dict[str, Any]) -> dict[str, Any]:
    """Answer one request document (only ``allocate`` is supported)."""
    req = data.get("request", {})
    if req.get("type") != "allocate":
        return {
            "success": False,
            "info": f"the built-in allocator cannot answer"
            f" {req.get('type')!r} requests: name an allocator plugin (e.g. -I hail)",
            "result": [],
        }
    nodes, why = choose(data, req, int(req.get("required_nodes", 1)))
    if not nodes:
        return {"success": False, "info": f"Request failed: {why}", "result": []}
    return {"success": True, "info": f"Request successful: placed in group {why}", "result": nodes}
