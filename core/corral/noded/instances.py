"""The node daemon's instance and disk procedures: the plugins do the work.

Each procedure takes an instance document (:mod:`corral.rpc.instancedoc`)
or one disk, picks the driver it names, and calls it. Starting attaches
the disks first and detaches them again if the hypervisor fails, so a
failed start leaves nothing active; stopping detaches them after.
"""

from __future__ import annotations

import dataclasses
import os
from typing import TYPE_CHECKING
from typing import Any

from twisted.internet import threads
from twisted.logger import Logger

from corral.api.errors import CorralError
from corral.api.errors import OpPrereqError
from corral.api.hypervisor import BlockDevice
from corral.rpc import instancedoc

if TYPE_CHECKING:
    from corral.api.hypervisor import Hypervisor
    from corral.api.hypervisor import InstanceSpec
    from corral.api.storage import DiskSpec
    from corral.api.storage import DiskTemplate
    from corral.plugins.registry import DriverRegistry

log = Logger()

MIB = 1024 * 1024
#: Bytes written at once while wiping.
WIPE_BLOCK = 4 * MIB


def _zero(path: str, start: int, length: int) -> None:
    """Overwrite ``length`` bytes of ``path`` from ``start`` with zeros, durably."""
    block = bytes(WIPE_BLOCK)
    fd = os.open(path, os.O_WRONLY)
    try:
        done = 0
        while done < length:
            count = min(WIPE_BLOCK, length - done)
            done += os.pwrite(fd, block[:count], start + done)
        os.fsync(fd)
    finally:
        os.close(fd)


#: Ganeti's reboot types.
REBOOT_TYPES = ("soft", "hard", "full")


