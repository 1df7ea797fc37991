"""Instance policy checks (Ganeti's ipolicy): specs and allowed disk templates."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from corral_htools.model import Instance
    from corral_htools.model import IPolicy
    from corral_htools.model import ISpec


def _spec_failure(inst: Instance, lo: ISpec, hi: ISpec, exclusive: bool) -> str | None:
    """The first of the instance's figures outside [lo, hi], as hail's failure name."""
    if not lo.memory_size <= inst.mem <= hi.memory_size:
        return "FailMem"
    if not lo.cpu_count <= inst.vcpus <= hi.cpu_count:
        return "FailCPU"
    disks = inst.disks or ([inst.dsk] if inst.dsk else [])
    if inst.template != "diskless" and any(not lo.disk_size <= d <= hi.disk_size for d in disks):
        return "FailDisk"
    # with exclusive storage the disks' real spindles stand in for the spindle use
    spindles = inst.spindles if exclusive else inst.spindle_use
    if spindles is None or not lo.spindle_use <= spindles <= hi.spindle_use:
        return "FailSpindles"
    return None


def policy_failure(inst: Instance, policy: IPolicy, exclusive: bool = False) -> str | None:
    """Why the instance breaks the policy (a hail failure name), or None when it fits.

    A disallowed template counts as a disk failure; with several min/max
    pairs the instance must fit one, and the first pair's failure is named.
    Disk and NIC counts are not modelled by the text backend, so only memory,
    CPUs, disk sizes and spindles are compared (as Ganeti does for it).
    """
    if policy.disk_templates and inst.template not in policy.disk_templates:
        return "FailDisk"
    failures = [_spec_failure(inst, lo, hi, exclusive) for lo, hi in policy.minmax]
    if not failures or None in failures:
        return None
    return failures[0]


def instance_fits_policy(inst: Instance, policy: IPolicy) -> bool:
    """Whether an instance's size lies within one min/max pair and its template is allowed."""
    return policy_failure(inst, policy) is None
