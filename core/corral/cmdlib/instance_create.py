"""``gnt-instance add`` (OP_INSTANCE_CREATE): check everything, then create, install, start.

Every check that can fail runs before anything changes: names, drivers,
parameters, the OS on the primary node, placement (given nodes or an
allocator), free memory and disk, the instance policy. Then the disks are
made, the instance is added to the config, the OS installs and the
instance starts. A failure while creating the disks, adding to the config
or installing the OS undoes what was done, so a failed create leaves no
disk and no config entry; an instance that was created but does not start
stays, marked down, and the error says how to start it.
"""

from __future__ import annotations

import dataclasses
import random
import re
import socket
import time
import uuid
from typing import Any

from twisted.internet import threads

from corral.api.errors import CorralError
from corral.api.errors import OpExecError
from corral.api.errors import OpPrereqError
from corral.cmdlib import instance_common as ic
from corral.cmdlib.base import LockSpec
from corral.cmdlib.base import LogicalUnit
from corral.config import objects as o
from corral.config import typed
from corral.config.inheritance import effective_beparams
from corral.config.writer import target
from corral.hostname import check_name
from corral.iallocator import request as ia_request
from corral.iallocator import runner as ia_runner
from corral.locking import ALL
from corral.locking import Level
from corral.plugins.kinds import DriverKind
from corral.rpc import instancedoc

MAC_RE = re.compile(r"^([0-9a-f]{2}:){5}[0-9a-f]{2}$")
#: NIC ``mac`` values that ask the master to make one (Ganeti's).
GENERATE_MAC = (None, "", "auto", "generate")


def generate_mac(cfg: o.ConfigData, taken: set[str]) -> str:
    """A MAC with the cluster's prefix that no NIC uses yet."""
    prefix = cfg.cluster.mac_prefix
    for _ in range(1000):
        mac = prefix + "".join(f":{random.randrange(256):02x}" for _ in range(3))
        if mac not in taken and mac not in cfg.macs_in_use:
            return mac
    raise OpExecError(f"cannot find a free MAC address with prefix {prefix}")


def network_uuid(cfg: o.ConfigData, index: int, name: str) -> str:
    found = next((n for n in cfg.networks.values() if name in (n.name, n.uuid)), None)
    if found is None:
        raise OpPrereqError(f"nic {index}: network {name} not known")
    return found.uuid


def check_mac(cfg: o.ConfigData, index: int, mac: str, taken: set[str]) -> str:
    """``mac`` (lower case) if it is a valid MAC no NIC uses yet."""
    mac = mac.lower()
    if not MAC_RE.match(mac):
        raise OpPrereqError(f"nic {index}: invalid MAC address {mac!r} (aa:00:00:xx:yy:zz)")
    if mac in taken or mac in cfg.macs_in_use:
        raise OpPrereqError(f"nic {index}: MAC address {mac} already in use")
    taken.add(mac)
    return mac


def make_nic(cfg: o.ConfigData, index: int, spec: dict[str, Any], taken: set[str]) -> o.Nic:
    """A new NIC from a Ganeti NIC spec (mac, ip, mode, link, vlan, network, name);
    ``taken`` collects the MACs given out in the same operation."""
    mac = (spec.get("mac") or "").lower()
    if mac in GENERATE_MAC:
        mac = generate_mac(cfg, taken)
        taken.add(mac)
    else:
        mac = check_mac(cfg, index, mac, taken)
    network = network_uuid(cfg, index, spec["network"]) if spec.get("network") else None
    params = {k: spec[k] for k in ("mode", "link", "vlan") if spec.get(k) is not None}
    if spec.get("bridge") and "link" not in params:
        params["link"] = spec["bridge"]
    ip = spec.get("ip")
    if ip in ("", "none"):
        ip = None
    return o.Nic(
        uuid=str(uuid.uuid4()),
        mac=mac,
        ip=ip,
        network=network,
        name=spec.get("name"),
        nicparams=typed.core("nicparams", params, f"nic {index}"),
    )


def _ip_in_use(address: str, port: int) -> bool:
    """Ganeti's --ip-check: does something answer at the address (blocking)?"""
    try:
        with socket.create_connection((address, port), timeout=1.0):
            return True
    except ConnectionRefusedError:
        return True  # a host answered (with a reset)
    except OSError:
        return False


