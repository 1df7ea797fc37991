"""The ``diskless`` disk template: an instance without any disk.

Such an instance boots from the network or from a kernel and initrd given
to the hypervisor. Nothing on a node belongs to it, so it may run on any
node of its group: the template declares itself SHARED, which lets the core
fail it over or migrate it without copying anything.
"""

from __future__ import annotations

from typing import ClassVar

from corral.api import DiskSpec
from corral.api import DiskTemplate
from corral.api import StorageError
from corral.api import VolumeInfo


class DisklessTemplate(DiskTemplate):
    """Refuses every disk operation; has no volumes and no parameters."""

    name = "diskless"
    HAS_DISKS: ClassVar[bool] = False
    #: Nothing is stored on the node, so the instance can move to any node.
    SHARED: ClassVar[bool] = True
    MIRRORED: ClassVar[bool] = False
    CAN_GROW: ClassVar[bool] = False

    def _refuse(self, action: str, disk: DiskSpec) -> StorageError:
        return StorageError(
            f"disk template {self.name!r} has no disks: cannot {action}"
            f" disk/{disk.index} of instance {disk.instance}"
        )

    async def create(self, disk: DiskSpec) -> str:
        raise self._refuse("create", disk)

    async def remove(self, disk: DiskSpec) -> None:
        raise self._refuse("remove", disk)

    async def attach(self, disk: DiskSpec) -> str:
        raise self._refuse("attach", disk)

    async def detach(self, disk: DiskSpec) -> None:
        raise self._refuse("detach", disk)

    async def grow(self, disk: DiskSpec, amount: int) -> None:
        raise self._refuse("grow", disk)

    async def size(self, disk: DiskSpec) -> int:
        raise self._refuse("report the size of", disk)

    async def list_volumes(self) -> list[VolumeInfo]:
        return []
