"""An instance as it crosses the wire to a node daemon: every parameter already filled.

The master resolves inheritance (plugin defaults, cluster, OS, group,
instance) and sends one JSON document; the node turns it back into the
driver API's :class:`~corral.api.InstanceSpec` and
:class:`~corral.api.DiskSpec` objects, so nodes never read the cluster
config to run an instance.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING
from typing import Any

from corral.api.errors import OpPrereqError
from corral.api.hypervisor import InstanceSpec
from corral.api.hypervisor import NicSpec
from corral.api.storage import DiskSpec
from corral.config.inheritance import effective_beparams
from corral.config.inheritance import effective_diskparams
from corral.config.inheritance import effective_nicparams
from corral.config.inheritance import effective_osparams
from corral.config.inheritance import instance_hvparams
from corral.plugins.kinds import DriverKind

if TYPE_CHECKING:
    from corral.config.objects import ConfigData
    from corral.config.objects import Disk
    from corral.config.objects import Instance
    from corral.plugins.registry import DriverRegistry


def storage_dir(cfg: ConfigData, template: str, registry: DriverRegistry) -> str:
    """Where file-like templates keep disks: the shared directory for shared ones."""
    cls = registry.driver_class(DriverKind.STORAGE, template)
    shared = bool(getattr(cls, "SHARED", False))
    return cfg.cluster.shared_file_storage_dir if shared else cfg.cluster.file_storage_dir


def disk_spec(
    cfg: ConfigData, inst: Instance, disk: Disk, index: int, registry: DriverRegistry
) -> DiskSpec:
    template = disk.dev_type
    cls = registry.driver_class(DriverKind.STORAGE, template)
    group = cfg.nodegroups.get(cfg.nodes[inst.primary_node].group)
    params = effective_diskparams(cfg.cluster, group, template, cls.param_defaults())
    return DiskSpec(
        uuid=disk.uuid,
        instance=inst.name,
        index=index,
        size=disk.size,
        mode=str(disk.mode),
        name=disk.name,
        params={**params, **disk.params},
        logical_id=disk.logical_id,
        storage_dir=storage_dir(cfg, template, registry),
    )


def encode(
    cfg: ConfigData,
    inst: Instance,
    registry: DriverRegistry,
    *,
    memory: int | None = None,
    hvparams: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The document for ``inst``; ``memory``/``hvparams`` override for one start."""
    hv_cls = registry.driver_class(DriverKind.HYPERVISOR, inst.hypervisor)
    be = effective_beparams(cfg.cluster, inst)
    group = cfg.nodegroups.get(cfg.nodes[inst.primary_node].group)
    nics = []
    for nic in inst.nics:
        params = effective_nicparams(cfg.cluster, nic, group)
        nics.append(
            dataclasses.asdict(
                NicSpec(
                    uuid=nic.uuid,
                    mac=nic.mac,
                    ip=nic.ip,
                    mode=str(params.get("mode", "")),
                    link=str(params.get("link", "")),
                    vlan=str(params.get("vlan", "")),
                    name=nic.name,
                )
            )
        )
    filled = instance_hvparams(cfg.cluster, inst, hv_cls.param_defaults())
    return {
        "name": inst.name,
        "uuid": inst.uuid,
        "hypervisor": inst.hypervisor,
        "disk_template": inst.disk_template,
        "os": inst.os,
        "memory": memory if memory is not None else int(be["maxmem"]),
        "vcpus": int(be["vcpus"]),
        "hvparams": {**filled, **(hvparams or {})},
        "beparams": be,
        "osparams": effective_osparams(cfg.cluster, inst),
        "primary_node": cfg.nodes[inst.primary_node].name,
        "secondary_nodes": [cfg.nodes[u].name for u in inst.secondary_nodes],
        "disks": [
            dataclasses.asdict(disk_spec(cfg, inst, d, i, registry))
            for i, d in enumerate(inst.disks)
        ],
        "nics": nics,
    }


def _fields(cls: type, data: Any, what: str) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise OpPrereqError(f"{what} must be an object, not {type(data).__name__}")
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise OpPrereqError(f"{what} has unknown keys: {', '.join(unknown)}")
    return data


def decode_disk(data: Any) -> DiskSpec:
    try:
        return DiskSpec(**_fields(DiskSpec, data, "disk"))
    except TypeError as err:
        raise OpPrereqError(f"disk: {err}") from None


def decode(doc: Any) -> tuple[InstanceSpec, list[DiskSpec]]:
    """The instance (without block devices: the node attaches them) and its disks."""
    data = dict(_fields(_Doc, doc, "instance"))
    try:
        disks = [decode_disk(d) for d in data.pop("disks", [])]
        nics = tuple(NicSpec(**_fields(NicSpec, n, "nic")) for n in data.pop("nics", []))
        for key in _NOT_IN_SPEC:
            data.pop(key, None)
        spec = InstanceSpec(nics=nics, **data)
    except (TypeError, KeyError) as err:
        raise OpPrereqError(f"instance document: {err}") from None
    return spec, disks


#: Document keys the driver API's InstanceSpec does not carry (the OS scripts use them).
_NOT_IN_SPEC = (
    "hypervisor",
    "disk_template",
    "beparams",
    "osparams",
    "primary_node",
    "secondary_nodes",
)


def driver_names(doc: Any) -> tuple[str, str]:
    """(hypervisor, disk template) a document names."""
    if not isinstance(doc, dict):
        raise OpPrereqError("instance document must be an object")
    names = doc.get("hypervisor"), doc.get("disk_template")
    if not all(isinstance(n, str) for n in names):
        raise OpPrereqError("instance document: hypervisor and disk_template must be named")
    return str(names[0]), str(names[1])


@dataclasses.dataclass
class _Doc:
    """The keys a document may have (checked by :func:`decode`)."""

    name: str
    uuid: str
    hypervisor: str
    disk_template: str
    os: str
    memory: int
    vcpus: int
    hvparams: dict[str, Any]
    beparams: dict[str, Any]
    osparams: dict[str, Any]
    primary_node: str
    secondary_nodes: list[str]
    disks: list[Any]
    nics: list[Any]
