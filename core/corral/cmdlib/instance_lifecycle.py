"""Starting, stopping, rebooting and removing instances (Ganeti's semantics).

The config's admin state says what the operator wants; these LUs change
it and make the primary node's hypervisor agree. ``--no-remember`` acts
without changing what is wanted (the watcher would undo it, as in Ganeti).
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING
from typing import Any

from corral.api.errors import OpExecError
from corral.api.errors import OpPrereqError
from corral.cmdlib import instance_common as ic
from corral.cmdlib.base import LogicalUnit
from corral.config import objects as o
from corral.config import typed
from corral.config.inheritance import effective_beparams
from corral.config.writer import target
from corral.locking import Level
from corral.plugins.kinds import DriverKind
from corral.rpc import instancedoc

if TYPE_CHECKING:
    from corral.cmdlib.base import LockSpec


async def running_record(master: Any, inst: o.Instance) -> dict[str, Any] | None:
    """What the primary node's hypervisor reports for ``inst``, or None if it is not running."""
    node = master.config.nodes[inst.primary_node]
    listing = await ic.call(master, node, "instance_list", {"hypervisors": [inst.hypervisor]}, 60)
    record = listing.get(inst.name) if isinstance(listing, dict) else None
    return record if isinstance(record, dict) else None


class InstanceLU(LogicalUnit):
    """An LU on one existing instance: locks it and its nodes."""

    REQ_BGL = False
    #: Whether the instance's nodes are locked shared (reads) or exclusively.
    SHARED_NODES = False

    def declare_locks(self) -> dict[Level, LockSpec]:
        inst = ic.lookup_instance(self.master.config, self.op.instance_name)
        self.inst_uuid = inst.uuid
        nodes = [inst.primary_node, *inst.secondary_nodes, *self.extra_nodes()]
        return {
            Level.INSTANCE: ([inst.name], False),
            Level.NODE: (sorted(set(nodes)), self.SHARED_NODES),
        }

    def extra_nodes(self) -> list[str]:
        """More node UUIDs to lock (a migration's target)."""
        return []

    async def check_prereq(self) -> None:
        cfg = self.master.config
        inst = cfg.instances.get(self.inst_uuid)
        if inst is None:
            raise OpPrereqError(f"Instance '{self.op.instance_name}' was removed meanwhile")
        self.inst = inst
        self.pnode = cfg.nodes[inst.primary_node]

    def doc(self, **overrides: Any) -> dict[str, Any]:
        return ic.document(self.master, self.inst, **overrides)

    def hooks_nodes(self) -> list[str]:
        """The instance's nodes as they are now, and a move's target."""
        cfg = self.master.config
        inst = cfg.instances.get(getattr(self, "inst_uuid", ""))
        uuids = [inst.primary_node, *inst.secondary_nodes] if inst is not None else []
        for chosen in (getattr(self, "target", None), getattr(self, "dest", None)):
            if isinstance(chosen, o.Node):
                uuids.append(chosen.uuid)
        names = sorted({cfg.nodes[u].name for u in uuids if u in cfg.nodes})
        if inst is None:  # removed by the opcode: its post hooks run where it was
            return getattr(self, "_hooks_nodes", names)
        self._hooks_nodes = names
        return names

    def hooks_env(self) -> dict[str, str]:
        env = super().hooks_env()
        env.update(
            {"GANETI_INSTANCE_NAME": self.op.instance_name, "GANETI_OBJECT_TYPE": "INSTANCE"}
        )
        if hasattr(self, "inst"):
            cfg = self.master.config
            env["GANETI_INSTANCE_PRIMARY"] = self.pnode.name
            env["GANETI_INSTANCE_SECONDARY"] = " ".join(
                cfg.nodes[u].name for u in self.inst.secondary_nodes
            )
            env["GANETI_INSTANCE_OS_TYPE"] = self.inst.os
            env["GANETI_INSTANCE_DISK_TEMPLATE"] = self.inst.disk_template
            env["GANETI_INSTANCE_HYPERVISOR"] = self.inst.hypervisor
        return env


class LUInstanceStartup(InstanceLU):
    OP_ID = "OP_INSTANCE_STARTUP"

    async def check_prereq(self) -> None:
        await super().check_prereq()
        inst, op = self.inst, self.op
        if inst.admin_state == o.AdminState.OFFLINE:
            raise OpPrereqError(
                f"Instance {inst.name} is marked offline: bring it online with"
                f" 'gnt-instance modify --online {inst.name}' first"
            )
        if self.pnode.offline and not op.ignore_offline_nodes:
            raise OpPrereqError(f"Instance {inst.name}'s primary node {self.pnode.name} is offline")
        self.overrides: dict[str, Any] = {}
        if op.beparams:
            be = {
                **effective_beparams(self.master.config.cluster, inst),
                **typed.core("beparams", op.beparams, "beparams"),
            }
            self.overrides["memory"] = int(be["maxmem"])
        if op.hvparams:
            self.overrides["hvparams"] = typed.plugin(
                self.master.registry,
                DriverKind.HYPERVISOR,
                inst.hypervisor,
                op.hvparams,
                "hvparams",
            )
        self.running = self.pnode.offline or await running_record(self.master, inst) is not None
        if not self.running:
            memory = self.overrides.get("memory") or int(
                effective_beparams(self.master.config.cluster, inst)["maxmem"]
            )
            await ic.check_free_memory(
                self.master, self.pnode, inst.hypervisor, memory, f"starting instance {inst.name}"
            )

    async def execute(self) -> Any:
        inst = self.inst
        if not self.running:
            await ic.call(
                self.master,
                self.pnode,
                "instance_start",
                {"instance": self.doc(**self.overrides), "paused": self.op.startup_paused},
            )
        if not self.op.no_remember and inst.admin_state != o.AdminState.UP:
            await ic.set_instance(
                self.master,
                inst,
                admin_state=o.AdminState.UP,
                admin_state_source=o.AdminStateSource.ADMIN,
            )
        return None


