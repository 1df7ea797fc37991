"""The cluster as htools sees it: groups, nodes, instances and policies.

These are plain records, as loaded from a backend (text file or IAllocator
request). The numeric work happens on :class:`corral_htools.state.GroupState`,
which packs them into numpy arrays.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from dataclasses import field


class DiskTemplate(enum.StrEnum):
    """Ganeti's disk template names, as they appear in every input format."""

    DISKLESS = "diskless"
    FILE = "file"
    SHAREDFILE = "sharedfile"
    PLAIN = "plain"
    BLOCK = "blockdev"
    DRBD = "drbd"
    RBD = "rbd"
    EXT = "ext"
    GLUSTER = "gluster"


#: Templates whose disks live on the primary and a secondary node (DRBD).
MIRROR_INTERNAL = frozenset({DiskTemplate.DRBD})
#: Templates on shared storage: the instance can run on any node of the group.
MIRROR_EXTERNAL = frozenset(
    {
        DiskTemplate.DISKLESS,
        DiskTemplate.SHAREDFILE,
        DiskTemplate.BLOCK,
        DiskTemplate.RBD,
        DiskTemplate.EXT,
        DiskTemplate.GLUSTER,
    }
)
#: Templates whose disks use the nodes' modelled (LVM) disk space and spindles.
LOCAL_STORAGE = frozenset({DiskTemplate.PLAIN, DiskTemplate.DRBD})


class AllocPolicy(enum.StrEnum):
    """A node group's allocation policy, in order of preference."""

    PREFERRED = "preferred"
    LAST_RESORT = "last_resort"
    UNALLOCABLE = "unallocable"


#: Run states in which an instance occupies memory on its primary node.
RUNNING_STATES = frozenset(
    {"running", "ERROR_up", "ERROR_nodedown", "ERROR_nodeoffline", "ERROR_wrongnode"}
)
#: Every run state the text backend accepts.
ALL_STATES = RUNNING_STATES | {"ADMIN_down", "ADMIN_offline", "ERROR_down", "USER_down"}


@dataclass(frozen=True)
class ISpec:
    """One instance specification (std, min or max) of a policy."""

    memory_size: int
    cpu_count: int
    disk_size: int
    disk_count: int
    nic_count: int
    spindle_use: int

    def as_tuple(self) -> tuple[int, int, int, int, int, int]:
        return (
            self.memory_size,
            self.cpu_count,
            self.disk_size,
            self.disk_count,
            self.nic_count,
            self.spindle_use,
        )


@dataclass(frozen=True)
class IPolicy:
    """An instance policy: allowed specs, templates and oversubscription ratios."""

    std: ISpec
    minmax: tuple[tuple[ISpec, ISpec], ...]
    disk_templates: tuple[str, ...]
    vcpu_ratio: float
    spindle_ratio: float


#: Ganeti's built-in policy, used when the input carries none.
DEFAULT_IPOLICY = IPolicy(
    std=ISpec(128, 1, 1024, 1, 1, 1),
    minmax=((ISpec(128, 1, 1024, 1, 1, 1), ISpec(32768, 8, 1048576, 16, 8, 12)),),
    disk_templates=tuple(t.value for t in DiskTemplate),
    vcpu_ratio=4.0,
    spindle_ratio=32.0,
)


@dataclass
class Group:
    name: str
    uuid: str
    alloc_policy: AllocPolicy = AllocPolicy.PREFERRED
    tags: list[str] = field(default_factory=list)
    networks: list[str] = field(default_factory=list)
    ipolicy: IPolicy | None = None


@dataclass
class Node:
    name: str
    t_mem: float
    n_mem: int
    f_mem: int
    t_dsk: float
    f_dsk: int
    t_cpu: float
    group: str  # group UUID
    offline: bool = False
    master: bool = False
    drained: bool = False
    spindles: int = 1
    tags: list[str] = field(default_factory=list)
    excl_stor: bool = False
    free_spindles: int = 0
    nos_cpu: int = 1
    cpu_speed: float = 1.0
    #: True when the backend gave "?" resources: the node is loaded offline with zeros.
    unknown_resources: bool = False
    #: the name less the suffix every name shares (set by the tools; what they print)
    alias: str = field(default="", compare=False, repr=False)

    @property
    def shown(self) -> str:
        return self.alias or self.name


@dataclass
class Instance:
    name: str
    mem: int
    dsk: int
    vcpus: int
    status: str
    auto_balance: bool
    pnode: str
    snode: str  # "" when there is none
    template: str
    tags: list[str] = field(default_factory=list)
    spindle_use: int = 1
    spindles: int | None = None
    forthcoming: bool = False
    disks: list[int] = field(default_factory=list)
    nics: int = 1
    #: as :attr:`Node.alias`
    alias: str = field(default="", compare=False, repr=False)

    @property
    def shown(self) -> str:
        return self.alias or self.name

    @property
    def running(self) -> bool:
        return self.status in RUNNING_STATES and not self.forthcoming

    @property
    def offline(self) -> bool:
        return self.status == "ADMIN_offline"

    @property
    def mirror_internal(self) -> bool:
        return self.template in MIRROR_INTERNAL

    @property
    def mirror_external(self) -> bool:
        return self.template in MIRROR_EXTERNAL

    @property
    def local_storage(self) -> bool:
        return self.template in LOCAL_STORAGE

    @property
    def node_bound(self) -> bool:
        """Whether its disks are on its primary node alone (plain, file, blockdev).

        Such an instance cannot fail over: Ganeti's global N+1 check
        re-places it as it would a new instance (see corral_htools.capacity).
        """
        return self.template not in MIRROR_INTERNAL and (
            self.template not in MIRROR_EXTERNAL or self.template == DiskTemplate.BLOCK
        )


@dataclass
class Cluster:
    """Everything a backend loaded."""

    groups: list[Group]
    nodes: list[Node]
    instances: list[Instance]
    tags: list[str] = field(default_factory=list)
    ipolicy: IPolicy = DEFAULT_IPOLICY
    #: True when the input carried a cluster policy (the text writer then writes it).
    has_policies: bool = False
    #: the domain suffix all node and instance names share ("" if none), stripped for display
    name_suffix: str = ""

    def strip_common_suffix(self) -> str:
        """Give every node and instance its alias (the name less the shared suffix)."""
        names = [n.name for n in self.nodes] + [i.name for i in self.instances]
        self.name_suffix = common_suffix(names)
        cut = len(self.name_suffix)
        for node in self.nodes:
            node.alias = node.name[:-cut] if cut else ""
        for inst in self.instances:
            inst.alias = inst.name[:-cut] if cut else ""
        return self.name_suffix

    def group_by_uuid(self, uuid: str) -> Group | None:
        return next((g for g in self.groups if g.uuid == uuid), None)

    def group_by_name(self, name: str) -> Group | None:
        return next((g for g in self.groups if g.name == name or g.uuid == name), None)

    def policy_of(self, group: Group) -> IPolicy:
        return group.ipolicy if group.ipolicy is not None else self.ipolicy

    def tag_prefixes(self, kind: str) -> list[str]:
        """Values of the ``htools:KIND:VALUE`` cluster tags."""
        prefix = f"htools:{kind}:"
        return [t[len(prefix) :] for t in self.tags if t.startswith(prefix)]


def common_suffix(names: list[str]) -> str:
    """The longest ``.domain`` ending every name has (Ganeti's rule: a dot starts it)."""
    if not names:
        return ""
    first, rest = names[0], names[1:]
    for k, char in enumerate(first):
        if char == "." and all(n.endswith(first[k:]) for n in rest):
            return first[k:]
    return ""
