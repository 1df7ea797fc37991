"""The htools text backend (``-t FILE``): parser and writer.

Five sections separated by one empty line: groups, nodes, instances,
cluster tags, policies (the last one optional). Errors raise
:class:`TextFormatError` naming the line and field, so a tool can print a
one-line diagnosis instead of a traceback.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from corral_htools.model import ALL_STATES
from corral_htools.model import DEFAULT_IPOLICY
from corral_htools.model import AllocPolicy
from corral_htools.model import Cluster
from corral_htools.model import DiskTemplate
from corral_htools.model import Group
from corral_htools.model import Instance
from corral_htools.model import IPolicy
from corral_htools.model import ISpec
from corral_htools.model import Node

if TYPE_CHECKING:
    from collections.abc import Callable


class TextFormatError(ValueError):
    """The input file is not a valid htools text backend file."""


class _Line:
    """One record of one section, with its position for error messages."""

    def __init__(self, section: str, lineno: int, text: str) -> None:
        self.section = section
        self.lineno = lineno
        self.fields = text.split("|")

    def fail(self, what: str) -> TextFormatError:
        return TextFormatError(f"line {self.lineno} ({self.section}): {what}")

    def get(self, idx: int, name: str, default: str | None = None) -> str:
        if idx < len(self.fields):
            return self.fields[idx]
        if default is None:
            raise self.fail(f"missing field {idx + 1} ({name})")
        return default

    def number(
        self, idx: int, name: str, conv: Callable[[str], float], default: str | None = None
    ) -> float:
        raw = self.get(idx, name, default)
        try:
            return conv(raw)
        except ValueError:
            raise self.fail(f"field {idx + 1} ({name}): {raw!r} is not a number") from None

    def integer(self, idx: int, name: str, default: str | None = None) -> int:
        return int(self.number(idx, name, int, default))

    def flag(self, idx: int, name: str, default: str | None = None) -> bool:
        raw = self.get(idx, name, default)
        if raw not in ("Y", "N"):
            raise self.fail(f"field {idx + 1} ({name}): expected Y or N, got {raw!r}")
        return raw == "Y"


def _split_list(text: str) -> list[str]:
    return [t for t in text.split(",") if t] if text else []


def _sections(text: str) -> list[list[tuple[int, str]]]:
    sections: list[list[tuple[int, str]]] = [[]]
    for lineno, raw in enumerate(text.split("\n"), start=1):
        if raw == "":
            sections.append([])
        else:
            sections[-1].append((lineno, raw))
    # A trailing newline ends the last line; it does not start a section.
    if text.endswith("\n") and not sections[-1]:
        sections.pop()
    return sections


def _parse_group(line: _Line) -> Group:
    name = line.get(0, "group name")
    uuid = line.get(1, "group UUID")
    policy = line.get(2, "allocation policy")
    try:
        alloc = AllocPolicy(policy)
    except ValueError:
        raise line.fail(f"field 3 (allocation policy): unknown policy {policy!r}") from None
    tags = _split_list(line.get(3, "tags"))
    networks = _split_list(line.get(4, "networks", ""))
    return Group(name, uuid, alloc, tags, networks)


def _parse_node(line: _Line, groups: dict[str, Group]) -> Node:
    name = line.get(0, "node name")
    if len(line.fields) < 9:
        raise line.fail(f"node {name}: {len(line.fields)} fields, at least 9 needed")
    gid = line.get(8, "group UUID")
    if gid not in groups:
        raise line.fail(f"node {name}: unknown group UUID {gid!r}")
    role = line.get(7, "role")
    if role not in ("Y", "N", "M"):
        raise line.fail(f"field 8 (role): expected Y, N or M, got {role!r}")
    unknown = any(line.get(i, "resources") == "?" for i in range(1, 7))
    node = Node(
        name=name,
        t_mem=0.0 if unknown else line.number(1, "total memory", float),
        n_mem=0 if unknown else line.integer(2, "node memory"),
        f_mem=0 if unknown else line.integer(3, "free memory"),
        t_dsk=0.0 if unknown else line.number(4, "total disk", float),
        f_dsk=0 if unknown else line.integer(5, "free disk"),
        t_cpu=0.0 if unknown else line.number(6, "CPU count", float),
        group=gid,
        offline=unknown or role == "Y",
        master=role == "M",
        spindles=line.integer(9, "spindle count", "1"),
        tags=_split_list(line.get(10, "tags", "")),
        excl_stor=line.flag(11, "exclusive storage", "N"),
        free_spindles=line.integer(12, "free spindles", "0"),
        nos_cpu=line.integer(13, "node OS CPUs", "1"),
        cpu_speed=line.number(14, "CPU speed", float, "1.0"),
        unknown_resources=unknown,
    )
    return node


def _parse_instance(line: _Line, nodes: dict[str, Node]) -> Instance:
    name = line.get(0, "instance name")
    if len(line.fields) < 10:
        raise line.fail(f"instance {name}: {len(line.fields)} fields, at least 10 needed")
    status = line.get(4, "run status")
    if status not in ALL_STATES:
        raise line.fail(f"instance {name}: unknown run status {status!r}")
    pnode = line.get(6, "primary node")
    snode = line.get(7, "secondary node")
    template = line.get(8, "disk template")
    try:
        DiskTemplate(template)
    except ValueError:
        raise line.fail(f"instance {name}: unknown disk template {template!r}") from None
    for node in (pnode, snode):
        if node and node not in nodes:
            raise line.fail(f"Unknown node '{node}' for instance {name}")
    if snode and snode == pnode:
        raise line.fail(f"instance {name} has same primary and secondary node - {pnode}")
    spindles_raw = line.get(11, "spindles", "-")
    spindles = None if spindles_raw == "-" else line.integer(11, "spindles")
    return Instance(
        name=name,
        mem=line.integer(1, "memory"),
        dsk=line.integer(2, "disk"),
        vcpus=line.integer(3, "vcpus"),
        status=status,
        auto_balance=line.flag(5, "auto_balance"),
        pnode=pnode,
        snode=snode,
        template=template,
        tags=_split_list(line.get(9, "tags")),
        spindle_use=line.integer(10, "spindle use", "1"),
        spindles=spindles,
        forthcoming=line.flag(12, "forthcoming", "N"),
    )


def _parse_spec(line: _Line, text: str, what: str) -> ISpec:
    parts = text.split(",")
    if len(parts) != 6:
        raise line.fail(f"{what}: expected 6 comma-separated integers, got {text!r}")
    try:
        values = [int(p) for p in parts]
    except ValueError:
        raise line.fail(f"{what}: {text!r} is not a list of integers") from None
    return ISpec(*values)


def _parse_policy(line: _Line) -> tuple[str, IPolicy]:
    owner = line.get(0, "owner")
    std = _parse_spec(line, line.get(1, "std spec"), "field 2 (std spec)")
    specs = line.get(2, "min/max specs").split(";")
    if len(specs) % 2:
        raise line.fail("field 3 (min/max specs): specs must come in min;max pairs")
    minmax = tuple(
        (
            _parse_spec(line, specs[i], "field 3 (min spec)"),
            _parse_spec(line, specs[i + 1], "field 3 (max spec)"),
        )
        for i in range(0, len(specs), 2)
    )
    templates = tuple(_split_list(line.get(3, "disk templates")))
    vcpu = line.number(4, "vcpu ratio", float)
    spindle = line.number(5, "spindle ratio", float)
    return owner, IPolicy(std, minmax, templates, vcpu, spindle)


def parse_text(text: str, unique_instances: bool = True) -> Cluster:
    """Parse a whole text backend file.

    Ganeti's own loader accepts repeated instance names (instances are known
    by index); ``unique_instances=False`` does the same for the tools that
    must read such files (hroller's test data has them).
    """
    sections = _sections(text)
    if len(sections) < 4:
        raise TextFormatError(
            f"Invalid format of the input file: {len(sections)} sections instead of 4 or more"
        )
    groups: dict[str, Group] = {}
    for lineno, raw in sections[0]:
        group = _parse_group(_Line("groups", lineno, raw))
        groups[group.uuid] = group
    nodes: dict[str, Node] = {}
    for lineno, raw in sections[1]:
        node = _parse_node(_Line("nodes", lineno, raw), groups)
        if node.name in nodes:
            raise TextFormatError(f"line {lineno} (nodes): duplicate node name {node.name}")
        nodes[node.name] = node
    instances: list[Instance] = []
    seen: set[str] = set()
    for lineno, raw in sections[2]:
        inst = _parse_instance(_Line("instances", lineno, raw), nodes)
        if inst.name in seen and unique_instances:
            raise TextFormatError(f"line {lineno} (instances): duplicate instance {inst.name}")
        seen.add(inst.name)
        instances.append(inst)
    tags = [raw for _, raw in sections[3]]
    cluster = Cluster(list(groups.values()), list(nodes.values()), instances, tags)
    if len(sections) > 4:
        by_name = {g.name: g for g in groups.values()}
        for lineno, raw in sections[4]:
            line = _Line("policies", lineno, raw)
            owner, policy = _parse_policy(line)
            if owner == "":
                cluster.ipolicy = policy
                cluster.has_policies = True
            elif owner in by_name:
                by_name[owner].ipolicy = policy
            else:
                raise line.fail(f"policy for unknown group {owner!r}")
    return cluster


def load_text(path: str, unique_instances: bool = True) -> Cluster:
    """Read and parse a text backend file; I/O errors become TextFormatError."""
    try:
        if path == "-":
            import sys

            return parse_text(sys.stdin.read(), unique_instances)
        with open(path, encoding="utf-8") as handle:
            return parse_text(handle.read(), unique_instances)
    except OSError as err:
        raise TextFormatError(f"cannot read {path}: {err.strerror}") from None


def _show_float(value: float) -> str:
    return repr(float(value))


def _spec(spec: ISpec) -> str:
    return ",".join(str(v) for v in spec.as_tuple())


def _policy_line(owner: str, pol: IPolicy) -> str:
    minmax = ";".join(f"{_spec(lo)};{_spec(hi)}" for lo, hi in pol.minmax)
    return "|".join(
        [
            owner,
            _spec(pol.std),
            minmax,
            ",".join(pol.disk_templates),
            _show_float(pol.vcpu_ratio),
            _show_float(pol.spindle_ratio),
        ]
    )


def _policy_default(cluster: Cluster) -> IPolicy:
    if cluster.has_policies:
        return cluster.ipolicy
    base = DEFAULT_IPOLICY
    return IPolicy(
        base.std,
        base.minmax,
        base.disk_templates,
        cluster.ipolicy.vcpu_ratio,
        cluster.ipolicy.spindle_ratio,
    )


def serialize_text(cluster: Cluster) -> str:
    """Write a cluster in the text format (what ``-S FILE`` produces)."""
    out: list[str] = []
    for g in cluster.groups:
        out.append(
            f"{g.name}|{g.uuid}|{g.alloc_policy.value}|{','.join(g.tags)}|{','.join(g.networks)}"
        )
    out.append("")
    for n in cluster.nodes:
        role = "Y" if n.offline or n.drained else ("M" if n.master else "N")
        out.append(
            "|".join(
                [
                    n.name,
                    f"{n.t_mem:.0f}",
                    str(n.n_mem),
                    str(n.f_mem),
                    f"{n.t_dsk:.0f}",
                    str(n.f_dsk),
                    f"{n.t_cpu:.0f}",
                    role,
                    n.group,
                    str(n.spindles),
                    ",".join(n.tags),
                    "Y" if n.excl_stor else "N",
                    str(n.free_spindles),
                    str(n.nos_cpu),
                    _show_float(n.cpu_speed),
                ]
            )
        )
    out.append("")
    for i in cluster.instances:
        out.append(
            "|".join(
                [
                    i.name,
                    str(i.mem),
                    str(i.dsk),
                    str(i.vcpus),
                    i.status,
                    "Y" if i.auto_balance else "N",
                    i.pnode,
                    i.snode,
                    i.template,
                    ",".join(i.tags),
                    str(i.spindle_use),
                    "-" if i.spindles is None else str(i.spindles),
                    "Y" if i.forthcoming else "N",
                ]
            )
        )
    out.append("")
    out.extend(cluster.tags)
    out.append("")
    default = _policy_default(cluster)
    out.append(_policy_line("", default))
    for g in cluster.groups:
        out.append(_policy_line(g.name, g.ipolicy if g.ipolicy is not None else default))
    return "\n".join(out) + "\n"
