"""The six kinds of driver plugin and what corral knows about each."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING

from corral.api.collector import DataCollector
from corral.api.hypervisor import Hypervisor
from corral.api.iallocator import IAllocator
from corral.api.network import NetworkLink
from corral.api.osdef import OSDefinition
from corral.api.storage import DiskTemplate

if TYPE_CHECKING:
    from corral.api.driver import Driver


class DriverKind(StrEnum):
    """A kind of driver; its value is the entry-point group's suffix."""

    HYPERVISOR = "hypervisors"
    STORAGE = "storage"
    NETWORK = "network"
    COLLECTOR = "collectors"
    IALLOCATOR = "iallocators"
    OSDEF = "osdefs"

    @property
    def group(self) -> str:
        """The entry-point group drivers of this kind register in."""
        return f"corral.{self.value}"

    @property
    def label(self) -> str:
        """What an operator calls one driver of this kind."""
        return _LABELS[self]

    @property
    def base(self) -> type[Driver]:
        """The abstract class every driver of this kind derives from."""
        return _BASES[self]

    def distribution(self, name: str) -> str:
        """The pip distribution that, by corral's naming rule, ships driver ``name``."""
        return f"corral-{_DIST_PREFIX[self]}-{name}"


_LABELS = {
    DriverKind.HYPERVISOR: "hypervisor",
    DriverKind.STORAGE: "disk template",
    DriverKind.NETWORK: "NIC mode",
    DriverKind.COLLECTOR: "data collector",
    DriverKind.IALLOCATOR: "iallocator",
    DriverKind.OSDEF: "OS definition",
}

_BASES: dict[DriverKind, type[Driver]] = {
    DriverKind.HYPERVISOR: Hypervisor,
    DriverKind.STORAGE: DiskTemplate,
    DriverKind.NETWORK: NetworkLink,
    DriverKind.COLLECTOR: DataCollector,
    DriverKind.IALLOCATOR: IAllocator,
    DriverKind.OSDEF: OSDefinition,
}

_DIST_PREFIX = {
    DriverKind.HYPERVISOR: "hv",
    DriverKind.STORAGE: "storage",
    DriverKind.NETWORK: "net",
    DriverKind.COLLECTOR: "collector",
    DriverKind.IALLOCATOR: "ialloc",
    DriverKind.OSDEF: "os",
}
