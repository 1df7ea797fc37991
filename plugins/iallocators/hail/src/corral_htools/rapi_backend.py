"""The htools RAPI backend (``-m CLUSTER``): the cluster as its remote API shows it.

Four ``GET`` requests (``/2/groups?bulk=1``, ``/2/nodes?bulk=1``,
``/2/instances?bulk=1``, ``/2/info``) give the same
:class:`~corral_htools.model.Cluster` the other backends build. ``CLUSTER``
is a host name (``https://HOST:5080`` is asked, as Ganeti's tools do), a full
``https://`` URL, or ``file://DIR``: a directory holding ``groups.json``,
``nodes.json``, ``instances.json`` and ``info.json``, as saved from a RAPI
(Ganeti's test data has this layout).

How the answers become the model follows Ganeti's RAPI loader, so
``hscan`` files and ``-m`` runs agree with Ganeti's:

* a node is *live* when it is neither offline nor ``vm_capable: false``;
  a node that is not live has no resources, and a drained node keeps its
  resources but is modelled offline (nothing may move onto it);
* an instance's memory is its ``oper_ram`` when the RAPI reports one (the
  instance runs), else its ``beparams`` ``maxmem``;
* the master is the node ``/2/info`` names;
* on a cluster whose default hypervisor is KVM, a live node's own memory is
  ``--static-kvm-node-memory`` (4096 MB unless given; 0 keeps ``mnode``):
  what KVM reports for the host is not what the host keeps for itself.

HTTPS differs from Ganeti on purpose: Ganeti's tools do not check the RAPI
certificate at all. Here the server is verified against the system's trust
store (``SSL_CERT_FILE`` names another), or against ``--rapi-ca FILE`` (the
cluster's own self-signed ``rapi.pem``: that certificate is pinned, so its
host name is not compared); ``--rapi-insecure`` skips the check as Ganeti
does. ``https://USER:PASSWORD@HOST`` sends HTTP basic authentication.
"""

from __future__ import annotations

import base64
import json
import ssl
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
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

#: The port Ganeti's (and corral's) RAPI daemon listens on.
RAPI_PORT: Final = 5080
#: Seconds to wait for each answer (Ganeti's RAPI loader waits as long).
QUERY_TIMEOUT: Final = 60
#: The four documents, in the order they are read, and the resource each comes from.
RESOURCES: Final = (
    ("groups", "/2/groups?bulk=1"),
    ("nodes", "/2/nodes?bulk=1"),
    ("instances", "/2/instances?bulk=1"),
    ("info", "/2/info"),
)


class RapiBackendError(Exception):
    """The RAPI could not be read or gave data the model cannot use."""


@dataclass(frozen=True)
class TlsOptions:
    """How to check the RAPI server's certificate."""

    ca_file: str | None = None
    insecure: bool = False

    def context(self) -> ssl.SSLContext:
        if self.insecure:
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            return ctx
        if self.ca_file:
            try:
                ctx = ssl.create_default_context(cafile=self.ca_file)
            except (OSError, ssl.SSLError) as err:
                raise RapiBackendError(f"cannot use {self.ca_file} as the RAPI CA: {err}") from None
            ctx.check_hostname = False  # a pinned self-signed certificate names no host
            return ctx
        return ssl.create_default_context()


def base_url(cluster: str) -> str:
    """Where the RAPI of ``cluster`` answers (no trailing slash)."""
    if "://" in cluster:
        return cluster.rstrip("/")
    host = f"[{cluster}]" if ":" in cluster and not cluster.startswith("[") else cluster
    return f"https://{host}:{RAPI_PORT}"


def without_password(cluster: str) -> str:
    """``cluster`` fit to print or to name a file: ``https://USER:PASSWORD@HOST`` loses PASSWORD."""
    if "://" not in cluster or "@" not in cluster:
        return cluster
    scheme, rest = cluster.split("://", 1)
    userinfo, at, host = rest.partition("@")
    return f"{scheme}://{userinfo.split(':', 1)[0]}{at}{host}"


def fetch(cluster: str, tls: TlsOptions | None = None) -> dict[str, Any]:
    """The four RAPI documents of ``cluster``, decoded, by name."""
    if cluster.startswith("file://"):
        return {name: _read_file(Path(cluster[len("file://") :]) / f"{name}.json")
                for name, _ in RESOURCES}  # fmt: skip
    base = base_url(cluster)
    parts = urllib.parse.urlsplit(base)
    if parts.scheme not in ("https", "http"):
        raise RapiBackendError(f"unsupported RAPI URL scheme {parts.scheme!r} in {cluster!r}")
    headers = {"Accept": "application/json", "User-Agent": "corral-htools"}
    if parts.username is not None:
        creds = (
            f"{urllib.parse.unquote(parts.username)}:{urllib.parse.unquote(parts.password or '')}"
        )
        headers["Authorization"] = "Basic " + base64.b64encode(creds.encode()).decode()
        netloc = parts.hostname or ""
        netloc = f"[{netloc}]" if ":" in netloc else netloc
        if parts.port:
            netloc += f":{parts.port}"
        base = urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, "", ""))
    ctx = (tls or TlsOptions()).context() if parts.scheme == "https" else None
    return {name: _get(base + path, headers, ctx) for name, path in RESOURCES}


