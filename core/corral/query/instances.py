"""The ``instance`` query: Ganeti's instance fields (``gnt-instance list``)."""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field as dc_field
from typing import TYPE_CHECKING
from typing import Any

from corral.config.inheritance import effective_beparams
from corral.config.inheritance import effective_nicparams
from corral.config.objects import AdminState
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
    from corral.config.objects import Instance
    from corral.masterd.context import MasterContext
    from corral.rpc.client import NodeResult


@dataclass
class InstanceData:
    cfg: ConfigData
    #: instance_list answers by node UUID (only when live fields are asked for).
    live: dict[str, NodeResult] = dc_field(default_factory=dict)


def _running(inst: Instance, data: InstanceData) -> dict[str, Any] | None:
    """The hypervisor's record of the instance on its primary, None if it is not running."""
    node = data.cfg.nodes[inst.primary_node]
    if node.offline:
        raise NoData(Status.OFFLINE)
    result = data.live.get(node.uuid)
    if result is None or not result.ok or not isinstance(result.result, dict):
        raise NoData()
    record = result.result.get(inst.name)
    return record if isinstance(record, dict) else None


def status(inst: Instance, data: InstanceData) -> str:
    """Ganeti's combined status: what the admin wants against what runs."""
    node = data.cfg.nodes[inst.primary_node]
    if node.offline:
        return "ERROR_nodeoffline"
    try:
        running = _running(inst, data) is not None
    except NoData:
        return "ERROR_nodedown"
    if running:
        return "running" if inst.admin_state is AdminState.UP else "ERROR_up"
    if inst.admin_state is AdminState.UP:
        return "ERROR_down"
    if inst.admin_state is AdminState.OFFLINE:
        return "ADMIN_offline"
    return "ADMIN_down"


def _oper(key: str) -> Any:
    def get(inst: Instance, data: InstanceData) -> Any:
        record = _running(inst, data)
        if record is None:
            raise NoData(Status.UNAVAIL)
        return record[key]

    return get


def _be(key: str) -> Any:
    return lambda i, d: effective_beparams(d.cfg.cluster, i)[key]


def _nic(key: str) -> Any:
    def get(inst: Instance, data: InstanceData) -> list[Any]:
        group = data.cfg.nodegroups.get(data.cfg.nodes[inst.primary_node].group)
        return [effective_nicparams(data.cfg.cluster, nic, group)[key] for nic in inst.nics]

    return get