class LUInstanceCreate(LogicalUnit):
    OP_ID = "OP_INSTANCE_CREATE"
    REQ_BGL = False

    def check_arguments(self) -> None:
        op = self.op
        if op.mode != "create":
            raise OpPrereqError(
                f"instance creation mode {op.mode!r} is not supported yet: only 'create'"
            )
        if not op.disk_template:
            raise OpPrereqError("a disk template is required (-t diskless, -t file, ...)")
        if not op.os_type and not op.no_install:
            raise OpPrereqError("an OS is required (-o OS[+VARIANT]), or --no-install")
        if op.pnode and op.iallocator:
            raise OpPrereqError("give either a node (-n) or an iallocator (-I), not both")
        self.name = check_name(op.instance_name, "instance name")
        if op.ip_check and not op.name_check:
            raise OpPrereqError("Cannot do IP address check without a name check")
        sizes = []
        for index, disk in enumerate(op.disks):
            if "size" not in disk:
                raise OpPrereqError(f"disk {index}: missing size")
            if disk.get("mode", "rw") not in ("rw", "ro"):
                raise OpPrereqError(f"disk {index}: mode must be rw or ro, not {disk['mode']!r}")
            sizes.append(int(disk["size"]))
        self.disk_sizes = sizes
        for index, nic in enumerate(op.nics):
            mac = (nic.get("mac") or "").lower()
            if mac not in GENERATE_MAC and not MAC_RE.match(mac):
                raise OpPrereqError(f"nic {index}: invalid MAC address {nic['mac']!r}")

    def declare_locks(self) -> dict[Level, LockSpec]:
        nodes: Any
        if self.op.pnode:
            names = [self.op.pnode] + ([self.op.snode] if self.op.snode else [])
            cfg = self.master.config
            nodes = [ic.lookup_node(cfg, n).uuid for n in names]
        else:
            nodes = ALL  # the allocator looks at every node
        # Shared: creations on one node run at once; the memory they need is
        # reserved on the master (MasterContext.reserved) instead.
        return {Level.INSTANCE: ([self.name], False), Level.NODE: (nodes, True)}

    # -- checks -------------------------------------------------------------------

    async def check_prereq(self) -> None:
        op, cfg, registry = self.op, self.master.config, self.master.registry
        cluster = cfg.cluster
        if cfg.instance_by_name(self.name) is not None:
            raise OpPrereqError(f"Instance '{self.name}' is already in the cluster")
        if op.name_check:
            try:
                self.ip = await threads.deferToThread(socket.gethostbyname, self.name)
            except OSError as err:
                raise OpPrereqError(
                    f"Instance name {self.name} cannot be resolved ({err}): add it to DNS"
                    " or use --no-name-check"
                ) from None
            if op.ip_check and await threads.deferToThread(_ip_in_use, self.ip, cluster.rpc_port):
                raise OpPrereqError(f"IP {self.ip} of instance {self.name} already in use")
        self.hypervisor = op.hypervisor or cluster.enabled_hypervisors[0]
        if self.hypervisor not in cluster.enabled_hypervisors:
            raise OpPrereqError(
                f"Selected hypervisor ({self.hypervisor}) not enabled in the cluster"
                f" ({', '.join(cluster.enabled_hypervisors)})"
            )
        template = op.disk_template
        if template not in cluster.enabled_disk_templates:
            raise OpPrereqError(
                f"Disk template '{template}' is not enabled in cluster. Enabled disk templates"
                f" are: {', '.join(cluster.enabled_disk_templates)}"
            )
        self.template_cls = registry.driver_class(DriverKind.STORAGE, template)
        has_disks = bool(getattr(self.template_cls, "HAS_DISKS", True))
        if has_disks and not op.disks:
            raise OpPrereqError(f"disk template {template} needs at least one disk (--disk)")
        if not has_disks and op.disks:
            raise OpPrereqError(f"disk template {template} takes no disks")
        self.beparams = self._beparams()
        self.hvparams = typed.plugin(
            registry, DriverKind.HYPERVISOR, self.hypervisor, op.hvparams or {}, "hvparams"
        )
        self.nics = self._nics(cfg)
        be = {**effective_beparams(cluster, None), **self.beparams}
        self.specs = {
            "template": template,
            "memory": int(be["maxmem"]),
            "vcpus": int(be["vcpus"]),
            "disk_sizes": self.disk_sizes,
            "nic_count": len(self.nics),
            "spindle_use": int(be["spindle_use"]),
        }
        await self._place(cfg)
        for node in self.nodes:
            ic.check_node_usable(node)
        self.warnings = ic.check_ipolicy(
            cfg, self.nodes[0], self.specs, op.ignore_ipolicy, "Instance allocation"
        )
        for warning in self.warnings:
            self.feedback(f"WARNING: instance policy ignored: {warning}")
        if op.os_type and op.os_type.split("+", 1)[0] in cluster.blacklisted_os:
            raise OpPrereqError(
                f"Guest OS '{op.os_type}' is not allowed for installation (it is blacklisted:"
                f" 'gnt-os modify --blacklisted no {op.os_type.split('+', 1)[0]}')"
            )
        if op.os_type and not op.no_install:  # checked again by a later reinstall
            osparams = dict(op.osparams or {})
            await ic.call(
                self.master,
                self.nodes[0],
                "os_validate",
                {
                    "os_name": op.os_type,
                    "osparams": osparams,
                    "force_variant": op.force_variant,
                },
                timeout=90,
            )
        await self._check_resources(be)

    def _beparams(self) -> dict[str, Any]:
        given = dict(self.op.beparams or {})
        if "memory" in given:  # Ganeti's old name: both bounds at once
            memory = given.pop("memory")
            given.setdefault("maxmem", memory)
            given.setdefault("minmem", memory)
        return typed.core("beparams", given, "beparams")

    def _nics(self, cfg: o.ConfigData) -> list[o.Nic]:
        taken: set[str] = set()
        return [make_nic(cfg, i, spec, taken) for i, spec in enumerate(self.op.nics)]

    async def _place(self, cfg: o.ConfigData) -> None:
        op = self.op
        mirrored = bool(getattr(self.template_cls, "MIRRORED", False))
        if op.pnode:
            self.nodes = [ic.lookup_node(cfg, op.pnode)]
            if op.snode:
                if not mirrored:
                    raise OpPrereqError(
                        f"disk template {op.disk_template} has no secondary node: drop -n's"
                        " second node"
                    )
                self.nodes.append(ic.lookup_node(cfg, op.snode))
                if self.nodes[1].uuid == self.nodes[0].uuid:
                    raise OpPrereqError("The secondary node cannot be the primary node")
            elif mirrored:
                raise OpPrereqError(f"disk template {op.disk_template} needs a secondary node")
            return
        name = ia_runner.resolve(op.iallocator, cfg.cluster.default_iallocator)
        nodes = list(cfg.nodes.values())
        if op.group_name:
            group = cfg.group_by_name(op.group_name)
            if group is None:
                raise OpPrereqError(f"Node group {op.group_name} not known")
            nodes = [n for n in nodes if n.group == group.uuid]
        live = await ic.node_info(self.master, nodes, self.hypervisor)
        data = ia_request.cluster_data(cfg, live, self.hypervisor, self.master.reserved)
        if op.group_name:
            data["nodes"] = {n.name: data["nodes"][n.name] for n in nodes}
        disks = [
            {"size": s, "mode": d.get("mode", "rw"), "spindles": d.get("spindles")}
            for s, d in zip(self.disk_sizes, op.disks, strict=True)
        ]
        data["request"] = {
            "type": "allocate",
            "name": self.name,
            "disk_template": op.disk_template,
            "tags": list(op.tags or []),
            "os": op.os_type,
            "vcpus": self.specs["vcpus"],
            "memory": self.specs["memory"],
            "spindle_use": self.specs["spindle_use"],
            "disks": disks,
            "disk_space_total": ia_request.disk_space(op.disk_template, disks),
            "nics": [
                {"mac": n.mac, "ip": n.ip, "bridge": n.nicparams.get("link")} for n in self.nics
            ],
            "required_nodes": 2 if mirrored else 1,
            "hypervisor": self.hypervisor,
        }
        chosen = await ia_runner.run(name, data, self.master.registry)
        self.nodes = [ic.lookup_node(cfg, n) for n in chosen]
        self.feedback(
            f"Selected nodes for instance {self.name} via iallocator {name}: {', '.join(chosen)}"
        )

    async def _check_resources(self, be: dict[str, Any]) -> None:
        pnode = self.nodes[0]
        # Fresh figures even after an allocator's round: other creations may have
        # started since, and their memory now shows in the hypervisor's count.
        live = await ic.node_info(self.master, self.nodes, self.hypervisor)
        answer = live.get(pnode.name)
        if self.op.start:
            free = ic.free_memory(answer, pnode, self.hypervisor, self.master.reserved)
            if int(be["maxmem"]) > free:
                raise OpPrereqError(
                    f"Not enough memory on node {pnode.name} for starting instance"
                    f" {self.name}: needed {be['maxmem']} MiB, available {free} MiB"
                )
            # No await since the check: no other creation can take this memory now.
            self.master.reserve(pnode.uuid, int(be["maxmem"]))
            self.reservation = (pnode.uuid, int(be["maxmem"]))
        shared = bool(getattr(self.template_cls, "SHARED", False))
        if self.disk_sizes and not shared:
            needed = ia_request.disk_space(
                self.op.disk_template, [{"size": s} for s in self.disk_sizes]
            )
            free_disk = (answer.result or {}).get("disk_free") if answer and answer.ok else None
            if free_disk is not None and needed > free_disk:
                raise OpPrereqError(
                    f"Not enough disk space on target node {pnode.name}: required {needed} MiB,"
                    f" available {free_disk} MiB"
                )

    reservation: tuple[str, int] | None = None

    def hooks_nodes(self) -> list[str]:
        """The new instance's nodes (chosen by now)."""
        return sorted(n.name for n in getattr(self, "nodes", []))

    def cleanup(self) -> None:
        if self.reservation is not None:
            self.master.unreserve(*self.reservation)
            self.reservation = None

    # -- execution ----------------------------------------------------------------

    async def execute(self) -> Any:
        op, pnode = self.op, self.nodes[0]
        now = time.time()
        disks = tuple(
            o.Disk(
                uuid=str(uuid.uuid4()),
                dev_type=op.disk_template,
                size=size,
                mode=o.DiskMode(spec.get("mode", "rw")),
                name=spec.get("name"),
                iv_name=f"disk/{index}",
                nodes=tuple(n.uuid for n in self.nodes),
                spindles=spec.get("spindles"),
                ctime=now,
                mtime=now,
            )
            for index, (size, spec) in enumerate(zip(self.disk_sizes, op.disks, strict=True))
        )
        inst = o.Instance(
            uuid=str(uuid.uuid4()),
            name=self.name,
            primary_node=pnode.uuid,
            secondary_nodes=tuple(n.uuid for n in self.nodes[1:]),
            os=op.os_type or "",
            hypervisor=self.hypervisor,
            disk_template=op.disk_template,
            hvparams=self.hvparams,
            beparams=self.beparams,
            osparams=dict(op.osparams or {}),
            admin_state=o.AdminState.UP if op.start else o.AdminState.DOWN,
            nics=tuple(self.nics),
            disks=disks,
            tags=tuple(op.tags or ()),
            ctime=now,
            mtime=now,
        )
        inst = await self._create_disks(inst)

        def add(cfg: o.ConfigData) -> o.ConfigData:
            return dataclasses.replace(cfg, instances={**cfg.instances, inst.uuid: inst})

        try:
            self.feedback(f"adding instance {self.name} to cluster config")
            cfg = await self.master.writer.update(add, self.feedback)
        except BaseException:
            await self._remove_disks(inst)
            raise
        if cfg.cluster.prealloc_wipe_disks and inst.disks:
            try:
                await wipe_disks(self, cfg, inst, pnode)
            except BaseException:
                await self._undo(inst)
                raise
        if not op.no_install:
            self.feedback("* running the instance OS create scripts...")
            doc = ic.document(self.master, inst, cfg)
            try:
                await ic.call(self.master, pnode, "os_install", {"instance": doc}, 86400)
            except BaseException as err:
                await self._undo(inst)
                if not isinstance(err, CorralError):
                    raise  # cancelled: the job is killed, and nothing is left behind
                raise OpExecError(
                    f"Could not add os for instance {self.name} on node {pnode.name}: {err}"
                ) from None
        if op.start:
            self.feedback("* starting instance...")
            try:
                await ic.call(
                    self.master,
                    pnode,
                    "instance_start",
                    {"instance": ic.document(self.master, inst, cfg)},
                )
            except CorralError as err:
                await ic.set_instance(self.master, inst, admin_state=o.AdminState.DOWN)
                raise OpExecError(
                    f"Could not start instance {self.name}: {err}. The instance exists (marked"
                    f" down): fix the cause, then 'gnt-instance startup {self.name}'"
                ) from None
        return [n.name for n in self.nodes]

    async def _create_disks(self, inst: o.Instance) -> o.Instance:
        if not inst.disks:
            return inst
        self.feedback("* creating instance disks...")
        made: list[o.Disk] = []
        cfg = self.master.config
        try:
            for index, disk in enumerate(inst.disks):
                args = ic.disk_args(self.master, cfg_with(cfg, inst), inst, disk, index)
                for node in self.nodes:
                    logical_id = await ic.call(self.master, node, "disk_create", args, 3600)
                made.append(dataclasses.replace(disk, logical_id=str(logical_id)))
        except BaseException:
            await self._remove_disks(dataclasses.replace(inst, disks=tuple(made)))
            raise
        return dataclasses.replace(inst, disks=tuple(made))

    async def _remove_disks(self, inst: o.Instance) -> None:
        cfg = cfg_with(self.master.config, inst)
        for index, disk in enumerate(inst.disks):
            args = ic.disk_args(self.master, cfg, inst, disk, index)
            for node in self.nodes:
                result = await self.master.rpc.call(target(node), "disk_remove", args, 300)
                if not result.ok:
                    self.feedback(
                        f"WARNING: could not remove disk {index} of {inst.name}"
                        f" on node {node.name}: {result.error}"
                    )

    async def _undo(self, inst: o.Instance) -> None:
        """Take a created instance out again: config entry first, then its disks."""

        def drop(cfg: o.ConfigData) -> o.ConfigData:
            rest = {u: i for u, i in cfg.instances.items() if u != inst.uuid}
            return dataclasses.replace(cfg, instances=rest)

        await self.master.writer.update(drop, self.feedback)
        await self._remove_disks(inst)


