"""The IAllocator request (Ganeti's ``doc/iallocator.rst``, version 2): cluster data + request.

Live figures (memory, disk) come from one ``node_info`` round; a node
that does not answer is reported offline to the allocator, so nothing is
placed on a node whose resources are unknown.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from typing import Any

from corral.config.inheritance import effective_beparams
from corral.config.inheritance import effective_ipolicy
from corral.config.inheritance import effective_ndparams
from corral.config.inheritance import effective_nicparams
from corral.config.objects import AdminState

if TYPE_CHECKING:
    from corral.config.objects import ConfigData
    from corral.config.objects import Instance
    from corral.rpc.client import NodeResult

#: The protocol version corral speaks (Ganeti 2.x and 3.0's).
VERSION = 2


def disk_space(template: str, disks: list[dict[str, Any]]) -> int:
    """Disk space a template takes on a node for these disks (MiB), as Ganeti counts it."""
    sizes = sum(int(d.get("size", 0)) for d in disks)
    if template == "diskless":
        return 0
    if template == "drbd":
        return sizes + 128 * len(disks)  # the DRBD metadata volume per disk
    return sizes


def instance_spec(cfg: ConfigData, inst: Instance) -> dict[str, Any]:
    """An instance as the request's ``instances`` map describes it."""
    be = effective_beparams(cfg.cluster, inst)
    group = cfg.nodegroups.get(cfg.nodes[inst.primary_node].group)
    disks = [{"size": d.size, "mode": str(d.mode), "spindles": d.spindles} for d in inst.disks]
    nics = []
    for nic in inst.nics:
        params = effective_nicparams(cfg.cluster, nic, group)
        nics.append(
            {
                "mac": nic.mac,
                "ip": nic.ip,
                "mode": params.get("mode"),
                "link": params.get("link"),
                "bridge": params.get("link"),
            }
        )
    return {
        "tags": list(inst.tags),
        "admin_state": str(inst.admin_state),
        "admin_state_source": str(inst.admin_state_source),
        "vcpus": be["vcpus"],
        "memory": be["maxmem"],
        "spindle_use": be["spindle_use"],
        "os": inst.os,
        "nodes": [cfg.nodes[u].name for u in (inst.primary_node, *inst.secondary_nodes)],
        "nics": nics,
        "disks": disks,
        "disk_template": inst.disk_template,
        "disk_space_total": disk_space(inst.disk_template, disks),
        "hypervisor": inst.hypervisor,
    }


def cluster_data(
    cfg: ConfigData,
    live: dict[str, NodeResult],
    hypervisor: str,
    reserved: dict[str, int] | None = None,
) -> dict[str, Any]:
    """Everything but the ``request`` key; ``live`` are node_info answers by node name.

    ``reserved`` (MiB by node UUID) is memory promised to instances that are
    starting and that the hypervisors' figures do not show yet.
    """
    cluster = cfg.cluster
    primaries: dict[str, list[Instance]] = {}
    for inst in cfg.instances.values():
        primaries.setdefault(inst.primary_node, []).append(inst)
    nodes: dict[str, Any] = {}
    for uuid, node in cfg.nodes.items():
        group = cfg.nodegroups.get(node.group)
        nd = effective_ndparams(cluster, group, node)
        result = live.get(node.name)
        info = result.result if result is not None and result.ok else None
        hv = (info or {}).get("hv", {}).get(hypervisor) or {}
        mine = primaries.get(uuid, [])
        mem = [effective_beparams(cluster, i)["maxmem"] for i in mine]
        up = [m for m, i in zip(mem, mine, strict=True) if i.admin_state == AdminState.UP]
        used_spindles = sum(effective_beparams(cluster, i)["spindle_use"] for i in mine)
        spindles = int(nd.get("spindle_count", 1))
        usable = info is not None and "memory_total" in hv
        nodes[node.name] = {
            "tags": list(node.tags),
            "primary_ip": node.primary_ip,
            "secondary_ip": node.secondary_ip or node.primary_ip,
            "offline": node.offline or not usable,
            "drained": node.drained,
            "master_candidate": node.master_candidate,
            "master_capable": node.master_capable,
            "vm_capable": node.vm_capable,
            "group": node.group,
            "ndparams": {
                "spindle_count": spindles,
                "exclusive_storage": bool(nd.get("exclusive_storage", False)),
                "oob_program": nd.get("oob_program") or None,
            },
            "total_memory": int(hv.get("memory_total", 0)),
            "reserved_memory": int(hv.get("memory_dom0", 0)),
            "free_memory": int(hv.get("memory_free", 0)) - (reserved or {}).get(uuid, 0),
            "total_disk": int((info or {}).get("disk_total") or 0),
            "free_disk": int((info or {}).get("disk_free") or 0),
            "total_cpus": int(hv.get("cpu_total", (info or {}).get("cpu_count", 1))),
            "reserved_cpus": 1,
            "total_spindles": spindles,
            "free_spindles": spindles - used_spindles,
            "i_pri_memory": sum(mem),
            "i_pri_up_memory": sum(up),
        }
    groups = {
        uuid: {
            "name": g.name,
            "alloc_policy": str(g.alloc_policy),
            "networks": sorted(g.networks),
            "ipolicy": effective_ipolicy(cluster, g),
            "tags": list(g.tags),
        }
        for uuid, g in cfg.nodegroups.items()
    }
    return {
        "version": VERSION,
        "cluster_name": cluster.cluster_name,
        "cluster_tags": list(cluster.tags),
        "enabled_hypervisors": list(cluster.enabled_hypervisors),
        "ipolicy": effective_ipolicy(cluster, None),
        "nodegroups": groups,
        "nodes": nodes,
        "instances": {i.name: instance_spec(cfg, i) for i in cfg.instances.values()},
    }
