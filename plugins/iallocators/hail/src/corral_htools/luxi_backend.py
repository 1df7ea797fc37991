"""The htools LUXI backend (``-L [SOCKET]``): the cluster as a live master daemon sees it.

Three ``Query`` calls (groups, nodes, instances) and one ``QueryClusterInfo``
give the same :class:`~corral_htools.model.Cluster` that the text backend
builds from a file; ``hbal -L -S FILE`` writes it in that format, and
loading the file back gives the same records (the text format has no
per-disk sizes or NIC counts; everything else round-trips).

How the answers become the model, where a choice had to be made:

* a node is modelled offline when it is marked offline, is drained, or is
  not ``vm_capable`` (its resources then count as zero), as in Ganeti's
  loader and the text format, which has one flag for all three; an online node
  whose live resources could not be read (it did not answer) is loaded
  offline with zero resources too, with a warning, as the text backend
  loads a node whose resources are ``?``;
* the memory an instance needs is its ``be/maxmem``, its disk the sum of its
  disks (``disk_usage``); the CPUs a node keeps for itself (``cnos``) and
  its free spindles (``spfree``) are read when the master offers those
  fields, otherwise 1 and 0, as corral's IAllocator requests say;
* node spindles are ``ndparams.spindle_count`` (``sptotal`` with exclusive
  storage).

Importing this module is cheap: corral's LUXI client (and with it
Twisted) is imported only when a cluster is actually loaded.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING
from typing import Any
from typing import Final

from corral_htools.ialloc import parse_ipolicy
from corral_htools.model import ALL_STATES
from corral_htools.model import AllocPolicy
from corral_htools.model import Cluster
from corral_htools.model import DiskTemplate
from corral_htools.model import Group
from corral_htools.model import Instance
from corral_htools.model import Node

if TYPE_CHECKING:
    from collections.abc import Sequence

    from corral.luxi.client import Client

#: Ganeti's RS_* result statuses (corral.query.fields.Status).
RS_NORMAL: Final = 0
RS_UNKNOWN: Final = 1
RS_NODATA: Final = 2
RS_UNAVAIL: Final = 3
RS_OFFLINE: Final = 4

GROUP_FIELDS: Final = ("uuid", "name", "alloc_policy", "ipolicy", "tags", "networks")
NODE_FIELDS: Final = (
    "name", "group.uuid", "offline", "drained", "vm_capable", "master", "tags", "ndparams",
    "mtotal", "mnode", "mfree", "dtotal", "dfree", "ctotal",
    # optional (not every master has them): CPUs for the node OS, spindles
    "cnos", "sptotal", "spfree",
)  # fmt: skip
#: Live node fields: missing data makes the node's resources unknown.
NODE_RESOURCES: Final = ("mtotal", "mnode", "mfree", "dtotal", "dfree", "ctotal")
INSTANCE_FIELDS: Final = (
    "name", "pnode", "snodes", "status", "disk_template", "be/maxmem", "be/vcpus",
    "be/auto_balance", "be/spindle_use", "disk_usage", "disk.sizes", "nic.count", "tags",
    # optional
    "disk.spindles", "forthcoming",
)  # fmt: skip


class LuxiBackendError(Exception):
    """The master could not be reached or gave answers the model cannot use."""


class _Rows:
    """One ``Query`` answer, read by field name with the statuses checked."""

    def __init__(self, what: str, fields: Sequence[str], answer: Any) -> None:
        if not isinstance(answer, dict) or not isinstance(answer.get("data"), list):
            raise LuxiBackendError(f"the master's answer to the {what} query is not a query result")
        self.what = what
        self.index = {name: k for k, name in enumerate(fields)}
        self.rows: list[list[Any]] = answer["data"]
        kinds = [d.get("kind") for d in answer.get("fields", [])]
        self.known = {name for name, kind in zip(fields, kinds, strict=False) if kind != "unknown"}

    def get(self, row: list[Any], name: str) -> tuple[int, Any]:
        cell = row[self.index[name]]
        if not isinstance(cell, list | tuple) or len(cell) != 2:
            raise LuxiBackendError(f"{self.what} query: malformed value {cell!r} for {name}")
        return int(cell[0]), cell[1]

    def value(self, row: list[Any], name: str, owner: str) -> Any:
        """A field that must be there (config data)."""
        status, value = self.get(row, name)
        if status != RS_NORMAL:
            raise LuxiBackendError(
                f"{self.what} {owner}: the master gave no value for field '{name}'"
                f" (status {status})"
            )
        return value

    def optional(self, row: list[Any], name: str, default: Any) -> Any:
        status, value = self.get(row, name)
        return value if status == RS_NORMAL and value is not None else default


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise LuxiBackendError(f"{what}: expected a number, got {value!r}")
    return float(value)


def _query(client: Client, what: str, fields: Sequence[str]) -> _Rows:
    return _Rows(what, fields, client.call("Query", what, list(fields), None))


def _groups(rows: _Rows) -> list[Group]:
    groups = []
    for row in rows.rows:
        uuid = str(rows.value(row, "uuid", "?"))
        name = str(rows.value(row, "name", uuid))
        policy = str(rows.value(row, "alloc_policy", name))
        try:
            alloc = AllocPolicy(policy)
        except ValueError:
            raise LuxiBackendError(f"group {name}: unknown allocation policy {policy!r}") from None
        groups.append(
            Group(
                name=name,
                uuid=uuid,
                alloc_policy=alloc,
                tags=list(rows.optional(row, "tags", [])),
                networks=list(rows.optional(row, "networks", [])),
                ipolicy=parse_ipolicy(rows.optional(row, "ipolicy", None)),
            )
        )
    return groups


def _node(rows: _Rows, row: list[Any], warnings: list[str]) -> Node:
    name = str(rows.value(row, "name", "?"))
    offline = bool(rows.value(row, "offline", name))
    drained = bool(rows.value(row, "drained", name))
    vm_capable = bool(rows.value(row, "vm_capable", name))
    nd = rows.optional(row, "ndparams", {})
    excl = bool(nd.get("exclusive_storage", False)) if isinstance(nd, dict) else False
    spindles = int(nd.get("spindle_count", 1)) if isinstance(nd, dict) else 1
    cpu_speed = float(nd.get("cpu_speed", 1.0)) if isinstance(nd, dict) else 1.0
    if excl:
        spindles = int(rows.optional(row, "sptotal", spindles))
    node = Node(
        name=name,
        t_mem=0.0,
        n_mem=0,
        f_mem=0,
        t_dsk=0.0,
        f_dsk=0,
        t_cpu=0.0,
        group=str(rows.value(row, "group.uuid", name)),
        offline=offline or drained or not vm_capable,
        master=bool(rows.optional(row, "master", False)),
        spindles=spindles,
        tags=list(rows.optional(row, "tags", [])),
        excl_stor=excl,
        free_spindles=int(rows.optional(row, "spfree", 0)),
        nos_cpu=int(rows.optional(row, "cnos", 1)),
        cpu_speed=cpu_speed,
    )
    if node.offline:
        return node
    values: dict[str, float] = {}
    missing = []
    for key in NODE_RESOURCES:
        status, value = rows.get(row, key)
        if status == RS_NORMAL and value is not None:
            values[key] = _number(value, f"node {name}, field {key}")
        elif key in ("dtotal", "dfree"):
            values[key] = 0.0  # no file storage directory on the node: no modelled disk
        else:
            missing.append(key)
    if missing:
        warnings.append(
            f"node {name} did not report {', '.join(missing)}; it is treated as offline"
        )
        node.offline = True
        node.unknown_resources = True
        return node
    node.t_mem = values["mtotal"]
    node.n_mem = int(values["mnode"])
    node.f_mem = int(values["mfree"])
    node.t_dsk = values["dtotal"]
    node.f_dsk = int(values["dfree"])
    node.t_cpu = values["ctotal"]
    return node


def _spindles(value: Any) -> int | None:
    """An instance's spindles: the sum over its disks, unknown if one disk's is."""
    if not isinstance(value, list) or any(not isinstance(v, int) for v in value):
        return None
    return sum(value) if value else None


def _instance(rows: _Rows, row: list[Any], nodes: set[str]) -> Instance:
    name = str(rows.value(row, "name", "?"))
    pnode = str(rows.value(row, "pnode", name))
    snodes = list(rows.value(row, "snodes", name))
    snode = str(snodes[0]) if snodes else ""
    for node in (pnode, snode):
        if node and node not in nodes:
            raise LuxiBackendError(f"instance {name}: unknown node {node!r}")
    template = str(rows.value(row, "disk_template", name))
    try:
        DiskTemplate(template)
    except ValueError:
        raise LuxiBackendError(f"instance {name}: unknown disk template {template!r}") from None
    status_code, status = rows.get(row, "status")
    if status_code == RS_OFFLINE:
        status = "ERROR_nodeoffline"
    elif status_code != RS_NORMAL:
        status = "ERROR_nodedown"
    if status not in ALL_STATES:
        raise LuxiBackendError(f"instance {name}: unknown run status {status!r}")
    sizes = [int(s) for s in rows.optional(row, "disk.sizes", [])]
    return Instance(
        name=name,
        mem=int(_number(rows.value(row, "be/maxmem", name), f"instance {name}, be/maxmem")),
        dsk=int(_number(rows.optional(row, "disk_usage", sum(sizes)), f"instance {name}, disk")),
        vcpus=int(_number(rows.value(row, "be/vcpus", name), f"instance {name}, be/vcpus")),
        status=str(status),
        auto_balance=bool(rows.optional(row, "be/auto_balance", True)),
        pnode=pnode,
        snode=snode,
        template=template,
        tags=list(rows.optional(row, "tags", [])),
        spindle_use=int(rows.optional(row, "be/spindle_use", 1)),
        spindles=_spindles(rows.optional(row, "disk.spindles", None)),
        forthcoming=bool(rows.optional(row, "forthcoming", False)),
        disks=sizes,
        nics=int(rows.optional(row, "nic.count", 1)),
    )


def read_cluster(client: Client) -> tuple[Cluster, list[str]]:
    """The cluster from an open client, and the warnings about what it had to guess."""
    warnings: list[str] = []
    groups = _groups(_query(client, "group", GROUP_FIELDS))
    node_rows = _query(client, "node", NODE_FIELDS)
    nodes = [_node(node_rows, row, warnings) for row in node_rows.rows]
    known_groups = {g.uuid for g in groups}
    for node in nodes:
        if node.group not in known_groups:
            raise LuxiBackendError(f"node {node.name}: unknown group UUID {node.group!r}")
    inst_rows = _query(client, "instance", INSTANCE_FIELDS)
    names = {n.name for n in nodes}
    instances = [_instance(inst_rows, row, names) for row in inst_rows.rows]
    info = client.call("QueryClusterInfo")
    if not isinstance(info, dict):
        raise LuxiBackendError("the master's answer to QueryClusterInfo is not an object")
    cluster = Cluster(groups, nodes, instances, [str(t) for t in info.get("tags") or []])
    if isinstance(info.get("ipolicy"), dict):
        cluster.ipolicy = parse_ipolicy(info["ipolicy"])
        cluster.has_policies = True
    return cluster, warnings


def connect(socket: str | None) -> Client:
    """A client for ``socket`` (None or empty: corral's default master socket)."""
    from corral.luxi.client import Client

    return Client(socket or None)


def load_luxi(socket: str | None) -> Cluster:
    """Load the cluster over LUXI; every failure is a LuxiBackendError naming the socket."""
    from corral.api.errors import CorralError

    client = connect(socket)
    try:
        with client:
            cluster, warnings = read_cluster(client)
    except CorralError as err:
        raise LuxiBackendError(_with_path(str(err), str(client.path))) from None
    except OSError as err:
        raise LuxiBackendError(
            f"cannot reach the master daemon at {client.path}: {err.strerror or err}"
        ) from None
    except (LuxiBackendError, ValueError, TypeError, KeyError, AttributeError) as err:
        raise LuxiBackendError(f"bad data from the master at {client.path}: {err}") from None
    for warning in warnings:
        print(f"Warning: {warning}", file=sys.stderr)
    return cluster


def _with_path(message: str, path: str) -> str:
    return message if path in message else f"{message} (master socket {path})"
