"""OP_INSTANCE_QUERY_DATA: an instance's configuration and, unless static, its live state.

What ``gnt-instance info`` shows and RAPI's ``/2/instances/NAME/info``
returns: Ganeti's per-instance dictionary, with each disk's status on its
primary node (``pstatus``: where the disk is, as the node's storage driver
finds it without attaching anything). A node that cannot be asked gives
None where its answer would be, never a failed opcode.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from typing import Any

from twisted.internet import defer

from corral.cmdlib import instance_common as ic
from corral.cmdlib.base import LogicalUnit
from corral.config.inheritance import effective_beparams
from corral.config.inheritance import effective_nicparams
from corral.config.inheritance import effective_osparams
from corral.config.inheritance import instance_hvparams
from corral.config.writer import target
from corral.plugins.kinds import DriverKind

if TYPE_CHECKING:
    from corral.config import objects as o
    from corral.rpc.client import NodeResult

#: Ganeti's local disk status values (constants.LDS_*).
LDS_OKAY, LDS_FAULTY = 1, 3


class LUInstanceQueryData(LogicalUnit):
    OP_ID = "OP_INSTANCE_QUERY_DATA"
    REQ_BGL = False
    IDEMPOTENT = True

    async def check_prereq(self) -> None:
        cfg = self.master.config
        if self.op.instances:
            self.wanted = [ic.lookup_instance(cfg, name) for name in self.op.instances]
        else:
            self.wanted = sorted(cfg.instances.values(), key=lambda i: i.name)

    async def execute(self) -> Any:
        cfg = self.master.config
        running: dict[str, NodeResult] = {}
        disks: dict[tuple[str, int], NodeResult] = {}
        if not self.op.static:
            running, disks = await self._ask_nodes(cfg)
        return {inst.name: self._describe(cfg, inst, running, disks) for inst in self.wanted}

    async def _ask_nodes(
        self, cfg: o.ConfigData
    ) -> tuple[dict[str, NodeResult], dict[tuple[str, int], NodeResult]]:
        """instance_list per primary node and disk_find per disk, all at once."""
        rpc = self.master.rpc
        pnodes = {i.primary_node: cfg.nodes[i.primary_node] for i in self.wanted}
        hypervisors = sorted({i.hypervisor for i in self.wanted})
        listing = rpc.call_many(
            self.master.targets(sorted(pnodes.values(), key=lambda n: n.name)),
            "instance_list",
            {"hypervisors": hypervisors},
            timeout=60,
        )
        keys, finds = [], []
        for inst in self.wanted:
            node = cfg.nodes[inst.primary_node]
            for index, disk in enumerate(inst.disks):
                args = ic.disk_args(self.master, cfg, inst, disk, index)
                keys.append((inst.uuid, index))
                finds.append(
                    defer.Deferred.fromCoroutine(
                        rpc.call(target(node), "disk_find", args, timeout=60)
                    )
                )
        lists = await defer.Deferred.fromCoroutine(listing)
        found: list[NodeResult] = await defer.gatherResults(finds)
        by_node = {n.uuid: lists[n.name] for n in pnodes.values() if n.name in lists}
        return by_node, dict(zip(keys, found, strict=True))

    def _describe(
        self,
        cfg: o.ConfigData,
        inst: o.Instance,
        running: dict[str, NodeResult],
        disks: dict[tuple[str, int], NodeResult],
    ) -> dict[str, Any]:
        pnode = cfg.nodes[inst.primary_node]
        snodes = [cfg.nodes[u] for u in inst.secondary_nodes if u in cfg.nodes]
        group = cfg.nodegroups.get(pnode.group)
        hv_cls = self.master.registry.driver_class(DriverKind.HYPERVISOR, inst.hypervisor)
        return {
            "name": inst.name,
            "uuid": inst.uuid,
            "config_state": str(inst.admin_state),
            "run_state": None if self.op.static else self._run_state(inst, running),
            "pnode": pnode.name,
            "pnode_group_uuid": pnode.group,
            "pnode_group_name": group.name if group else None,
            "snodes": [n.name for n in snodes],
            "snodes_group_uuids": [n.group for n in snodes],
            "snodes_group_names": [
                g.name if (g := cfg.nodegroups.get(n.group)) else None for n in snodes
            ],
            "os": inst.os,
            "network_port": inst.network_port,
            "disk_template": inst.disk_template,
            "disks": [
                self._disk(inst, index, disk, disks.get((inst.uuid, index)))
                for index, disk in enumerate(inst.disks)
            ],
            "nics": [_nic(cfg, inst, nic, group) for nic in inst.nics],
            "hypervisor": inst.hypervisor,
            "hv_instance": dict(inst.hvparams),
            "hv_actual": instance_hvparams(cfg.cluster, inst, hv_cls.param_defaults()),
            "be_instance": dict(inst.beparams),
            "be_actual": effective_beparams(cfg.cluster, inst),
            "os_instance": dict(inst.osparams),
            "os_actual": effective_osparams(cfg.cluster, inst),
            "serial_no": inst.serial_no,
            "ctime": inst.ctime,
            "mtime": inst.mtime,
            "tags": list(inst.tags),
        }

    @staticmethod
    def _run_state(inst: o.Instance, running: dict[str, NodeResult]) -> str | None:
        """ "up" or "down" as the primary node reports it; None if it could not be asked."""
        answer = running.get(inst.primary_node)
        if answer is None or not answer.ok or not isinstance(answer.result, dict):
            return None
        return "up" if inst.name in answer.result else "down"

    def _disk(
        self, inst: o.Instance, index: int, disk: o.Disk, found: NodeResult | None
    ) -> dict[str, Any]:
        return {
            "iv_name": disk.iv_name or f"disk/{index}",
            "dev_type": disk.dev_type,
            "logical_id": disk.logical_id,
            "mode": str(disk.mode),
            "size": disk.size,
            "spindles": disk.spindles,
            "name": disk.name,
            "uuid": disk.uuid,
            "children": [],
            "pstatus": None if self.op.static else _status(found),
            "sstatus": None,
        }


def _status(found: NodeResult | None) -> dict[str, Any] | None:
    """Ganeti's BlockDevStatus of a disk on its node; None if the node gave no answer."""
    if found is None or not found.ok or not isinstance(found.result, dict):
        return None
    path = found.result.get("dev_path")
    return {
        "dev_path": path,
        "major": None,
        "minor": None,
        "sync_percent": None,
        "estimated_time": None,
        "is_degraded": path is None,
        "ldisk_status": LDS_OKAY if path is not None else LDS_FAULTY,
        "size": found.result.get("size"),
    }


def _nic(
    cfg: o.ConfigData, inst: o.Instance, nic: o.Nic, group: o.NodeGroup | None
) -> dict[str, Any]:
    params = effective_nicparams(cfg.cluster, nic, group)
    network = cfg.networks.get(nic.network) if nic.network else None
    return {
        "name": nic.name,
        "uuid": nic.uuid,
        "mac": nic.mac,
        "ip": nic.ip,
        "mode": params.get("mode"),
        "link": params.get("link"),
        "vlan": params.get("vlan"),
        "network": network.name if network else None,
        "network_uuid": nic.network,
    }
