"""Instance policy checks (Ganeti's ipolicy): specs and allowed disk templates."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from corral_htools.model import Instance
    from corral_htools.model import IPolicy


def instance_fits_policy(inst: Instance, policy: IPolicy) -> bool:
    """Whether an instance's size lies within one min/max pair and its template is allowed.

    Disk and NIC counts are not modelled by the text backend, so only memory,
    CPUs, disk size and spindle use are compared (as Ganeti does for it).
    """
    if policy.disk_templates and inst.template not in policy.disk_templates:
        return False
    disks = inst.disks or ([inst.dsk] if inst.dsk else [])
    for lo, hi in policy.minmax:
        if not lo.memory_size <= inst.mem <= hi.memory_size:
            continue
        if not lo.cpu_count <= inst.vcpus <= hi.cpu_count:
            continue
        if not lo.spindle_use <= inst.spindle_use <= hi.spindle_use:
            continue
        if inst.template != "diskless" and any(
            not lo.disk_size <= d <= hi.disk_size for d in disks
        ):
            continue
        return True
    return not policy.minmax
