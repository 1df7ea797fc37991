"""The storage driver interface (entry-point group ``corral.storage``).

One driver per disk template (``diskless``, ``file``, ``sharedfile``,
``plain``, ``drbd``, ``rbd``, ``ext``, ...). The driver runs on the node that
holds the disk; the master decides *where* a disk goes, the driver decides
*how* it is made.
"""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass
from dataclasses import field
from typing import Any
from typing import ClassVar

from corral.api.driver import Driver
from corral.api.errors import StorageError


@dataclass(frozen=True)
class DiskSpec:
    """One instance disk as a storage driver sees it.

    ``params`` are the template's diskparams, already filled (plugin
    defaults, cluster, group). ``logical_id`` is ``None`` until
    :meth:`DiskTemplate.create` has returned one; the core stores it in the
    config and passes it back on every later call. ``storage_dir`` is the
    cluster's directory for file-based templates.
    """

    uuid: str
    instance: str
    index: int
    size: int  # MiB
    mode: str = "rw"
    name: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    logical_id: str | None = None
    storage_dir: str | None = None


@dataclass(frozen=True)
class VolumeInfo:
    """A volume that exists on this node (for orphan and missing-volume checks)."""

    logical_id: str
    size: int  # MiB
    instance: str | None = None


class DiskTemplate(Driver):
    """A disk template: how an instance's disks are created, found and removed."""

    kind = "storage"
    #: False for templates without disks at all (``diskless``).
    HAS_DISKS: ClassVar[bool] = True
    #: True if every node of the group sees the same disk (migrate/failover without copy).
    SHARED: ClassVar[bool] = False
    #: True if the template replicates to a secondary node (``drbd``).
    MIRRORED: ClassVar[bool] = False
    CAN_GROW: ClassVar[bool] = True

    @abstractmethod
    async def create(self, disk: DiskSpec) -> str:
        """Create the disk and return its logical id. On failure leave nothing behind."""

    @abstractmethod
    async def remove(self, disk: DiskSpec) -> None:
        """Remove the disk; removing a disk that is already gone is not an error."""

    @abstractmethod
    async def attach(self, disk: DiskSpec) -> str:
        """Make the disk usable on this node and return its path (error if missing)."""

    @abstractmethod
    async def detach(self, disk: DiskSpec) -> None:
        """Undo :meth:`attach`; the data stays."""

    @abstractmethod
    async def grow(self, disk: DiskSpec, amount: int) -> None:
        """Grow the disk by ``amount`` MiB."""

    @abstractmethod
    async def size(self, disk: DiskSpec) -> int:
        """The disk's real size on this node, in MiB."""

    async def find(self, disk: DiskSpec) -> str | None:
        """Where the disk is on this node (its path), or None if it is not there.

        Read-only: ``gnt-instance info`` asks it of running and stopped
        instances alike, so nothing may be attached or changed. A template
        that cannot tell without side effects keeps this default.
        """
        raise StorageError(
            f"disk template {self.name!r} cannot look up disk/{disk.index} of instance"
            f" {disk.instance} without attaching it"
        )

    @abstractmethod
    async def list_volumes(self) -> list[VolumeInfo]:
        """Every volume of this template on this node."""

    async def verify(self) -> list[str]:
        """Problems with this node's setup for the template (empty when healthy)."""
        return []
