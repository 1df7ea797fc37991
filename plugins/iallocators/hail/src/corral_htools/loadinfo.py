"""What the tools say about the cluster they loaded, worded as Ganeti's htools word it.

Scripts and eyes that know Ganeti's output look for these lines: the
cluster tags and policy (``-v``), the split instances, the common name
suffix. The policy line renders the policy the way Ganeti's Haskell tools
show theirs, so the two tools' outputs can be diffed.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING
from typing import TextIO

from corral_htools.clusterstats import show_double

if TYPE_CHECKING:
    from corral_htools.model import Cluster
    from corral_htools.model import Instance
    from corral_htools.model import IPolicy
    from corral_htools.model import ISpec

#: Ganeti's constructor names of the disk templates.
_TEMPLATE_NAMES = {
    "diskless": "DTDiskless",
    "file": "DTFile",
    "sharedfile": "DTSharedFile",
    "plain": "DTPlain",
    "blockdev": "DTBlock",
    "drbd": "DTDrbd8",
    "rbd": "DTRbd",
    "ext": "DTExt",
    "gluster": "DTGluster",
}


def _ispec(spec: ISpec) -> str:
    return (
        f"ISpec {{iSpecMemorySize = {spec.memory_size}, iSpecCpuCount = {spec.cpu_count}, "
        f"iSpecDiskSize = {spec.disk_size}, iSpecDiskCount = {spec.disk_count}, "
        f"iSpecNicCount = {spec.nic_count}, iSpecSpindleUse = {spec.spindle_use}}}"
    )


def show_ipolicy(policy: IPolicy) -> str:
    """The policy as ``hbal -v`` prints it after ``Loaded cluster ipolicy:``."""
    minmax = ", ".join(
        f"MinMaxISpecs {{minMaxISpecsMinSpec = {_ispec(lo)}, minMaxISpecsMaxSpec = {_ispec(hi)}}}"
        for lo, hi in policy.minmax
    )
    templates = ",".join(_TEMPLATE_NAMES.get(t, t) for t in policy.disk_templates)
    return (
        f"IPolicy {{iPolicyMinMaxISpecs = [{minmax}], iPolicyStdSpec = {_ispec(policy.std)}, "
        f"iPolicyDiskTemplates = [{templates}], "
        f"iPolicyVcpuRatio = {show_double(policy.vcpu_ratio)}, "
        f"iPolicySpindleRatio = {show_double(policy.spindle_ratio)}}}"
    )


def print_tags_and_policy(cluster: Cluster, policy: bool = True) -> None:
    """``Loaded cluster tags: ...`` and (``policy``) ``Loaded cluster ipolicy: ...``."""
    print("Loaded cluster tags: " + ",".join(cluster.tags))
    if policy:
        print("Loaded cluster ipolicy: " + show_ipolicy(cluster.ipolicy))


def split_instances(cluster: Cluster) -> list[Instance]:
    """Instances whose primary and secondary nodes are in different groups."""
    group_of = {n.name: n.group for n in cluster.nodes}
    return [
        i
        for i in cluster.instances
        if i.snode and i.pnode in group_of and group_of.get(i.snode) != group_of[i.pnode]
    ]


def warn_split(cluster: Cluster, tail: str | None = None, header: TextIO | None = None) -> bool:
    """Name the split instances on stderr (then ``tail``); whether there are any.

    ``header``: where the heading line goes (hinfo puts it on stdout).
    """
    split = split_instances(cluster)
    if split:
        print("Found instances belonging to multiple node groups:", file=header or sys.stderr)
        for inst in split:
            print(f"  {inst.name}", file=sys.stderr)
        if tail:
            print(tail, file=sys.stderr)
    return bool(split)