class InstanceProcedures:
    """Mixed into :class:`~corral.noded.methods.NodeMethods`."""

    _registry: DriverRegistry

    # -- helpers ------------------------------------------------------------------

    def _template(self, name: Any) -> DiskTemplate:
        if not isinstance(name, str):
            raise OpPrereqError("the disk template must be named by a string")
        return self._registry.disk_template(name)

    def _open(self, doc: Any) -> tuple[Hypervisor, DiskTemplate, InstanceSpec, list[DiskSpec]]:
        hv_name, template_name = instancedoc.driver_names(doc)
        spec, disks = instancedoc.decode(doc)
        return self._registry.hypervisor(hv_name), self._template(template_name), spec, disks

    async def _attach_all(
        self, template: DiskTemplate, spec: InstanceSpec, disks: list[DiskSpec]
    ) -> InstanceSpec:
        """``spec`` with its disks attached here (all or none: a failure detaches the rest)."""
        devices = []
        try:
            for disk in disks:
                path = await template.attach(disk)
                devices.append(BlockDevice(uuid=disk.uuid, path=path, mode=disk.mode))
        except BaseException:
            await self._detach_all(template, disks[: len(devices)])
            raise
        return dataclasses.replace(spec, disks=tuple(devices))

    async def _detach_all(self, template: DiskTemplate, disks: list[DiskSpec]) -> None:
        for disk in disks:
            try:
                await template.detach(disk)
            except CorralError as err:
                log.warn("cannot detach {disk}: {err}", disk=disk.uuid, err=err)

    # -- disks --------------------------------------------------------------------

    async def rpc_disk_create(self, template: str, disk: dict[str, Any]) -> str:
        """Create one disk; returns its logical id (the driver leaves nothing on failure)."""
        return await self._template(template).create(instancedoc.decode_disk(disk))

    async def rpc_disk_remove(self, template: str, disk: dict[str, Any]) -> None:
        await self._template(template).remove(instancedoc.decode_disk(disk))

    async def rpc_disk_grow(self, template: str, disk: dict[str, Any], amount: int) -> int:
        """Grow a disk by ``amount`` MiB; returns its real size after."""
        if not isinstance(amount, int) or isinstance(amount, bool) or amount < 0:
            raise OpPrereqError(f"disk_grow: amount must be a non-negative integer, not {amount!r}")
        driver, spec = self._template(template), instancedoc.decode_disk(disk)
        await driver.grow(spec, amount)
        return await driver.size(dataclasses.replace(spec, size=spec.size + amount))

    async def rpc_disk_attach(self, template: str, disk: dict[str, Any]) -> str:
        return await self._template(template).attach(instancedoc.decode_disk(disk))

    async def rpc_disk_detach(self, template: str, disk: dict[str, Any]) -> None:
        await self._template(template).detach(instancedoc.decode_disk(disk))

    async def rpc_disk_wipe(
        self, template: str, disk: dict[str, Any], offset: int, size: int
    ) -> None:
        """Write zeros over ``size`` MiB of a disk from ``offset`` MiB (one chunk of a wipe)."""
        for name, value in (("offset", offset), ("size", size)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise OpPrereqError(f"disk_wipe: {name} must be a non-negative integer")
        driver, spec = self._template(template), instancedoc.decode_disk(disk)
        if offset + size > spec.size:
            raise OpPrereqError(
                f"disk_wipe: {offset}+{size} MiB lies beyond the disk's {spec.size} MiB"
            )
        path = await driver.attach(spec)
        await threads.deferToThread(_zero, path, offset * MIB, size * MIB)

    # -- lifecycle ----------------------------------------------------------------

    async def rpc_instance_start(self, instance: dict[str, Any], paused: bool = False) -> None:
        hv, template, spec, disks = self._open(instance)
        spec = await self._attach_all(template, spec, disks)
        try:
            await hv.start(spec, paused=bool(paused))
        except BaseException:
            await self._detach_all(template, disks)
            raise
        log.info("started instance {name}", name=spec.name)

    async def rpc_instance_stop(
        self, instance: dict[str, Any], force: bool = False, timeout: int = 120
    ) -> None:
        hv, template, spec, disks = self._open(instance)
        await hv.stop(spec, force=bool(force), timeout=int(timeout))
        await self._detach_all(template, disks)
        log.info("stopped instance {name}", name=spec.name)

    async def rpc_instance_reboot(
        self, instance: dict[str, Any], reboot_type: str, shutdown_timeout: int = 120
    ) -> None:
        """soft/hard: the hypervisor reboots it; full: stop, then start with fresh disks."""
        if reboot_type not in REBOOT_TYPES:
            raise OpPrereqError(
                f"unknown reboot type {reboot_type!r} (known: {', '.join(REBOOT_TYPES)})"
            )
        hv, template, spec, disks = self._open(instance)
        if reboot_type != "full":
            await hv.reboot(spec)
            return
        await hv.stop(spec, timeout=int(shutdown_timeout))
        await self._detach_all(template, disks)
        await self.rpc_instance_start(instance)

    async def rpc_instance_balloon(self, instance: dict[str, Any], memory: int) -> None:
        hv, _template, spec, _disks = self._open(instance)
        await hv.balloon_memory(spec, int(memory))

    async def rpc_instance_console(self, instance: dict[str, Any], node: str) -> dict[str, Any]:
        hv, _template, spec, _disks = self._open(instance)
        return dataclasses.asdict(hv.console(spec, node))

    # -- migration (Ganeti's order; see corral.api.Hypervisor) ---------------------

    async def rpc_instance_migration_info(self, instance: dict[str, Any]) -> dict[str, Any]:
        hv, _template, spec, _disks = self._open(instance)
        return await hv.migration_info(spec)

    async def rpc_instance_accept(
        self, instance: dict[str, Any], info: dict[str, Any], target: str
    ) -> None:
        """Target side: attach the disks here and prepare to receive the instance."""
        hv, template, spec, disks = self._open(instance)
        spec = await self._attach_all(template, spec, disks)
        try:
            await hv.accept_instance(spec, info, target)
        except BaseException:
            await self._detach_all(template, disks)
            raise

    async def rpc_instance_migrate(self, instance: dict[str, Any], target: str, live: bool) -> None:
        hv, template, spec, disks = self._open(instance)
        spec = await self._attach_all(template, spec, disks)
        await hv.migrate(spec, target, live=bool(live))

    async def rpc_instance_migration_status(self, instance: dict[str, Any]) -> str:
        hv, _template, spec, _disks = self._open(instance)
        return str(await hv.migration_status(spec))

    async def rpc_instance_finalize_dst(
        self, instance: dict[str, Any], info: dict[str, Any], success: bool
    ) -> None:
        hv, template, spec, disks = self._open(instance)
        await hv.finalize_migration_dst(spec, info, bool(success))
        if not success:
            await self._detach_all(template, disks)

    async def rpc_instance_finalize_src(
        self, instance: dict[str, Any], success: bool, live: bool
    ) -> None:
        hv, template, spec, disks = self._open(instance)
        await hv.finalize_migration_src(spec, bool(success), bool(live))
        if success:
            await self._detach_all(template, disks)
