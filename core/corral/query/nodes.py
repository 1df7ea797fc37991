"""The ``node`` query: Ganeti's node fields (``gnt-node list``)."""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field as dc_field
from typing import TYPE_CHECKING
from typing import Any

from corral.config.inheritance import effective_ndparams
from corral.query.fields import BOOL
from corral.query.fields import NUMBER
from corral.query.fields import OTHER
from corral.query.fields import TEXT
from corral.query.fields import TIMESTAMP
from corral.query.fields import UNIT
from corral.query.fields import Field
from corral.query.fields import NoData
from corral.query.fields import Resource
from corral.query.fields import Status
from corral.query.fields import field

if TYPE_CHECKING:
    from corral.config.objects import ConfigData
    from corral.config.objects import Node
    from corral.masterd.context import MasterContext
    from corral.rpc.client import NodeResult


@dataclass
class NodeData:
    cfg: ConfigData
    live: dict[str, NodeResult] = dc_field(default_factory=dict)
    primaries: dict[str, list[str]] = dc_field(default_factory=dict)
    secondaries: dict[str, list[str]] = dc_field(default_factory=dict)


def role(node: Node, cfg: ConfigData) -> str:
    """Ganeti's one-letter role: Master, Candidate, Drained, Offline, Regular."""
    if node.uuid == cfg.cluster.master_node:
        return "M"
    if node.master_candidate:
        return "C"
    if node.drained:
        return "D"
    if node.offline:
        return "O"
    return "R"


def _live(node: Node, data: NodeData) -> dict[str, Any]:
    if node.offline:
        raise NoData(Status.OFFLINE)
    result = data.live.get(node.name)
    if result is None or not result.ok or not isinstance(result.result, dict):
        raise NoData()
    info: dict[str, Any] = result.result
    return info


def _hv(node: Node, data: NodeData) -> dict[str, Any]:
    """The default hypervisor's view of the node's memory and CPUs."""
    info = _live(node, data)
    hv = info.get("hv", {}).get(data.cfg.cluster.enabled_hypervisors[0])
    if not isinstance(hv, dict) or "error" in hv:
        raise NoData()
    return hv


def _disk(key: str) -> Any:
    def get(node: Node, data: NodeData) -> Any:
        value = _live(node, data).get(key)
        if value is None:
            raise NoData()
        return value

    return get


def _names(uuids: list[str], cfg: ConfigData) -> list[str]:
    return sorted(cfg.instances[u].name for u in uuids)


