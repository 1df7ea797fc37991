"""Maintenance of one instance: reinstall, rename, console, activate and deactivate its disks."""

from __future__ import annotations

import dataclasses
from typing import Any

from corral.api.errors import OpPrereqError
from corral.cmdlib import instance_common as ic
from corral.cmdlib.instance_lifecycle import InstanceLU
from corral.cmdlib.instance_lifecycle import running_record
from corral.config.writer import target
from corral.hostname import check_name
from corral.locking import Level


async def _check_down(lu: InstanceLU, action: str) -> None:
    if await running_record(lu.master, lu.inst) is not None:
        raise OpPrereqError(
            f"Instance {lu.inst.name} is running, {action} needs it stopped:"
            f" 'gnt-instance shutdown {lu.inst.name}' first"
        )


class LUInstanceReinstall(InstanceLU):
    OP_ID = "OP_INSTANCE_REINSTALL"

    async def check_prereq(self) -> None:
        await super().check_prereq()
        if self.pnode.offline:
            raise OpPrereqError(f"Primary node {self.pnode.name} is offline")
        await _check_down(self, "a reinstall")
        self.os_name = self.op.os_type or self.inst.os
        if not self.os_name:
            raise OpPrereqError(f"Instance {self.inst.name} has no OS: give one with -o")
        self.osparams = self.op.osparams if self.op.osparams is not None else self.inst.osparams
        await ic.call(
            self.master,
            self.pnode,
            "os_validate",
            {
                "os_name": self.os_name,
                "osparams": self.osparams,
                "force_variant": self.op.force_variant,
            },
            timeout=90,
        )

    async def execute(self) -> Any:
        inst = self.inst
        if self.os_name != inst.os:
            inst = await ic.set_instance(self.master, inst, self.feedback, os=self.os_name)
        self.feedback(f"Running the instance OS create scripts ({self.os_name})...")
        doc = ic.document(self.master, dataclasses.replace(inst, osparams=self.osparams))
        await ic.call(
            self.master, self.pnode, "os_install", {"instance": doc, "reinstall": True}, 86400
        )
        return None


class LUInstanceRename(InstanceLU):
    OP_ID = "OP_INSTANCE_RENAME"

    def declare_locks(self) -> dict[Level, Any]:
        locks = super().declare_locks()
        self.new_name = check_name(self.op.new_name, "instance name")
        locks[Level.INSTANCE] = (sorted({self.op.instance_name, self.new_name}), False)
        return locks

    async def check_prereq(self) -> None:
        await super().check_prereq()
        if self.master.config.instance_by_name(self.new_name) is not None:
            raise OpPrereqError(f"Instance '{self.new_name}' is already in the cluster")
        await _check_down(self, "a rename")

    async def execute(self) -> Any:
        old = self.inst.name
        renamed = await ic.set_instance(self.master, self.inst, self.feedback, name=self.new_name)
        if renamed.os and not self.pnode.offline:
            doc = ic.document(self.master, renamed)
            result = await self.master.rpc.call(
                target(self.pnode), "os_install", {"instance": doc, "old_name": old}, 3600
            )
            if not result.ok:
                self.feedback(f"WARNING: the OS rename script failed: {result.error}")
        return self.new_name


class LUInstanceConsole(InstanceLU):
    OP_ID = "OP_INSTANCE_CONSOLE"
    SHARED_NODES = True
    IDEMPOTENT = True

    async def execute(self) -> Any:
        if await running_record(self.master, self.inst) is None:
            raise OpPrereqError(f"Instance {self.inst.name} is not running")
        return await ic.call(
            self.master,
            self.pnode,
            "instance_console",
            {"instance": self.doc(), "node": self.pnode.name},
        )


class LUInstanceActivateDisks(InstanceLU):
    OP_ID = "OP_INSTANCE_ACTIVATE_DISKS"

    async def execute(self) -> Any:
        found = []
        for index, disk in enumerate(self.inst.disks):
            path = await ic.call(
                self.master,
                self.pnode,
                "disk_attach",
                ic.disk_args(self.master, self.master.config, self.inst, disk, index),
            )
            found.append([self.pnode.name, f"disk/{index}", path])
        if not self.inst.disks_active:
            await ic.set_instance(self.master, self.inst, disks_active=True)
        return found


class LUInstanceDeactivateDisks(InstanceLU):
    OP_ID = "OP_INSTANCE_DEACTIVATE_DISKS"

    async def check_prereq(self) -> None:
        await super().check_prereq()
        if not self.op.force:
            await _check_down(self, "deactivating its disks")

    async def execute(self) -> Any:
        for index, disk in enumerate(self.inst.disks):
            await ic.call(
                self.master,
                self.pnode,
                "disk_detach",
                ic.disk_args(self.master, self.master.config, self.inst, disk, index),
            )
        if self.inst.disks_active:
            await ic.set_instance(self.master, self.inst, disks_active=False)
        return None