def _read_file(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise RapiBackendError(f"{path}: cannot read: {err.strerror or err}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise RapiBackendError(f"{path}: not JSON: {err}") from None


def _get(url: str, headers: dict[str, str], ctx: ssl.SSLContext | None) -> Any:
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=QUERY_TIMEOUT, context=ctx) as answer:
            body = answer.read()
    except urllib.error.HTTPError as err:
        hint = " (give the RAPI user as https://USER:PASSWORD@HOST)" if err.code == 401 else ""
        raise RapiBackendError(f"'{url}' answered {err.code} {err.reason}{hint}") from None
    except urllib.error.URLError as err:
        reason = err.reason
        if isinstance(reason, ssl.SSLCertVerificationError):
            raise RapiBackendError(
                f"'{url}': the server's certificate is not trusted ({reason.verify_message});"
                " give the cluster's RAPI certificate with --rapi-ca FILE, or --rapi-insecure"
                " to skip the check as Ganeti's tools do"
            ) from None
        raise RapiBackendError(
            f"cannot fetch '{url}': {getattr(reason, 'strerror', None) or reason}"
        ) from None
    except (OSError, ssl.SSLError) as err:
        raise RapiBackendError(f"cannot fetch '{url}': {err}") from None
    try:
        return json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise RapiBackendError(f"'{url}' did not answer JSON: {err}") from None


class _Obj:
    """One RAPI object, read by key with errors that name the object and the key."""

    def __init__(self, value: Any, owner: str) -> None:
        if not isinstance(value, dict):
            raise RapiBackendError(f"{owner}: expected a JSON object, got {_kind(value)}")
        self.data = value
        self.owner = owner

    def get(self, key: str, kind: type | tuple[type, ...]) -> Any:
        if key not in self.data:
            raise RapiBackendError(f"{self.owner}: missing field '{key}'")
        return self.check(key, self.data[key], kind)

    def optional(self, key: str, kind: type | tuple[type, ...], default: Any) -> Any:
        value = self.data.get(key)
        return default if value is None else self.check(key, value, kind)

    def check(self, key: str, value: Any, kind: type | tuple[type, ...]) -> Any:
        kinds = kind if isinstance(kind, tuple) else (kind,)
        if (isinstance(value, bool) and bool not in kinds) or not isinstance(value, kinds):
            wanted = " or ".join(_NAMES.get(k, k.__name__) for k in kinds)
            raise RapiBackendError(
                f"{self.owner}: field '{key}' should be {wanted}, got {_kind(value)} {value!r}"
            )
        return value


_NAMES = {dict: "an object", list: "a list", str: "a string", bool: "a boolean",
          int: "a number", float: "a number", type(None): "null"}  # fmt: skip
NUMBER = (int, float)


def _kind(value: Any) -> str:
    return _NAMES.get(type(value), "a number")


def _list(doc: Any, what: str) -> list[Any]:
    if not isinstance(doc, list):
        raise RapiBackendError(f"the {what} list: expected a JSON list, got {_kind(doc)}")
    return doc


def _group(value: Any) -> Group:
    obj = _Obj(value, "a group")
    name = str(obj.get("name", str))
    obj.owner = f"Group '{name}'"
    policy = obj.get("alloc_policy", str)
    try:
        alloc = AllocPolicy(policy)
    except ValueError:
        raise RapiBackendError(f"{obj.owner}: unknown allocation policy {policy!r}") from None
    return Group(
        name=name,
        uuid=obj.get("uuid", str),
        alloc_policy=alloc,
        tags=[str(t) for t in obj.optional("tags", list, [])],
        ipolicy=parse_ipolicy(obj.optional("ipolicy", dict, None)),
    )


def _node(value: Any, groups: dict[str, Group]) -> Node:
    obj = _Obj(value, "a node")
    name = obj.get("name", str)
    obj.owner = f"Node '{name}'"
    offline = obj.get("offline", bool)
    drained = obj.get("drained", bool)
    live = not offline and obj.optional("vm_capable", bool, True)
    nd = _Obj(obj.get("ndparams", dict), f"{obj.owner}, ndparams")
    excl = nd.optional("exclusive_storage", bool, False)
    default_group = next(iter(groups), "")
    group = obj.optional("group.uuid", str, default_group)
    if group not in groups:
        raise RapiBackendError(f"{obj.owner}: unknown group UUID {group!r}")

    def live_value(key: str, kind: type | tuple[type, ...] = NUMBER) -> Any:
        return obj.get(key, kind) if live else 0

    spindles = live_value("sptotal", int) if excl else nd.optional("spindle_count", int, 1)
    return Node(
        name=name,
        t_mem=float(live_value("mtotal")),
        n_mem=int(live_value("mnode")),
        f_mem=int(live_value("mfree")),
        t_dsk=float(live_value("dtotal")),
        f_dsk=int(live_value("dfree")),
        t_cpu=float(live_value("ctotal")),
        group=group,
        offline=not live or drained,
        drained=drained,
        spindles=int(spindles),
        tags=[str(t) for t in obj.optional("tags", list, [])],
        excl_stor=excl,
        free_spindles=int(obj.optional("spfree", int, 0)) if live else 0,
        nos_cpu=int(obj.optional("cnos", int, 1)) if live else 0,
        cpu_speed=float(nd.optional("cpu_speed", NUMBER, 1.0)),
    )


def _instance(value: Any, nodes: set[str]) -> Instance:
    obj = _Obj(value, "an instance")
    name = obj.get("name", str)
    obj.owner = f"Instance '{name}'"
    be = _Obj(obj.get("beparams", dict), f"{obj.owner}, beparams")
    oper_ram = obj.optional("oper_ram", NUMBER, None)
    if oper_ram is not None:
        mem = oper_ram
    elif "memory" in be.data:
        mem = be.get("memory", NUMBER)
    else:
        mem = be.get("maxmem", NUMBER)
    pnode = obj.get("pnode", str)
    snodes = obj.get("snodes", list)
    snode = str(snodes[0]) if snodes else ""
    for node in (pnode, snode):
        if node and node not in nodes:
            raise RapiBackendError(f"{obj.owner}: unknown node {node!r}")
    template = obj.get("disk_template", str)
    try:
        DiskTemplate(template)
    except ValueError:
        raise RapiBackendError(f"{obj.owner}: unknown disk template {template!r}") from None
    status = obj.get("status", str)
    if status not in ALL_STATES:
        raise RapiBackendError(f"{obj.owner}: unknown run status {status!r}")
    sizes = [int(s) for s in obj.optional("disk.sizes", list, [])]
    spindles = obj.optional("disk.spindles", list, [])
    known = bool(spindles) and all(isinstance(s, int) and not isinstance(s, bool) for s in spindles)
    return Instance(
        name=name,
        mem=int(mem),
        dsk=int(obj.get("disk_usage", NUMBER)),
        vcpus=int(be.get("vcpus", NUMBER)),
        status=status,
        auto_balance=be.optional("auto_balance", bool, True),
        pnode=pnode,
        snode=snode,
        template=template,
        tags=[str(t) for t in obj.optional("tags", list, [])],
        spindle_use=int(be.optional("spindle_use", int, 1)),
        spindles=sum(spindles) if known else None,
        forthcoming=obj.optional("forthcoming", bool, False),
        disks=sizes,
        nics=len(obj.optional("nic.macs", list, [None])),
    )


def parse_cluster(docs: dict[str, Any], static_kvm_memory: int = 0) -> Cluster:
    """The cluster model from the four decoded RAPI documents."""
    groups = [_group(g) for g in _list(docs["groups"], "groups")]
    by_uuid = {g.uuid: g for g in groups}
    nodes = [_node(n, by_uuid) for n in _list(docs["nodes"], "nodes")]
    names = {n.name for n in nodes}
    instances = [_instance(i, names) for i in _list(docs["instances"], "instances")]
    info = _Obj(docs["info"], "the cluster information")
    master = info.optional("master", str, "")
    kvm = info.optional("default_hypervisor", str, "") == "kvm" and static_kvm_memory > 0
    for node in nodes:
        node.master = node.name == master
        if kvm and node.t_mem > 0:
            node.n_mem = static_kvm_memory
    cluster = Cluster(groups, nodes, instances, [str(t) for t in info.optional("tags", list, [])])
    policy = info.optional("ipolicy", dict, None)
    if policy is not None:
        cluster.ipolicy = parse_ipolicy(policy)
        cluster.has_policies = True
    return cluster


def load_rapi(cluster: str, tls: TlsOptions | None = None, static_kvm_memory: int = 0) -> Cluster:
    """Load ``cluster`` over RAPI; every failure is a RapiBackendError that names it."""
    docs = fetch(cluster, tls)
    try:
        return parse_cluster(docs, static_kvm_memory)
    except (ValueError, TypeError, KeyError) as err:  # ipolicy values of the wrong kind
        raise RapiBackendError(f"bad data from {cluster}: {err}") from None
