"""The config object tree as frozen dataclasses.

Field names follow Ganeti's config objects so operators and RAPI clients
meet familiar names. The marshmallow schemas in :mod:`corral.config.schemas`
describe the same fields (a test keeps the two in step) and are what every
file, RPC and RAPI body is validated against.

Collections of objects are dicts keyed by UUID; names are unique within a
kind. Parameter dicts (``hvparams``, ``beparams``, ...) hold only the values
set at that level: the effective values come from
:mod:`corral.config.inheritance`. They are plain dicts for speed; treat
them as read-only like the rest of the object.
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field
from dataclasses import replace
from enum import StrEnum
from functools import cached_property
from typing import Any
from typing import TypeVar

#: Version of the on-disk config format this corral reads and writes.
CONFIG_VERSION = 1

Params = dict[str, Any]


class AdminState(StrEnum):
    UP = "up"
    DOWN = "down"
    OFFLINE = "offline"


class AdminStateSource(StrEnum):
    ADMIN = "admin"
    USER = "user"


class AllocPolicy(StrEnum):
    PREFERRED = "preferred"
    LAST_RESORT = "last_resort"
    UNALLOCABLE = "unallocable"


class DiskMode(StrEnum):
    RW = "rw"
    RO = "ro"


@dataclass(frozen=True, kw_only=True)
class Stamped:
    """What every versioned object has: a UUID, a serial number bumped on each change,
    and creation/modification times (seconds since the epoch)."""

    uuid: str
    serial_no: int = 1
    ctime: float = 0.0
    mtime: float = 0.0


@dataclass(frozen=True, kw_only=True)
class Taggable(Stamped):
    """A versioned object operators can tag (``gnt-* add-tags``)."""

    tags: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class Disk(Stamped):
    dev_type: str
    size: int  # MiB
    mode: DiskMode = DiskMode.RW
    name: str | None = None
    iv_name: str = ""
    logical_id: str | None = None
    nodes: tuple[str, ...] = ()
    params: Params = field(default_factory=dict)
    spindles: int | None = None


@dataclass(frozen=True, kw_only=True)
class Nic:
    uuid: str
    mac: str
    name: str | None = None
    ip: str | None = None
    network: str | None = None  # network UUID
    nicparams: Params = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class Instance(Taggable):
    name: str
    primary_node: str  # node UUID
    os: str
    hypervisor: str
    disk_template: str
    secondary_nodes: tuple[str, ...] = ()
    hvparams: Params = field(default_factory=dict)
    beparams: Params = field(default_factory=dict)
    osparams: Params = field(default_factory=dict)
    admin_state: AdminState = AdminState.DOWN
    admin_state_source: AdminStateSource = AdminStateSource.ADMIN
    nics: tuple[Nic, ...] = ()
    disks: tuple[Disk, ...] = ()
    disks_active: bool = False
    network_port: int | None = None


@dataclass(frozen=True, kw_only=True)
class Node(Taggable):
    name: str
    primary_ip: str
    group: str  # node group UUID
    secondary_ip: str | None = None
    master_candidate: bool = False
    master_capable: bool = True
    vm_capable: bool = True
    offline: bool = False
    drained: bool = False
    powered: bool = True
    ndparams: Params = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class NodeGroup(Taggable):
    name: str
    alloc_policy: AllocPolicy = AllocPolicy.PREFERRED
    ndparams: Params = field(default_factory=dict)
    diskparams: dict[str, Params] = field(default_factory=dict)
    ipolicy: Params = field(default_factory=dict)
    networks: dict[str, Params] = field(default_factory=dict)  # network UUID -> nicparams


@dataclass(frozen=True, kw_only=True)
class Network(Taggable):
    name: str
    network: str  # IPv4 CIDR
    gateway: str | None = None
    network6: str | None = None
    gateway6: str | None = None
    mac_prefix: str | None = None
    reservations: tuple[str, ...] = ()  # addresses held by instances
    ext_reservations: tuple[str, ...] = ()  # addresses kept out of allocation


@dataclass(frozen=True, kw_only=True)
class Cluster(Taggable):
    cluster_name: str
    master_node: str  # node UUID
    master_ip: str
    master_netdev: str = "eth0"
    master_netmask: int = 32
    primary_ip_family: int = 4
    mac_prefix: str = "aa:00:00"
    enabled_hypervisors: tuple[str, ...] = ("fake",)
    enabled_disk_templates: tuple[str, ...] = ("diskless", "file")
    default_iallocator: str | None = None
    default_iallocator_params: Params = field(default_factory=dict)
    hvparams: dict[str, Params] = field(default_factory=dict)  # hypervisor -> params
    os_hvp: dict[str, dict[str, Params]] = field(default_factory=dict)  # os -> hv -> params
    beparams: dict[str, Params] = field(default_factory=lambda: {"default": {}})
    nicparams: dict[str, Params] = field(default_factory=lambda: {"default": {}})
    osparams: dict[str, Params] = field(default_factory=dict)  # os -> params
    ndparams: Params = field(default_factory=dict)
    diskparams: dict[str, Params] = field(default_factory=dict)  # template -> params
    ipolicy: Params = field(default_factory=dict)
    file_storage_dir: str = "/srv/corral/file-storage"
    shared_file_storage_dir: str = "/srv/corral/shared-file-storage"
    candidate_pool_size: int = 10
    max_running_jobs: int = 20
    max_tracked_jobs: int = 25
    maintain_node_health: bool = False
    modify_etc_hosts: bool = True
    prealloc_wipe_disks: bool = False
    hidden_os: tuple[str, ...] = ()
    blacklisted_os: tuple[str, ...] = ()
    data_collectors: dict[str, Params] = field(default_factory=dict)
    tcpudp_port_pool: tuple[int, ...] = ()
    highest_used_port: int = 11000
    #: The node daemons' TCP port, the same on every node (Ganeti's noded port).
    rpc_port: int = 1811


@dataclass(frozen=True, kw_only=True)
class ConfigData:
    """The whole configuration: what ``config.data`` holds."""

    cluster: Cluster
    version: int = CONFIG_VERSION
    nodegroups: dict[str, NodeGroup] = field(default_factory=dict)
    nodes: dict[str, Node] = field(default_factory=dict)
    instances: dict[str, Instance] = field(default_factory=dict)
    networks: dict[str, Network] = field(default_factory=dict)
    serial_no: int = 1
    ctime: float = 0.0
    mtime: float = 0.0

    # The by-name indexes are built once per config object: a config is never
    # changed in place (changes make a new one with dataclasses.replace), and a
    # scan per lookup made each create O(instances).

    @cached_property
    def _nodes_by_name(self) -> dict[str, Node]:
        return {n.name: n for n in self.nodes.values()}

    @cached_property
    def _groups_by_name(self) -> dict[str, NodeGroup]:
        return {g.name: g for g in self.nodegroups.values()}

    @cached_property
    def _instances_by_name(self) -> dict[str, Instance]:
        return {i.name: i for i in self.instances.values()}

    @cached_property
    def macs_in_use(self) -> frozenset[str]:
        """Every NIC's MAC address (a new NIC must not take one of them)."""
        return frozenset(n.mac for i in self.instances.values() for n in i.nics)

    def node_by_name(self, name: str) -> Node | None:
        return self._nodes_by_name.get(name)

    def group_by_name(self, name: str) -> NodeGroup | None:
        return self._groups_by_name.get(name)

    def instance_by_name(self, name: str) -> Instance | None:
        return self._instances_by_name.get(name)


S = TypeVar("S", bound=Stamped)


def touched(obj: S, now: float, **changes: Any) -> S:
    """``obj`` with ``changes`` applied, its serial number bumped and mtime set."""
    return replace(obj, serial_no=obj.serial_no + 1, mtime=now, **changes)
