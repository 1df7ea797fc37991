"""The node daemon's instance and disk procedures: the plugins do the work.

Each procedure takes an instance document (:mod:`corral.rpc.instancedoc`)
or one disk, picks the driver it names, and calls it. Starting attaches
the disks first and detaches them again if the hypervisor fails, so a
failed start leaves nothing active; stopping detaches them after.
"""

from __future__ import annotations

import base64
import dataclasses
import errno
import os
from typing import TYPE_CHECKING
from typing import Any

from twisted.internet import threads
from twisted.logger import Logger

from corral.api.errors import CorralError
from corral.api.errors import OpExecError
from corral.api.errors import OpPrereqError
from corral.api.hypervisor import BlockDevice
from corral.paths import node_local
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


def _here(template: DiskTemplate, disk: DiskSpec) -> DiskSpec:
    """``disk`` with a node-local storage directory as this node sees it (shared ones stay)."""
    if getattr(template, "SHARED", False) or not disk.storage_dir:
        return disk
    return dataclasses.replace(disk, storage_dir=node_local(disk.storage_dir))


def _read(path: str, start: int, length: int) -> bytes:
    fd = os.open(path, os.O_RDONLY)
    try:
        return os.pread(fd, length, start)
    finally:
        os.close(fd)


def _hole(path: str, start: int, end: int) -> int:
    """Bytes from ``start`` that hold no data (a sparse file's hole), up to ``end``.

    0 where the filesystem cannot tell (a block device): then the data is read.
    """
    fd = os.open(path, os.O_RDONLY)
    try:
        data = os.lseek(fd, start, os.SEEK_DATA)
    except OSError as err:
        if err.errno == errno.ENXIO:  # no data from here to the end
            return end - start
        return 0  # SEEK_DATA not supported here
    finally:
        os.close(fd)
    return max(0, min(data, end) - start)


def _write(path: str, start: int, data: bytes, zero: int, sync: bool) -> None:
    """Write ``data`` at ``start``, or with ``zero`` make that many bytes read as zeros.

    A new disk usually reads as zeros already (a sparse file): then nothing
    is written, so a copied sparse disk stays sparse.
    """
    if zero and _hole(path, start, start + zero) >= zero:
        return  # a hole already: nothing to write (and the copy stays sparse)
    fd = os.open(path, os.O_RDWR)
    try:
        if zero:
            for done in range(0, zero, WIPE_BLOCK):
                count = min(WIPE_BLOCK, zero - done)
                block = bytes(count)
                if os.pread(fd, count, start + done) != block:
                    os.pwrite(fd, block, start + done)
        else:
            view, done = memoryview(data), 0
            while done < len(data):
                done += os.pwrite(fd, view[done:], start + done)
        if sync:
            os.fsync(fd)
    finally:
        os.close(fd)


def _mib(method: str, **values: Any) -> None:
    for name, value in values.items():
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise OpPrereqError(f"{method}: {name} must be a non-negative integer, not {value!r}")


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
        template = self._template(template_name)
        disks = [_here(template, disk) for disk in disks]
        return self._registry.hypervisor(hv_name), template, spec, disks

    def _disk(self, template: str, data: Any) -> tuple[DiskTemplate, DiskSpec]:
        driver = self._template(template)
        return driver, _here(driver, instancedoc.decode_disk(data))

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
        driver, spec = self._disk(template, disk)
        return await driver.create(spec)

    async def rpc_disk_remove(self, template: str, disk: dict[str, Any]) -> None:
        driver, spec = self._disk(template, disk)
        await driver.remove(spec)

    async def rpc_disk_grow(self, template: str, disk: dict[str, Any], amount: int) -> int:
        """Grow a disk by ``amount`` MiB; returns its real size after."""
        if not isinstance(amount, int) or isinstance(amount, bool) or amount < 0:
            raise OpPrereqError(f"disk_grow: amount must be a non-negative integer, not {amount!r}")
        driver, spec = self._disk(template, disk)
        await driver.grow(spec, amount)
        return await driver.size(dataclasses.replace(spec, size=spec.size + amount))

    async def rpc_disk_attach(self, template: str, disk: dict[str, Any]) -> str:
        driver, spec = self._disk(template, disk)
        return await driver.attach(spec)

    async def rpc_disk_find(self, template: str, disk: dict[str, Any]) -> dict[str, Any]:
        """Where a disk is on this node and how big (read-only: ``gnt-instance info``)."""
        driver, spec = self._disk(template, disk)
        path = await driver.find(spec)
        size = await driver.size(spec) if path is not None else None
        return {"dev_path": path, "size": size}

    async def rpc_disk_detach(self, template: str, disk: dict[str, Any]) -> None:
        driver, spec = self._disk(template, disk)
        await driver.detach(spec)

    async def rpc_disk_wipe(
        self, template: str, disk: dict[str, Any], offset: int, size: int
    ) -> None:
        """Write zeros over ``size`` MiB of a disk from ``offset`` MiB (one chunk of a wipe)."""
        _mib("disk_wipe", offset=offset, size=size)
        driver, spec = self._disk(template, disk)
        if offset + size > spec.size:
            raise OpPrereqError(
                f"disk_wipe: {offset}+{size} MiB lies beyond the disk's {spec.size} MiB"
            )
        path = await driver.attach(spec)
        await threads.deferToThread(_zero, path, offset * MIB, size * MIB)

    async def rpc_disk_read(
        self, template: str, disk: dict[str, Any], offset: int, size: int
    ) -> dict[str, Any]:
        """``size`` MiB of a disk from ``offset`` MiB, for a copy to another node.

        A piece that is all zeros comes back as ``{"zero": bytes}`` rather
        than as data, so sparse disks cost no transfer; where the disk has a
        hole (a sparse file), that length covers the whole hole in whole MiB,
        which may be more than was asked for.
        """
        _mib("disk_read", offset=offset, size=size)
        driver, spec = self._disk(template, disk)
        if offset + size > spec.size:
            raise OpPrereqError(
                f"disk_read: {offset}+{size} MiB lies beyond the disk's {spec.size} MiB"
            )
        path = await driver.attach(spec)
        hole = await threads.deferToThread(_hole, path, offset * MIB, spec.size * MIB)
        if hole >= size * MIB:
            return {"zero": hole // MIB * MIB}
        data = await threads.deferToThread(_read, path, offset * MIB, size * MIB)
        if len(data) != size * MIB:
            raise OpExecError(f"disk_read: {path} ended after {offset * MIB + len(data)} bytes")
        if data == bytes(len(data)):
            return {"zero": len(data)}
        return {"data": base64.b64encode(data).decode("ascii")}

    async def rpc_disk_write(
        self,
        template: str,
        disk: dict[str, Any],
        offset: int,
        document: bytes,
        zero: int = 0,
        sync: bool = False,
    ) -> None:
        """Write the request body at ``offset`` MiB of a disk (or ``zero`` bytes of zeros).

        ``sync`` makes the disk durable: the copy's last piece asks for it.
        """
        _mib("disk_write", offset=offset, zero=zero)
        driver, spec = self._disk(template, disk)
        length = zero or len(document)
        if offset * MIB + length > spec.size * MIB:
            raise OpPrereqError(
                f"disk_write: {length} bytes at {offset} MiB lie beyond the disk's {spec.size} MiB"
            )
        path = await driver.attach(spec)
        await threads.deferToThread(_write, path, offset * MIB, document, zero, bool(sync))

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
