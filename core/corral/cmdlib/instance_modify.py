"""``gnt-instance modify`` (OP_INSTANCE_SET_PARAMS) and ``grow-disk`` (OP_INSTANCE_GROW_DISK).

Parameter changes merge key by key into the instance's own values (a
value of ``default`` removes a key, so the cluster's shows through), are
typed by their owner's schema and checked against the instance policy
before anything changes. They take effect at the next start, as in Ganeti.
Disks are added (made on the instance's nodes first, so a failure leaves
the config as it was) or removed (only while the instance is down).
"""

from __future__ import annotations

import dataclasses
import time
import uuid
from typing import Any

from corral.api.errors import OpExecError
from corral.api.errors import OpPrereqError
from corral.cmdlib import instance_common as ic
from corral.cmdlib.cluster import merge
from corral.cmdlib.instance_create import GENERATE_MAC
from corral.cmdlib.instance_create import check_mac
from corral.cmdlib.instance_create import generate_mac
from corral.cmdlib.instance_create import make_nic
from corral.cmdlib.instance_create import network_uuid
from corral.cmdlib.instance_lifecycle import InstanceLU
from corral.cmdlib.instance_lifecycle import running_record
from corral.config import objects as o
from corral.config import typed
from corral.config.inheritance import effective_beparams
from corral.config.writer import target
from corral.plugins.kinds import DriverKind