class LUInstanceShutdown(InstanceLU):
    OP_ID = "OP_INSTANCE_SHUTDOWN"

    async def check_prereq(self) -> None:
        await super().check_prereq()
        if self.inst.admin_state == o.AdminState.OFFLINE:
            raise OpPrereqError(f"Instance {self.inst.name} is marked offline")
        if self.pnode.offline and not self.op.ignore_offline_nodes:
            raise OpPrereqError(
                f"Instance {self.inst.name}'s primary node {self.pnode.name} is offline"
                " (use --ignore-offline to mark it down anyway)"
            )

    async def execute(self) -> Any:
        inst, op = self.inst, self.op
        if not op.no_remember and inst.admin_state != o.AdminState.DOWN:
            source = o.AdminStateSource(op.admin_state_source or "admin")
            await ic.set_instance(
                self.master, inst, admin_state=o.AdminState.DOWN, admin_state_source=source
            )
        if self.pnode.offline:
            self.feedback(f"Primary node {self.pnode.name} is offline: only the config changed")
            return None
        try:
            await ic.call(
                self.master,
                self.pnode,
                "instance_stop",
                {"instance": self.doc(), "force": op.force, "timeout": op.timeout},
                timeout=op.timeout + 60,
            )
        except OpExecError as err:
            raise OpExecError(f"Could not shutdown instance {inst.name}: {err}") from None
        return None


class LUInstanceReboot(InstanceLU):
    OP_ID = "OP_INSTANCE_REBOOT"

    async def check_prereq(self) -> None:
        await super().check_prereq()
        if self.inst.admin_state != o.AdminState.UP:
            raise OpPrereqError(
                f"Instance {self.inst.name} is not marked to be running: start it with"
                f" 'gnt-instance startup {self.inst.name}'"
            )
        self.running = await running_record(self.master, self.inst) is not None
        if not self.running:
            await ic.check_free_memory(
                self.master,
                self.pnode,
                self.inst.hypervisor,
                int(effective_beparams(self.master.config.cluster, self.inst)["maxmem"]),
                f"starting instance {self.inst.name}",
            )

    async def execute(self) -> Any:
        op = self.op
        kind = op.reboot_type or "soft"
        if not self.running:
            self.feedback(f"Instance {self.inst.name} was not running: starting it")
            await ic.call(self.master, self.pnode, "instance_start", {"instance": self.doc()})
            return None
        await ic.call(
            self.master,
            self.pnode,
            "instance_reboot",
            {"instance": self.doc(), "reboot_type": kind, "shutdown_timeout": op.shutdown_timeout},
            timeout=op.shutdown_timeout + 120,
        )
        return None


class LUInstanceRemove(InstanceLU):
    OP_ID = "OP_INSTANCE_REMOVE"

    async def execute(self) -> Any:
        inst, op, cfg = self.inst, self.op, self.master.config
        self.feedback(f"Shutting down instance {inst.name} on node {self.pnode.name}")
        problems = []
        if self.pnode.offline:
            problems.append(f"primary node {self.pnode.name} is offline")
        else:
            try:
                await ic.call(
                    self.master,
                    self.pnode,
                    "instance_stop",
                    {"instance": self.doc(), "timeout": op.shutdown_timeout},
                    timeout=op.shutdown_timeout + 60,
                )
            except OpExecError as err:
                if not op.ignore_failures:
                    raise OpExecError(
                        f"Could not shutdown instance {inst.name} on node {self.pnode.name}:"
                        f" {err} (use --ignore-failures to remove it anyway)"
                    ) from None
                problems.append(str(err))
        if inst.disks:
            self.feedback(f"Removing block devices for instance {inst.name}")
        for index, disk in enumerate(inst.disks):
            spec = dataclasses.asdict(
                instancedoc.disk_spec(cfg, inst, disk, index, self.master.registry)
            )
            for uuid in disk.nodes or (inst.primary_node,):
                node = cfg.nodes[uuid]
                result = await self.master.rpc.call(
                    target(node),
                    "disk_remove",
                    {"template": inst.disk_template, "disk": spec},
                    timeout=600,
                )
                if not result.ok:
                    problems.append(f"disk/{index} on node {node.name}: {result.error}")
        if problems and not op.ignore_failures:
            raise OpExecError(
                f"Could not remove all of instance {inst.name}'s disks ({'; '.join(problems)});"
                " it stays in the config: fix the nodes, or use --ignore-failures"
            )
        for problem in problems:
            self.feedback(f"WARNING: {problem} (ignored)")
        self.feedback(f"Removing instance {inst.name} out of cluster config")

        def drop(cfg: o.ConfigData) -> o.ConfigData:
            rest = {u: i for u, i in cfg.instances.items() if u != inst.uuid}
            return dataclasses.replace(cfg, instances=rest)

        await self.master.writer.update(drop, self.feedback)
        return None