#: Largest piece of a disk wiped by one node call (MiB), as in Ganeti.
MAX_WIPE_CHUNK = 1024


async def wipe_disks(lu: LogicalUnit, cfg: o.ConfigData, inst: o.Instance, node: o.Node) -> None:
    """Overwrite every disk with zeros in chunks, reporting progress with an ETA."""
    for index, disk in enumerate(inst.disks):
        spec = instancedoc.disk_spec(cfg, inst, disk, index, lu.master.registry)
        args: dict[str, Any] = {"template": inst.disk_template, "disk": dataclasses.asdict(spec)}
        chunk = min(MAX_WIPE_CHUNK, max(1, disk.size // 10))
        lu.feedback(f"* Wiping disk {index}")
        lu.feedback(
            f" - INFO: Wiping disk {index} for instance {inst.name} on node {node.name}"
            f" using a chunk size of {chunk}"
        )
        started, offset = time.monotonic(), 0
        while offset < disk.size:
            size = min(chunk, disk.size - offset)
            await ic.call(
                lu.master, node, "disk_wipe", {**args, "offset": offset, "size": size}, 3600
            )
            offset += size
            elapsed = time.monotonic() - started
            eta = elapsed / offset * (disk.size - offset)
            lu.feedback(
                f" - INFO:  - done: {100.0 * offset / disk.size:.1f}% ETA: {format_eta(eta)}"
            )


def format_eta(seconds: float) -> str:
    """Ganeti's way of showing time left: ``1m 3s``, ``45s``, ``2h 5m``."""
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes}m"
    if minutes:
        return f"{minutes}m {secs}s"
    return f"{secs}s"


def cfg_with(cfg: o.ConfigData, inst: o.Instance) -> o.ConfigData:
    """``cfg`` with ``inst`` in it (disk specs are computed before it is stored)."""
    if inst.uuid in cfg.instances:
        return cfg
    return dataclasses.replace(cfg, instances={**cfg.instances, inst.uuid: inst})