class LUInstanceSetParams(InstanceLU):
    OP_ID = "OP_INSTANCE_SET_PARAMS"

    def check_arguments(self) -> None:
        op = self.op
        wanted = [op.beparams, op.hvparams, op.osparams, op.disks, op.nics]
        if not any(wanted) and op.os_name is None and op.offline is None:
            raise OpPrereqError("No changes submitted")
        unsupported = [
            name
            for name in ("disk_template", "runtime_mem", "pnode")
            if getattr(op, name) is not None
        ]
        if unsupported:
            raise OpPrereqError(f"corral cannot change {', '.join(unsupported)} yet")

    async def check_prereq(self) -> None:
        await super().check_prereq()
        op, inst, cfg, registry = self.op, self.inst, self.master.config, self.master.registry
        self.changes: dict[str, Any] = {}
        self.report: list[list[Any]] = []
        if op.beparams:
            given = dict(op.beparams)
            if "memory" in given:
                memory = given.pop("memory")
                given.setdefault("maxmem", memory)
                given.setdefault("minmem", memory)
            new = merge(inst.beparams, given)
            self.changes["beparams"] = typed.core("beparams", new, "beparams")
            self.report += [[f"be/{k}", v] for k, v in sorted(given.items())]
        if op.hvparams:
            new = merge(inst.hvparams, op.hvparams)
            self.changes["hvparams"] = typed.plugin(
                registry, DriverKind.HYPERVISOR, inst.hypervisor, new, "hvparams"
            )
            self.report += [[f"hv/{k}", v] for k, v in sorted(op.hvparams.items())]
        if op.osparams:
            self.changes["osparams"] = merge(inst.osparams, op.osparams)
            self.report += [[f"os/{k}", v] for k, v in sorted(op.osparams.items())]
        if op.os_name is not None:
            await ic.call(
                self.master,
                self.pnode,
                "os_validate",
                {
                    "os_name": op.os_name,
                    "osparams": self.changes.get("osparams", inst.osparams),
                    "force_variant": op.force_variant,
                },
                timeout=90,
            )
            self.changes["os"] = op.os_name
            self.report.append(["os", op.os_name])
        if op.offline is not None:
            if op.offline and await running_record(self.master, inst) is not None:
                raise OpPrereqError(f"Instance {inst.name} is running: shut it down first")
            self.changes["admin_state"] = o.AdminState.OFFLINE if op.offline else o.AdminState.DOWN
            self.report.append(["admin_state", "offline" if op.offline else "online"])
        self._plan_disks(cfg, inst)
        self._plan_nics(cfg, inst)
        if (op.hotplug or op.hotplug_if_possible) and (op.disks or op.nics):
            self._no_hotplug()
        be = effective_beparams(
            cfg.cluster,
            dataclasses.replace(inst, **{k: v for k, v in self.changes.items() if k == "beparams"}),
        )
        sizes = [d.size for d in self.disks]
        specs = ic.specs_of(
            cfg,
            inst,
            memory=int(be["maxmem"]),
            vcpus=int(be["vcpus"]),
            spindle_use=int(be["spindle_use"]),
            disk_sizes=sizes,
            nic_count=len(self.nics),
        )
        for warning in ic.check_ipolicy(
            cfg, self.pnode, specs, op.ignore_ipolicy, "Modifying the instance"
        ):
            self.feedback(f"WARNING: instance policy ignored: {warning}")

    def _no_hotplug(self) -> None:
        """Refuse ``--hotplug`` (or, if possible, fall back to the next start), as Ganeti.

        No hypervisor driver of corral can add devices to a running
        instance yet; Ganeti refuses the same way on its hypervisors other
        than KVM. Asked only "if possible", the change is made in the config
        and takes effect at the instance's next start.
        """
        reason = f"hot-plugging is not supported by hypervisor {self.inst.hypervisor}"
        if self.op.hotplug:
            raise OpPrereqError(
                f"Hotplug is not possible: {reason}. Drop --hotplug (or use"
                " --hotplug-if-possible) to apply the disk and NIC changes at the next start"
            )
        self.feedback(f"WARNING: {reason}: the disk and NIC changes apply at the next start")

    def _plan_disks(self, cfg: o.ConfigData, inst: o.Instance) -> None:
        self.disks = list(inst.disks)
        self.new_disks: list[o.Disk] = []
        self.removed: list[tuple[int, o.Disk]] = []
        if not self.op.disks:
            return
        cls = self.master.registry.driver_class(DriverKind.STORAGE, inst.disk_template)
        if not getattr(cls, "HAS_DISKS", True):
            raise OpPrereqError(f"Instance {inst.name} is diskless: it cannot have disks")
        now = time.time()
        for action, index, params in self.op.disks:
            if action == "add":
                size = params.get("size")
                if size is None:
                    raise OpPrereqError("a new disk needs a size")
                disk = o.Disk(
                    uuid=str(uuid.uuid4()),
                    dev_type=inst.disk_template,
                    size=int(size),
                    mode=o.DiskMode(params.get("mode", "rw")),
                    name=params.get("name"),
                    iv_name=f"disk/{len(self.disks)}",
                    nodes=(inst.primary_node, *inst.secondary_nodes),
                    ctime=now,
                    mtime=now,
                )
                self.disks.append(disk)
                self.new_disks.append(disk)
                self.report.append(
                    [f"disk/{len(self.disks) - 1}", f"add:size={size},mode={disk.mode}"]
                )
            elif action == "remove":
                position = self._index(index)
                self.removed.append((position, self.disks[position]))
                self.report.append([f"disk/{position}", "remove"])
            else:
                raise OpPrereqError(f"corral cannot {action} a disk yet (add and remove work)")
        for _position, disk in self.removed:
            self.disks.remove(disk)

    def _index(self, index: Any, devices: list[Any] | None = None, what: str = "disk") -> int:
        devices = self.disks if devices is None else devices
        count = len(devices)
        if isinstance(index, int):
            position = count + index if index < 0 else index
            if 0 <= position < count:
                return position
        else:
            for position, device in enumerate(devices):
                if index in (device.name, device.uuid):
                    return position
        raise OpPrereqError(f"Invalid {what} index {index!r} (the instance has {count} {what}s)")

    def _plan_nics(self, cfg: o.ConfigData, inst: o.Instance) -> None:
        """NIC additions, removals and changes, as Ganeti reports them (``nic.0``...)."""
        self.nics = list(inst.nics)
        if not self.op.nics:
            return
        taken: set[str] = set()
        for action, index, params in self.op.nics:
            if action == "add":
                nic = make_nic(cfg, len(self.nics), params, taken)
                self.nics.append(nic)
                link = nic.nicparams.get("link")
                self.report.append(
                    [f"nic.{len(self.nics) - 1}", f"add:mac={nic.mac},ip={nic.ip},link={link}"]
                )
            elif action == "remove":
                position = self._index(index, self.nics, "NIC")
                del self.nics[position]
                self.report.append([f"nic.{position}", "remove"])
            elif action == "modify":
                position = self._index(index, self.nics, "NIC")
                self.nics[position] = self._changed_nic(cfg, position, params, taken)
            else:
                raise OpPrereqError(f"corral cannot {action} a NIC (add, remove and modify work)")
        self.changes["nics"] = tuple(self.nics)

    def _changed_nic(
        self, cfg: o.ConfigData, position: int, params: dict[str, Any], taken: set[str]
    ) -> o.Nic:
        nic = self.nics[position]
        if "bridge" in params:  # Ganeti's old name for the link
            rest = {k: v for k, v in params.items() if k != "bridge"}
            params = {**rest, "link": params["bridge"]}
        unknown = sorted(set(params) - {"mac", "ip", "mode", "link", "vlan", "network", "name"})
        if unknown:
            raise OpPrereqError(f"nic {position}: cannot change {', '.join(unknown)}")
        changes: dict[str, Any] = {}
        if "mac" in params:
            mac = str(params["mac"]).lower()
            changes["mac"] = (
                generate_mac(cfg, taken) if mac in GENERATE_MAC
                else check_mac(cfg, position, mac, taken)
            )  # fmt: skip
        if "ip" in params:
            changes["ip"] = None if params["ip"] in (None, "", "none") else params["ip"]
        if "name" in params:
            changes["name"] = params["name"] or None
        if "network" in params:
            name = params["network"]
            changes["network"] = network_uuid(cfg, position, name) if name else None
        nicparams: dict[str, Any] = {k: params[k] for k in ("mode", "link", "vlan") if k in params}
        if nicparams:
            merged = merge(nic.nicparams, nicparams)
            changes["nicparams"] = typed.core("nicparams", merged, f"nic {position}")
        for key in sorted(params):  # Ganeti's "nic.link/0 -> br1" lines
            shown = changes["mac"] if key == "mac" else params[key]
            self.report.append([f"nic.{key}/{position}", shown])
        return dataclasses.replace(nic, **changes)

    async def execute(self) -> Any:
        inst, cfg = self.inst, self.master.config
        if self.removed and await running_record(self.master, inst) is not None:
            raise OpPrereqError(f"Instance {inst.name} is running: shut it down to remove disks")
        made: list[o.Disk] = []
        places = {d.uuid: i for i, d in enumerate(self.disks)}
        try:
            for disk in self.new_disks:
                args = ic.disk_args(self.master, cfg, inst, disk, places[disk.uuid])
                logical_id = None
                for node_uuid in disk.nodes:
                    node = cfg.nodes[node_uuid]
                    logical_id = await ic.call(self.master, node, "disk_create", args, 3600)
                made.append(dataclasses.replace(disk, logical_id=str(logical_id)))
        except BaseException:
            for disk in made:
                await self._remove_disk(cfg, inst, disk, places[disk.uuid])
            raise
        by_uuid = {d.uuid: d for d in made}
        disks = tuple(by_uuid.get(d.uuid, d) for d in self.disks)
        if self.op.disks:
            disks = tuple(dataclasses.replace(d, iv_name=f"disk/{i}") for i, d in enumerate(disks))
            self.changes["disks"] = disks
        await ic.set_instance(self.master, inst, self.feedback, **self.changes)
        for position, disk in self.removed:
            await self._remove_disk(cfg, inst, disk, position)
        return self.report

    async def _remove_disk(
        self, cfg: o.ConfigData, inst: o.Instance, disk: o.Disk, index: int
    ) -> None:
        args = ic.disk_args(
            self.master, cfg, dataclasses.replace(inst, disks=(*inst.disks, disk)), disk, index
        )
        for node_uuid in disk.nodes or (inst.primary_node,):
            node = cfg.nodes[node_uuid]
            answer = await self.master.rpc.call(target(node), "disk_remove", args, timeout=600)
            if not answer.ok:
                self.feedback(
                    f"WARNING: could not remove disk {index} on {node.name}: {answer.error}"
                )