FIELDS: dict[str, Field] = {
    f.name: f
    for f in [
        field("name", "Node", TEXT, "Node name", lambda n, d: n.name),
        field("uuid", "UUID", TEXT, "Node UUID", lambda n, d: n.uuid),
        field("pip", "PrimaryIP", TEXT, "Primary IP address", lambda n, d: n.primary_ip),
        field("sip", "SecondaryIP", TEXT, "Secondary IP address",
              lambda n, d: n.secondary_ip or n.primary_ip),
        field("master", "IsMaster", BOOL, "Whether node is master",
              lambda n, d: n.uuid == d.cfg.cluster.master_node),
        field("master_candidate", "MasterC", BOOL, "Whether node is a master candidate",
              lambda n, d: n.master_candidate),
        field("master_capable", "MasterCapable", BOOL,
              "Whether node can become a master candidate", lambda n, d: n.master_capable),
        field("vm_capable", "VMCapable", BOOL, "Whether node can host instances",
              lambda n, d: n.vm_capable),
        field("offline", "Offline", BOOL, "Whether node is marked offline", lambda n, d: n.offline),
        field("drained", "Drained", BOOL, "Whether node is drained", lambda n, d: n.drained),
        field("powered", "Powered", BOOL, "Whether node is thought to be powered on",
              lambda n, d: n.powered),
        field("role", "Role", TEXT,
              'Node role; "M" for master, "C" for master candidate, "R" for regular,'
              ' "D" for drained, "O" for offline', lambda n, d: role(n, d.cfg)),
        field("group", "Group", TEXT, "Node group", lambda n, d: d.cfg.nodegroups[n.group].name),
        field("group.uuid", "GroupUUID", TEXT, "UUID of node group", lambda n, d: n.group),
        field("ndparams", "NodeParameters", OTHER, "Merged node parameters",
              lambda n, d: effective_ndparams(d.cfg.cluster, d.cfg.nodegroups.get(n.group), n)),
        field("custom_ndparams", "CustomNodeParameters", OTHER, "Custom node parameters",
              lambda n, d: dict(n.ndparams)),
        field("tags", "Tags", OTHER, "Tags", lambda n, d: sorted(n.tags)),
        field("serial_no", "SerialNo", NUMBER, "Node object serial number, incremented on each"
              " modification", lambda n, d: n.serial_no),
        field("ctime", "CTime", TIMESTAMP, "Creation timestamp", lambda n, d: n.ctime),
        field("mtime", "MTime", TIMESTAMP, "Modification timestamp", lambda n, d: n.mtime),
        field("pinst_cnt", "Pinst", NUMBER, "Number of instances with this node as primary",
              lambda n, d: len(d.primaries.get(n.uuid, []))),
        field("sinst_cnt", "Sinst", NUMBER, "Number of instances with this node as secondary",
              lambda n, d: len(d.secondaries.get(n.uuid, []))),
        field("pinst_list", "PriInstances", OTHER, "List of instances with this node as primary",
              lambda n, d: _names(d.primaries.get(n.uuid, []), d.cfg)),
        field("sinst_list", "SecInstances", OTHER,
              "List of instances with this node as secondary",
              lambda n, d: _names(d.secondaries.get(n.uuid, []), d.cfg)),
        field("mtotal", "MTotal", UNIT, "Total amount of memory of physical machine",
              lambda n, d: _hv(n, d)["memory_total"], live=True),
        field("mnode", "MNode", UNIT, "Amount of memory used by node (dom0 for Xen)",
              lambda n, d: _hv(n, d)["memory_dom0"], live=True),
        field("mfree", "MFree", UNIT, "Memory available for instance allocations",
              lambda n, d: _hv(n, d)["memory_free"], live=True),
        field("ctotal", "CTotal", NUMBER, "Number of logical processors",
              lambda n, d: _hv(n, d)["cpu_total"], live=True),
        field("cnodes", "CNodes", NUMBER, "Number of NUMA domains on node (if exported by"
              " hypervisor)", lambda n, d: _hv(n, d)["cpu_nodes"], live=True),
        field("csockets", "CSockets", NUMBER, "Number of physical CPU sockets (if exported by"
              " hypervisor)", lambda n, d: _hv(n, d)["cpu_sockets"], live=True),
        field("dtotal", "DTotal", UNIT, "Total disk space in the file storage directory",
              _disk("disk_total"), live=True),
        field("dfree", "DFree", UNIT, "Available disk space in the file storage directory",
              _disk("disk_free"), live=True),
        field("bootid", "BootID", TEXT, "Random UUID renewed for each system reboot, can be used"
              " for detecting reboots by tracking changes", _disk("boot_id"), live=True),
    ]
}  # fmt: skip


def resource(master: MasterContext) -> Resource[NodeData]:
    async def context(live: bool, needed: set[str]) -> NodeData:
        cfg = master.config
        data = NodeData(cfg)
        for inst in cfg.instances.values():
            data.primaries.setdefault(inst.primary_node, []).append(inst.uuid)
            for sec in inst.secondary_nodes:
                data.secondaries.setdefault(sec, []).append(inst.uuid)
        if live:
            hv = [cfg.cluster.enabled_hypervisors[0]]
            data.live = await master.rpc.call_many(
                master.targets(list(cfg.nodes.values())),
                "node_info",
                {"hypervisors": hv},
                timeout=15,
            )
        return data

    return Resource(
        what="node",
        fields=FIELDS,
        objects=lambda d: sorted(d.cfg.nodes.values(), key=lambda n: n.name),
        context=context,
        name_of=lambda n: n.name,
    )