FIELDS: dict[str, Field] = {
    f.name: f
    for f in [
        field("name", "Instance", TEXT, "Instance name", lambda i, d: i.name),
        field("uuid", "UUID", TEXT, "Instance UUID", lambda i, d: i.uuid),
        field("os", "OS", TEXT, "Operating system", lambda i, d: i.os),
        field("hypervisor", "Hypervisor", TEXT, "Hypervisor name", lambda i, d: i.hypervisor),
        field("pnode", "Primary_node", TEXT, "Primary node",
              lambda i, d: d.cfg.nodes[i.primary_node].name),
        field("pnode.group", "PrimaryNodeGroup", TEXT, "Primary node's group",
              lambda i, d: d.cfg.nodegroups[d.cfg.nodes[i.primary_node].group].name),
        field("snodes", "Secondary_Nodes", OTHER, "Secondary nodes; usually this will just be"
              " one node", lambda i, d: [d.cfg.nodes[s].name for s in i.secondary_nodes]),
        field("admin_state", "InstanceState", TEXT, "Desired state of the instance",
              lambda i, d: str(i.admin_state)),
        field("admin_state_source", "InstanceStateSource", TEXT,
              "Who last changed the desired state of the instance",
              lambda i, d: str(i.admin_state_source)),
        field("admin_up", "Autostart", BOOL, "Desired state of the instance; if true, the"
              " instance should be running", lambda i, d: i.admin_state is AdminState.UP),
        field("disk_template", "Disk_template", TEXT, "Instance disk template",
              lambda i, d: i.disk_template),
        field("disks_active", "DisksActive", BOOL, "Desired state of the instance disks",
              lambda i, d: i.disks_active),
        field("status", "Status", TEXT, "Instance status; \"running\" if instance is set to be"
              " running and actually is, \"ADMIN_down\" if instance is stopped and is not"
              " running, \"ERROR_up\", \"ERROR_down\", \"ERROR_nodedown\" or"
              " \"ERROR_nodeoffline\" when the actual state differs from the desired one or the"
              " primary node cannot be asked", status, live=True),
        field("oper_state", "Running", BOOL, "Actual state of instance",
              lambda i, d: _running(i, d) is not None, live=True),
        field("oper_ram", "Memory", UNIT, "Actual memory usage as seen by hypervisor",
              _oper("memory"), live=True),
        field("oper_vcpus", "VCPUs", NUMBER, "Actual number of VCPUs as seen by hypervisor",
              _oper("vcpus"), live=True),
        field("be/maxmem", "ConfigMaxMem", UNIT, "The maximum memory size", _be("maxmem")),
        field("be/minmem", "ConfigMinMem", UNIT, "The minimum memory size", _be("minmem")),
        field("be/memory", "ConfigMemory", UNIT, "The maximum memory size (an alias of"
              " be/maxmem)", _be("maxmem")),
        field("be/vcpus", "ConfigVCPUs", NUMBER, "The number of virtual CPUs", _be("vcpus")),
        field("be/spindle_use", "ConfigSpindleUse", NUMBER, "The number of spindles used",
              _be("spindle_use")),
        field("be/auto_balance", "ConfigAutoBalance", BOOL, "Whether the instance is considered"
              " in the N+1 cluster checks", _be("auto_balance")),
        field("be/always_failover", "ConfigAlwaysFailover", BOOL,
              "Whether to fail over instead of migrating", _be("always_failover")),
        field("beparams", "BackendParameters", OTHER, "Backend parameters (merged)",
              lambda i, d: effective_beparams(d.cfg.cluster, i)),
        field("custom_beparams", "CustomBackendParameters", OTHER, "Custom backend parameters",
              lambda i, d: dict(i.beparams)),
        field("custom_hvparams", "CustomHypervisorParameters", OTHER,
              "Custom hypervisor parameters", lambda i, d: dict(i.hvparams)),
        field("custom_osparams", "CustomOsParameters", OTHER, "Custom operating system"
              " parameters", lambda i, d: dict(i.osparams)),
        field("network_port", "Network_port", OTHER, "Instance network port if available (e.g."
              " for VNC console)", lambda i, d: i.network_port),
        field("disk.count", "Disks", NUMBER, "Number of disks", lambda i, d: len(i.disks)),
        field("disk.sizes", "Disk_sizes", OTHER, "List of disk sizes",
              lambda i, d: [disk.size for disk in i.disks]),
        field("disk_usage", "DiskUsage", UNIT, "Total disk space used by instance on each of"
              " its nodes", lambda i, d: sum(disk.size for disk in i.disks)),
        field("disk.names", "Disk_names", OTHER, "List of disk names",
              lambda i, d: [disk.name for disk in i.disks]),
        field("disk.uuids", "Disk_UUIDs", OTHER, "List of disk UUIDs",
              lambda i, d: [disk.uuid for disk in i.disks]),
        field("disk.spindles", "Disk_spindles", OTHER, "List of disk spindles",
              lambda i, d: [disk.spindles for disk in i.disks]),
        field("nic.count", "NICs", NUMBER, "Number of network interfaces",
              lambda i, d: len(i.nics)),
        field("nic.macs", "NIC_MACs", OTHER, "List containing each network interface's MAC"
              " address", lambda i, d: [nic.mac for nic in i.nics]),
        field("nic.ips", "NIC_IPs", OTHER, "List containing each network interface's IP"
              " address", lambda i, d: [nic.ip for nic in i.nics]),
        field("nic.names", "NIC_Names", OTHER, "List containing each network interface's name",
              lambda i, d: [nic.name for nic in i.nics]),
        field("nic.modes", "NIC_modes", OTHER, "List containing each network interface's mode",
              _nic("mode")),
        field("nic.links", "NIC_links", OTHER, "List containing each network interface's link",
              _nic("link")),
        field("tags", "Tags", OTHER, "Tags", lambda i, d: sorted(i.tags)),
        field("serial_no", "SerialNo", NUMBER, "Instance object serial number, incremented on"
              " each modification", lambda i, d: i.serial_no),
        field("ctime", "CTime", TIMESTAMP, "Creation timestamp", lambda i, d: i.ctime),
        field("mtime", "MTime", TIMESTAMP, "Modification timestamp", lambda i, d: i.mtime),
    ]
}  # fmt: skip


def resource(master: MasterContext) -> Resource[InstanceData]:
    async def context(live: bool, needed: set[str]) -> InstanceData:
        cfg = master.config
        data = InstanceData(cfg)
        if live:
            used = {i.primary_node for i in cfg.instances.values()}
            nodes = [cfg.nodes[u] for u in used]
            answers = await master.rpc.call_many(
                master.targets(nodes), "instance_list",
                {"hypervisors": list(cfg.cluster.enabled_hypervisors)}, timeout=15,
            )  # fmt: skip
            data.live = {n.uuid: answers[n.name] for n in nodes}
        return data

    return Resource(
        what="instance",
        fields=FIELDS,
        objects=lambda d: sorted(d.cfg.instances.values(), key=lambda i: i.name),
        context=context,
        name_of=lambda i: i.name,
    )
