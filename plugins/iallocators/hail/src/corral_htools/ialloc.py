"""The IAllocator protocol: request documents in, cluster model and request out.

Errors raise :class:`RequestError` with Ganeti's wording (``key 'request'
not found``, ``Unable to read JSObject``...), which hail prints on stderr.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from dataclasses import field
from typing import Any

from corral_htools.model import DEFAULT_IPOLICY
from corral_htools.model import AllocPolicy
from corral_htools.model import Cluster
from corral_htools.model import Group
from corral_htools.model import Instance
from corral_htools.model import IPolicy
from corral_htools.model import ISpec
from corral_htools.model import Node


class RequestError(ValueError):
    """The request document is not a valid IAllocator request."""


_TYPES: dict[type, str] = {dict: "JSObject", str: "String", list: "JSArray", bool: "Bool"}


def _get(obj: dict[str, Any], key: str, kind: type | tuple[type, ...], where: str = "") -> Any:
    if key not in obj:
        raise RequestError(f"{where}key '{key}' not found")
    value = obj[key]
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if isinstance(value, bool) and bool not in kinds:
        ok = False
    else:
        ok = isinstance(value, kinds)
    if not ok:
        name = _TYPES.get(kinds[0], "Number")
        raise RequestError(f"{where}key '{key}': Unable to read {name}")
    return value


def _opt(obj: dict[str, Any], key: str, default: Any) -> Any:
    value = obj.get(key, default)
    return default if value is None else value


NUM = (int, float)


@dataclass
class NewInstance:
    """An instance to allocate (from ``allocate`` or one ``multi-allocate`` entry)."""

    name: str
    mem: int
    dsk: int
    vcpus: int
    template: str
    disks: list[int]
    spindle_use: int
    required_nodes: int
    tags: list[str] = field(default_factory=list)
    group_name: str | None = None
    restrict_to: list[str] | None = None
    #: the disks' real spindles (exclusive storage); None when a disk does not say
    spindles: int | None = 0
    networks: list[str] = field(default_factory=list)
    #: a new instance runs; an existing one placed anew (change-group) keeps its state
    status: str = "running"

    @classmethod
    def from_instance(cls, inst: Instance) -> NewInstance:
        """An existing instance as a new one, to place it anew (change-group's group choice)."""
        return cls(
            name=inst.name,
            mem=inst.mem,
            dsk=inst.dsk,
            vcpus=inst.vcpus,
            template=inst.template,
            disks=list(inst.disks),
            spindle_use=inst.spindle_use,
            spindles=inst.spindles,
            required_nodes=2 if inst.mirror_internal else 1,
            tags=list(inst.tags),
            status=inst.status,
        )

    def as_instance(self) -> Instance:
        return Instance(
            name=self.name,
            mem=self.mem,
            dsk=self.dsk,
            vcpus=self.vcpus,
            status=self.status,
            auto_balance=True,
            pnode="",
            snode="",
            template=self.template,
            tags=list(self.tags),
            spindle_use=self.spindle_use,
            spindles=self.spindles,
            disks=list(self.disks),
        )


@dataclass
class Request:
    kind: str
    raw: dict[str, Any]
    new: list[NewInstance] = field(default_factory=list)
    name: str = ""
    relocate_from: list[str] = field(default_factory=list)
    instances: list[str] = field(default_factory=list)
    evac_mode: str = "all"
    target_groups: list[str] = field(default_factory=list)


def _spec(obj: dict[str, Any]) -> ISpec:
    return ISpec(
        int(obj.get("memory-size", 0)),
        int(obj.get("cpu-count", 0)),
        int(obj.get("disk-size", 0)),
        int(obj.get("disk-count", 0)),
        int(obj.get("nic-count", 0)),
        int(obj.get("spindle-use", 0)),
    )


def parse_ipolicy(obj: Any) -> IPolicy:
    if not isinstance(obj, dict):
        return DEFAULT_IPOLICY
    minmax = tuple((_spec(mm["min"]), _spec(mm["max"])) for mm in obj.get("minmax", []))
    return IPolicy(
        std=_spec(obj.get("std", {})),
        minmax=minmax,
        disk_templates=tuple(obj.get("disk-templates", [])),
        vcpu_ratio=float(obj.get("vcpu-ratio", 4.0)),
        spindle_ratio=float(obj.get("spindle-ratio", 32.0)),
    )


def _node(name: str, obj: dict[str, Any], static_mem: int | None) -> Node:
    w = f"node '{name}': "
    # as in Ganeti's loader: a node that is not live has no resources; a drained
    # one keeps them (instances may stay or fail over there) but takes nothing new
    drained = bool(_get(obj, "drained", bool, w))
    offline = bool(_get(obj, "offline", bool, w)) or not bool(obj.get("vm_capable", True))
    group = _get(obj, "group", str, w)
    nd = _opt(obj, "ndparams", {})
    tags = list(_opt(obj, "tags", []))
    spindles = int(_opt(nd, "spindle_count", 1))
    excl = bool(_opt(nd, "exclusive_storage", False))
    if offline:
        return Node(
            name,
            0.0,
            0,
            0,
            0.0,
            0,
            0.0,
            group,
            offline=True,
            tags=tags,
            spindles=spindles,
            excl_stor=excl,
        )
    n_mem = int(_get(obj, "reserved_memory", NUM, w))
    if static_mem is not None:
        n_mem = static_mem
    return Node(
        name=name,
        t_mem=float(_get(obj, "total_memory", NUM, w)),
        n_mem=n_mem,
        f_mem=int(_get(obj, "free_memory", NUM, w)),
        t_dsk=float(_get(obj, "total_disk", NUM, w)),
        f_dsk=int(_get(obj, "free_disk", NUM, w)),
        t_cpu=float(_get(obj, "total_cpus", NUM, w)),
        group=group,
        spindles=int(obj.get("total_spindles", spindles)) if excl else spindles,
        tags=tags,
        excl_stor=excl,
        free_spindles=int(_opt(obj, "free_spindles", 0)),
        nos_cpu=int(_opt(obj, "reserved_cpus", 1)),
        offline=drained,
        drained=drained,
    )


_ADMIN_STATE = {"up": "running", "down": "ADMIN_down", "offline": "ADMIN_offline"}


def _disk_spindles(disks: list[dict[str, Any]]) -> int | None:
    """The disks' spindles in total; None if one does not say (exclusive storage needs it)."""
    total = 0
    for disk in disks:
        count = disk.get("spindles")
        if count is None:
            return None
        total += int(count)
    return total


def _instance(name: str, obj: dict[str, Any]) -> Instance:
    w = f"instance '{name}': "
    nodes = _get(obj, "nodes", list, w)
    raw_disks = _opt(obj, "disks", [])
    disks = [int(d.get("size", 0)) for d in raw_disks]
    return Instance(
        name=name,
        mem=int(_get(obj, "memory", NUM, w)),
        dsk=int(_get(obj, "disk_space_total", NUM, w)),
        vcpus=int(_get(obj, "vcpus", NUM, w)),
        status=_ADMIN_STATE.get(str(_opt(obj, "admin_state", "up")), "running"),
        auto_balance=True,
        pnode=nodes[0] if nodes else "",
        snode=nodes[1] if len(nodes) > 1 else "",
        template=_get(obj, "disk_template", str, w),
        tags=list(_opt(obj, "tags", [])),
        spindle_use=int(_opt(obj, "spindle_use", 1)),
        forthcoming=bool(_opt(obj, "forthcoming", False)),
        disks=disks,
        spindles=_disk_spindles(raw_disks),
    )


def _new_instance(obj: dict[str, Any]) -> NewInstance:
    name = _get(obj, "name", str)
    disks = [int(d.get("size", 0)) for d in _opt(obj, "disks", [])]
    spindles = _disk_spindles(_opt(obj, "disks", []))
    return NewInstance(
        name=name,
        mem=int(_get(obj, "memory", NUM)),
        dsk=int(_get(obj, "disk_space_total", NUM)),
        vcpus=int(_get(obj, "vcpus", NUM)),
        template=_get(obj, "disk_template", str),
        disks=disks,
        spindle_use=int(_opt(obj, "spindle_use", 1)),
        required_nodes=int(_get(obj, "required_nodes", NUM)),
        tags=list(_opt(obj, "tags", [])),
        group_name=obj.get("group_name"),
        restrict_to=obj.get("restrict-to-nodes"),
        spindles=spindles,
        networks=[n["network"] for n in _opt(obj, "nics", []) if n.get("network")],
    )


def parse_request(text: str, static_kvm_mem: int = 4096) -> tuple[Cluster, Request]:
    """Parse a request document into the cluster it describes and the request."""
    try:
        doc = json.loads(text)
    except ValueError:
        raise RequestError("Invalid JSON") from None
    if not isinstance(doc, dict):
        raise RequestError("Unable to read JSObject")
    req = _get(doc, "request", dict)
    kind = _get(req, "type", str, "request: ")
    hvs = doc.get("enabled_hypervisors") or []
    static = static_kvm_mem if hvs and hvs[0] == "kvm" and static_kvm_mem > 0 else None
    groups = []
    for uuid, g in _get(doc, "nodegroups", dict).items():
        w = f"group '{uuid}': "
        groups.append(
            Group(
                name=_get(g, "name", str, w),
                uuid=uuid,
                alloc_policy=AllocPolicy(_opt(g, "alloc_policy", "preferred")),
                tags=list(_opt(g, "tags", [])),
                networks=list(_opt(g, "networks", [])),
                ipolicy=parse_ipolicy(g.get("ipolicy")),
            )
        )
    nodes = [_node(n, o, static) for n, o in _get(doc, "nodes", dict).items()]
    insts = [_instance(n, o) for n, o in _get(doc, "instances", dict).items()]
    cluster = Cluster(groups, nodes, insts, list(_opt(doc, "cluster_tags", [])))
    cluster.ipolicy = parse_ipolicy(doc.get("ipolicy"))
    cluster.has_policies = "ipolicy" in doc
    request = Request(kind=kind, raw=req)
    if kind == "allocate":
        request.new = [_new_instance(req)]
    elif kind == "multi-allocate":
        request.new = [_new_instance(x) for x in _get(req, "instances", list)]
    elif kind == "relocate":
        request.name = _get(req, "name", str)
        request.relocate_from = list(_get(req, "relocate_from", list))
    elif kind == "node-evacuate":
        request.instances = list(_get(req, "instances", list))
        request.evac_mode = _get(req, "evac_mode", str)
    elif kind == "change-group":
        request.instances = list(_get(req, "instances", list))
        request.target_groups = list(_opt(req, "target_groups", []))
    elif kind == "allocate-secondary":
        request.name = _get(req, "name", str)
    else:
        raise RequestError(f"Invalid request type '{kind}'")
    return cluster, request
