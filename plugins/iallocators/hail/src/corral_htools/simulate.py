"""Simulated empty clusters (``--simulate POLICY,COUNT,DISK,MEM,CPU[,SPINDLES]``).

Each description is one node group of identical, empty nodes, named as
Ganeti names them (``group-01``, ``node-01-001``...), under Ganeti's default
instance policy; the first node of the first group is the master.
"""

from __future__ import annotations

from corral_htools.model import AllocPolicy
from corral_htools.model import Cluster
from corral_htools.model import DiskTemplate
from corral_htools.model import Group
from corral_htools.model import IPolicy
from corral_htools.model import ISpec
from corral_htools.model import Node
from corral_htools.units import parse_size

_POLICIES = {
    "p": AllocPolicy.PREFERRED,
    "preferred": AllocPolicy.PREFERRED,
    "a": AllocPolicy.LAST_RESORT,
    "last_resort": AllocPolicy.LAST_RESORT,
    "u": AllocPolicy.UNALLOCABLE,
    "unallocable": AllocPolicy.UNALLOCABLE,
}

#: Ganeti's built-in instance policy, as a simulated cluster carries it.
SIMULATED_IPOLICY = IPolicy(
    std=ISpec(128, 1, 1024, 1, 1, 1),
    minmax=((ISpec(128, 1, 1024, 1, 1, 1), ISpec(32768, 8, 1048576, 16, 8, 12)),),
    disk_templates=(
        DiskTemplate.DISKLESS,
        DiskTemplate.FILE,
        DiskTemplate.SHAREDFILE,
        DiskTemplate.PLAIN,
        DiskTemplate.BLOCK,
        DiskTemplate.DRBD,
        DiskTemplate.RBD,
        DiskTemplate.EXT,
        DiskTemplate.GLUSTER,
    ),
    vcpu_ratio=4.0,
    spindle_ratio=32.0,
)


class SimulationError(ValueError):
    """A ``--simulate`` description that cannot be understood."""


def _group(index: int, desc: str) -> tuple[Group, list[Node]]:
    parts = desc.split(",")
    if len(parts) not in (5, 6):
        raise SimulationError(f"Invalid cluster specification: '{desc}'")
    policy = _POLICIES.get(parts[0])
    if policy is None:
        raise SimulationError(f"Invalid alloc policy mode: {parts[0]}")
    try:
        count = int(parts[1])
        disk = parse_size(parts[2])
        mem = parse_size(parts[3])
        cpu = int(parts[4])
        spindles = int(parts[5]) if len(parts) == 6 else 1
    except ValueError as err:
        raise SimulationError(f"Invalid cluster specification: '{desc}': {err}") from None
    uuid = f"fake-uuid-{index:02d}"
    group = Group(f"group-{index:02d}", uuid, policy, ipolicy=SIMULATED_IPOLICY)
    nodes = [
        Node(
            name=f"node-{index:02d}-{k:03d}",
            t_mem=float(mem),
            n_mem=0,
            f_mem=mem,
            t_dsk=float(disk),
            f_dsk=disk,
            t_cpu=float(cpu),
            group=uuid,
            master=index == 1 and k == 1,
            spindles=spindles,
        )
        for k in range(1, count + 1)
    ]
    return group, nodes


def simulated_cluster(descriptions: list[str]) -> Cluster:
    """One group per description, in the order given."""
    groups: list[Group] = []
    nodes: list[Node] = []
    for index, desc in enumerate(descriptions, start=1):
        group, members = _group(index, desc)
        groups.append(group)
        nodes.extend(members)
    return Cluster(groups, nodes, [], ipolicy=SIMULATED_IPOLICY, has_policies=True)
