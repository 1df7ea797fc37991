"""The hypervisor driver interface (entry-point group ``corral.hypervisors``)."""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass
from dataclasses import field
from enum import StrEnum
from typing import Any
from typing import ClassVar

from corral.api.driver import Driver
from corral.api.errors import HypervisorError


@dataclass(frozen=True)
class BlockDevice:
    """A disk as the hypervisor sees it: a path on this node, ready to open."""

    uuid: str
    path: str
    mode: str = "rw"


@dataclass(frozen=True)
class NicSpec:
    """A NIC as the hypervisor sees it, with its nicparams already filled."""

    uuid: str
    mac: str
    ip: str | None = None
    mode: str = "bridged"
    link: str = ""
    vlan: str = ""
    name: str | None = None


@dataclass(frozen=True)
class InstanceSpec:
    """Everything a hypervisor needs to run an instance, parameters filled.

    The core resolves inheritance (plugin defaults, cluster, OS, instance)
    before building this, so a driver never looks at the cluster config.
    """

    name: str
    uuid: str
    memory: int  # MiB to give the instance now (between minmem and maxmem)
    vcpus: int
    hvparams: dict[str, Any] = field(default_factory=dict)
    disks: tuple[BlockDevice, ...] = ()
    nics: tuple[NicSpec, ...] = ()
    os: str = ""


class InstanceState(StrEnum):
    RUNNING = "running"
    PAUSED = "paused"
    SHUTDOWN = "shutdown"  # shut down from inside the guest (user shutdown)
    CRASHED = "crashed"


@dataclass(frozen=True)
class RunningInstance:
    """One instance as the hypervisor reports it."""

    name: str
    state: InstanceState
    memory: int
    vcpus: int
    uptime: float = 0.0


@dataclass(frozen=True)
class NodeHvInfo:
    """A node's resources as the hypervisor sees them (MiB, CPU counts)."""

    memory_total: int
    memory_free: int
    memory_dom0: int
    cpu_total: int
    cpu_nodes: int = 1
    cpu_sockets: int = 1


@dataclass(frozen=True)
class ConsoleInfo:
    """How to reach an instance's console: a command to run, or a message."""

    instance: str
    kind: str  # "ssh", "vnc", "spice" or "message"
    command: tuple[str, ...] = ()
    host: str | None = None
    port: int | None = None
    message: str | None = None


class MigrationStatus(StrEnum):
    ACTIVE = "active"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


class Hypervisor(Driver):
    """A way of running instances on a node (KVM, Xen, LXC, fake, ...).

    Capability flags are declared here and checked by
    :class:`corral.testing.HypervisorConformance`.
    """

    kind = "hypervisors"
    #: Whether :meth:`migrate` and friends work.
    CAN_MIGRATE: ClassVar[bool] = False

    @abstractmethod
    async def start(self, instance: InstanceSpec, *, paused: bool = False) -> None:
        """Start ``instance``; raise :class:`HypervisorError` if it cannot run."""

    @abstractmethod
    async def stop(
        self, instance: InstanceSpec, *, force: bool = False, timeout: int = 120
    ) -> None:
        """Stop ``instance``: ask the guest to shut down, kill it after ``timeout`` s
        (at once with ``force``). Stopping an instance that is not running is not an error."""

    @abstractmethod
    async def reboot(self, instance: InstanceSpec) -> None:
        """Reboot a running instance (error if it is not running)."""

    @abstractmethod
    async def list_instances(self) -> list[str]:
        """Names of the instances this hypervisor runs on this node."""

    @abstractmethod
    async def instance_info(self, name: str) -> RunningInstance | None:
        """State of one instance, or ``None`` if it is not running here."""

    async def all_instances_info(self) -> list[RunningInstance]:
        """State of every instance running here."""
        infos = [await self.instance_info(name) for name in await self.list_instances()]
        return [info for info in infos if info is not None]

    @abstractmethod
    async def node_info(self) -> NodeHvInfo:
        """Memory and CPU of this node as this hypervisor can use them."""

    @abstractmethod
    def console(self, instance: InstanceSpec, node: str) -> ConsoleInfo:
        """How an operator on the master reaches ``instance``'s console on ``node``."""

    async def verify(self) -> list[str]:
        """Problems with this node's hypervisor setup (empty when healthy)."""
        return []

    async def balloon_memory(self, instance: InstanceSpec, memory: int) -> None:
        """Change a running instance's memory to ``memory`` MiB."""
        raise HypervisorError(f"hypervisor {self.name!r} cannot change memory at runtime")

    # Live migration, in Ganeti's order: migration_info (source) ->
    # accept_instance (target) -> migrate (source) -> migration_status
    # (source, polled) -> finalize_migration_dst -> finalize_migration_src.

    def _no_migration(self) -> HypervisorError:
        return HypervisorError(f"hypervisor {self.name!r} does not support migration")

    async def migration_info(self, instance: InstanceSpec) -> dict[str, Any]:
        """Source side: data the target needs to accept ``instance``."""
        raise self._no_migration()

    async def accept_instance(
        self, instance: InstanceSpec, info: dict[str, Any], target: str
    ) -> None:
        """Target side: prepare to receive ``instance`` at address ``target``."""
        raise self._no_migration()

    async def migrate(self, instance: InstanceSpec, target: str, *, live: bool = True) -> None:
        """Source side: start sending ``instance`` to ``target``."""
        raise self._no_migration()

    async def migration_status(self, instance: InstanceSpec) -> MigrationStatus:
        """Source side: where the migration started by :meth:`migrate` stands."""
        raise self._no_migration()

    async def finalize_migration_dst(
        self, instance: InstanceSpec, info: dict[str, Any], success: bool
    ) -> None:
        """Target side: keep the received instance running, or clean up after failure."""
        raise self._no_migration()

    async def finalize_migration_src(
        self, instance: InstanceSpec, success: bool, live: bool
    ) -> None:
        """Source side: forget the instance after success, or keep it after failure."""
        raise self._no_migration()