class LUInstanceGrowDisk(InstanceLU):
    OP_ID = "OP_INSTANCE_GROW_DISK"

    async def check_prereq(self) -> None:
        await super().check_prereq()
        inst, op = self.inst, self.op
        cls = self.master.registry.driver_class(DriverKind.STORAGE, inst.disk_template)
        if not getattr(cls, "CAN_GROW", False):
            raise OpPrereqError(
                f"Instance's disk layout '{inst.disk_template}' does not support growing disks"
            )
        if not 0 <= op.disk < len(inst.disks):
            raise OpPrereqError(
                f"Invalid disk index {op.disk} (instance {inst.name} has {len(inst.disks)} disks)"
            )
        disk = inst.disks[op.disk]
        self.delta = op.amount - disk.size if op.absolute else op.amount
        if self.delta < 0:
            raise OpPrereqError(
                f"Requested size ({op.amount} MiB) is smaller than the current disk size"
                f" ({disk.size} MiB)"
            )
        self.new_size = disk.size + self.delta
        cfg = self.master.config
        sizes = [self.new_size if i == op.disk else d.size for i, d in enumerate(inst.disks)]
        ic.check_ipolicy(
            cfg,
            self.pnode,
            ic.specs_of(cfg, inst, disk_sizes=sizes),
            op.ignore_ipolicy,
            "Growing the disk",
        )
        if not getattr(cls, "SHARED", False) and self.delta:
            live = await ic.node_info(self.master, [self.pnode], inst.hypervisor)
            answer = live.get(self.pnode.name)
            free = (answer.result or {}).get("disk_free") if answer and answer.ok else None
            if free is not None and self.delta > free:
                raise OpPrereqError(
                    f"Not enough disk space on target node {self.pnode.name}: required"
                    f" {self.delta} MiB, available {free} MiB"
                )

    async def execute(self) -> Any:
        inst, op, cfg = self.inst, self.op, self.master.config
        disk = inst.disks[op.disk]
        self.feedback(
            f"Growing disk {op.disk} of instance {inst.name} by {self.delta} MiB to"
            f" {self.new_size} MiB"
        )
        args = ic.disk_args(self.master, cfg, inst, disk, op.disk)
        args["amount"] = self.delta
        for node_uuid in disk.nodes or (inst.primary_node,):
            real = await ic.call(self.master, cfg.nodes[node_uuid], "disk_grow", args, 3600)
            if isinstance(real, int) and real < self.new_size:
                raise OpExecError(
                    f"disk {op.disk} is {real} MiB after growing, not {self.new_size}"
                )
        disks = list(inst.disks)
        disks[op.disk] = dataclasses.replace(disk, size=self.new_size)
        await ic.set_instance(self.master, inst, self.feedback, disks=tuple(disks))
        self.feedback(f"Disk {op.disk} of instance {inst.name} grown")
        return None
