"""hspace: how many more instances fit on the cluster (standard and tiered allocation).

Both runs start from the loaded cluster: standard allocation adds instances
of one fixed size until none fits; tiered allocation starts big (the
policy's maximum) and shrinks the size along the resource that ran out.
The report is human text, or ``HTS_KEY=value`` lines with
``--machine-readable``; tables and maps asked for with ``-p``/``-v`` go to
stderr so that stdout stays parseable.
"""

from __future__ import annotations

import copy
import json
import sys
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING

from corral_htools import cli_common as cc
from corral_htools.clusterstats import ClusterStats
from corral_htools.clusterstats import allocation_delta
from corral_htools.clusterstats import cluster_stats
from corral_htools.clusterstats import stats_keys
from corral_htools.cost import coefficients_table
from corral_htools.model import Cluster
from corral_htools.model import DiskTemplate
from corral_htools.report import node_table
from corral_htools.report import parse_fields
from corral_htools.simulate import SimulationError
from corral_htools.simulate import simulated_cluster
from corral_htools.spacealloc import Allocated
from corral_htools.spacealloc import FailMode
from corral_htools.spacealloc import FillOptions
from corral_htools.spacealloc import SpaceEngine
from corral_htools.spacealloc import Spec
from corral_htools.spacealloc import collapse
from corral_htools.spacealloc import iterate_alloc
from corral_htools.spacealloc import tiered_alloc
from corral_htools.units import parse_size

if TYPE_CHECKING:
    import argparse

    from corral_htools.state import Options

PROG = "hspace"


def build_parser() -> argparse.ArgumentParser:
    ap = cc.parser(PROG, "Cluster capacity: how many more instances fit (standard and tiered).")
    cc.add_backend(ap)
    ap.add_argument(
        "--simulate",
        action="append",
        default=[],
        metavar="SPEC",
        help="simulated empty node group POLICY,COUNT,DISK,MEM,CPU[,SPINDLES] (repeatable)",
    )
    ap.add_argument("--disk-template", metavar="TEMPLATE", help="disk template of new instances")
    ap.add_argument("--spindle-use", type=int, metavar="N", help="spindle use of new instances")
    ap.add_argument("--standard-alloc", metavar="DISK,RAM,CPU", help="standard allocation size")
    ap.add_argument("--tiered-alloc", metavar="DISK,RAM,CPU", help="tiered allocation start size")
    ap.add_argument("--max-cpu", type=float, metavar="RATIO", help="max virtual/physical cpus")
    ap.add_argument("--min-disk", type=float, default=0.0, metavar="RATIO", help="disk kept free")
    ap.add_argument(
        "--independent-groups", action="store_true", help="skip only the groups failing N+1"
    )
    ap.add_argument(
        "--accept-existing-errors",
        action="store_true",
        help="allocate despite N+1 failures already present",
    )
    ap.add_argument("-l", "--max-length", type=int, metavar="N", help="allocate at most N")
    ap.add_argument("-p", "--print-nodes", nargs="?", const="", metavar="FIELDS", help="node table")
    ap.add_argument(
        "--machine-readable",
        nargs="?",
        const="yes",
        choices=("yes", "no"),
        help="HTS_KEY=value output",
    )
    ap.add_argument("--no-headers", action="store_true", help="accepted for compatibility")
    return ap


def _parse_spec(text: str, option: str) -> Spec:
    parts = text.split(",")
    try:
        if len(parts) not in (3, 4):
            raise ValueError("expected disk,ram,cpu")
        spn = int(parts[3]) if len(parts) == 4 else 1
        return Spec(mem=parse_size(parts[1]), dsk=parse_size(parts[0]), cpu=int(parts[2]), spn=spn)
    except ValueError as err:
        cc.fail("", f"Invalid {option} specification '{text}': {err}")


def _load(args: argparse.Namespace) -> Cluster:
    if args.simulate:
        if getattr(args, "extra_args", None):
            cc.fail("", "This program doesn't take any arguments.")
        if args.text_data or args.rapi or args.luxi is not None:
            cc.fail("", "Only one of the rapi, luxi, and data files options should be given.")
        try:
            return simulated_cluster(args.simulate)
        except SimulationError as err:
            cc.fail("", str(err))
    return cc.load_cluster(PROG, args)


@dataclass
class RunResult:
    """One allocation run: the engine after it, what it added and why it stopped."""

    engine: SpaceEngine
    added: list[Allocated]
    failures: list[tuple[FailMode, int]]


class Report:
    """Where the human text, the machine keys and the stderr extras go."""

    def __init__(self, machine: bool, verbose: int, fields: list[str] | None) -> None:
        self.machine = machine
        self.verbose = verbose
        self.fields = fields
        self.lines: list[str] = []

    def human(self, line: str) -> None:
        if not self.machine:
            print(line)

    def keys(self, pairs: list[tuple[str, str]]) -> None:
        if self.machine:
            for key, value in pairs:
                print(f"HTS_{key}={value}")

    def nodes(self, engine: SpaceEngine, title: str) -> None:
        if self.fields is not None:
            table = node_table(engine.st, self.fields)
            print(f"\n{title} status:\n" + "\n".join(table) + "\n", file=sys.stderr)


def _spec_text(spec: Spec, excl: bool) -> str:
    text = f"MEM {spec.mem}, DSK {spec.dsk}, CPU {spec.cpu}"
    return text + (f", SPN {spec.spn}" if excl else "")


def _print_ispec(rep: Report, spec: Spec, tiered: bool, template: str, excl: bool) -> None:
    prefix = "TSPEC_INI_" if tiered else "SPEC_"
    rqn = 2 if template == DiskTemplate.DRBD else 1
    rep.keys(
        [
            (prefix + "MEM", str(spec.mem)),
            (prefix + "DSK", str(spec.dsk)),
            (prefix + "CPU", str(spec.cpu)),
            (prefix + "SPN", str(spec.spn)),
            (prefix + "RQN", str(rqn)),
            (prefix + "DISK_TEMPLATE", template),
        ]
    )
    title = "Tiered (initial size)" if tiered else "Standard (fixed-size)"
    rep.human(f"{title} instance spec is:")
    rep.human(f"  {_spec_text(spec, excl)}, using disk template '{template}'.")


def _allocation_map(rep: Report, title: str, added: list[Allocated], excl: bool) -> None:
    if rep.verbose <= 2:
        return
    rows = [
        [
            a.name,
            a.primary,
            a.secondary,
            str(a.spec.mem),
            str(a.spec.dsk),
            str(a.spec.cpu),
            str(a.spec.spn) if excl else "",
        ]
        for a in added
    ]
    lines = [f"{title} allocation map"]
    if rows:
        widths = [max(len(r[k]) for r in rows) for k in range(7)]
        for r in rows:
            cells = [
                c.ljust(w) if k < 3 else c.rjust(w)
                for k, (c, w) in enumerate(zip(r, widths, strict=True))
            ]
            lines.append(" " + " ".join(cells))
    print("\n".join(lines), file=sys.stderr)


def _efficiency(rep: Report, cs: ClusterStats, excl: bool) -> None:
    rows = [
        ("memory", cs.i_mem / cs.t_mem if cs.t_mem else 0.0),
        ("disk", cs.i_dsk / cs.t_dsk if cs.t_dsk else 0.0),
        ("vcpu", cs.i_cpu / cs.v_cpu if cs.v_cpu else 0.0),
    ]
    if excl:
        rows.append(("spindles", cs.i_spn / cs.t_spn if cs.t_spn else 0.0))
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        rep.human(f"  - {name.rjust(width)} usage efficiency: {value * 100:5.2f}%")


def _scores(rep: Report, ini: ClusterStats, fin: ClusterStats) -> None:
    rep.human(f"  - initial cluster score: {ini.score:.8f}")
    rep.human(f"  -   final cluster score: {fin.score:.8f}")


def _spec_map(added: list[Allocated]) -> list[tuple[Spec, int]]:
    """Consecutive instances of one size, counted (Ganeti's tiered spec map)."""
    out: list[tuple[Spec, int]] = []
    for a in added:
        if out and out[-1][0] == a.spec:
            out[-1] = (a.spec, out[-1][1] + 1)
        else:
            out.append((a.spec, 1))
    return out


def _save(args: argparse.Namespace, result: RunResult, suffix: str) -> None:
    if not args.save:
        return
    engine = result.engine
    st = engine.st
    for j, node in enumerate(st.nodes):
        if not node.unknown_resources:
            node.f_dsk = round(st.fdsk[j])
    cl = engine.cluster
    out = Cluster(cl.groups, cl.nodes, st.instances, cl.tags, cl.ipolicy, cl.has_policies)
    cc.save(f"{args.save}.{suffix}", out, f"after {suffix} allocation")


def _bad_nodes(engine: SpaceEngine) -> list[int]:
    st = engine.st
    return [j for j in range(st.n) if bool(st.fail_n1()[j])]


def _allocatable(engine: SpaceEngine) -> str:
    usable = [j for j in range(engine.st.n) if engine.usable[j]]
    if not engine.drbd:
        return f"Left [{','.join(map(str, usable))}]"
    g = engine.group_ix
    pairs = []
    for p in usable:
        secs = [s for s in usable if s != p and g[s] == g[p]]
        if secs:
            pairs.append(f"({p},[{','.join(map(str, secs))}])")
    return f"Right [{','.join(pairs)}]"


def main(argv: list[str] | None = None) -> int:
    ap = build_parser()
    args = cc.parse_args(ap, argv)
    cluster = _load(args)
    model = cc.model_options(args)
    try:
        fields = parse_fields(args.print_nodes) if args.print_nodes is not None else None
    except ValueError as err:
        cc.fail(PROG, str(err))
    ipol = cluster.ipolicy
    if args.disk_template:
        try:
            template = DiskTemplate(args.disk_template).value
        except ValueError:
            cc.fail("", f"Unknown disk template '{args.disk_template}'")
    elif ipol.disk_templates:
        template = ipol.disk_templates[0]
    else:
        cc.fail("", "null list of disk templates received from cluster")
    if args.spindle_use is not None and args.spindle_use < 0:
        cc.fail("", "Invalid value of the spindle-use (--spindle-use) option: it must be >= 0")
    su = args.spindle_use if args.spindle_use is not None else ipol.std.spindle_use
    fill = FillOptions(
        template=template,
        spindle_use=su,
        capacity_checks=not args.no_capacity_checks,
        min_disk_ratio=args.min_disk,
        max_cpu_ratio=args.max_cpu,
    )
    rep = Report(args.machine_readable == "yes", args.verbose - args.quiet, fields)
    base = SpaceEngine(copy.deepcopy(cluster), model, fill)
    excl = bool(base.excl.any())
    rep.nodes(base, "Initial cluster")
    if rep.verbose > 2:
        table = coefficients_table(base.st, "Initial coefficients: overall")
        print("\n".join(table), file=sys.stderr)
    ini = cluster_stats(base)
    _print_cluster(rep, ini, len(cluster.nodes), len(cluster.instances), excl)
    bad = _bad_nodes(base)
    names = [base.st.nodes[j].name for j in bad]
    unevac = base.unevacuable() if fill.capacity_checks else []
    bad_groups = list(dict.fromkeys(base.st.nodes[j].group for j in [*bad, *unevac]))
    if rep.verbose > 2:
        group_names = [g.name for u in bad_groups if (g := cluster.group_by_uuid(u))]
        if names:
            print("Bad nodes: " + json.dumps(names, separators=(",", ":")), file=sys.stderr)
        if group_names:
            print("Bad groups: " + json.dumps(group_names, separators=(",", ":")), file=sys.stderr)
    stop = bool(bad) and not args.accept_existing_errors and not args.independent_groups
    if stop:
        fill.usable_nodes = frozenset()
    elif args.independent_groups:
        # the groups with problems are left alone, the others are filled
        good = frozenset(n.name for n in cluster.nodes if n.group not in bad_groups)
        fill.usable_nodes = fill.checked_nodes = good
    elif args.accept_existing_errors:
        # nodes already failing N+1 (and offline ones) need not become evacuable
        online = base.st.online
        fill.checked_nodes = frozenset(
            nd.name for j, nd in enumerate(base.st.nodes) if online[j] and j not in bad
        )
    probe = SpaceEngine(copy.deepcopy(cluster), model, fill)
    if rep.verbose > 2:
        print(f"Allocatable nodes: {_allocatable(probe)}", file=sys.stderr)
    if args.tiered_alloc:
        tspecs = [_parse_spec(args.tiered_alloc, "tiered-alloc")]
    else:
        tspecs = [Spec.from_ispec(hi) for _, hi in ipol.minmax]
    tiered = _run(cluster, model, fill, tspecs, True, stop, args.max_length, probe)
    _print_ispec(rep, tspecs[0], True, template, excl)
    _allocation_map(rep, "Tiered", tiered.added, excl)
    rep.nodes(tiered.engine, "Tiered allocation")
    _save(args, tiered, "tiered")
    _print_tiered(rep, ini, tiered, excl)
    if args.standard_alloc:
        sspec = _parse_spec(args.standard_alloc, "standard-alloc")
    else:
        sspec = Spec.from_ispec(ipol.std)
        sspec = Spec(
            sspec.mem, sspec.dsk, sspec.cpu, su if args.spindle_use is not None else sspec.spn
        )
    std = _run(cluster, model, fill, [sspec], False, stop, args.max_length, None)
    _print_ispec(rep, sspec, False, template, excl)
    _allocation_map(rep, "Standard", std.added, excl)
    rep.nodes(std.engine, "Standard allocation")
    _save(args, std, "standard")
    _print_standard(rep, ini, std, len(cluster.instances), excl)
    rep.keys([("OK", "1")])
    return 0


def _run(
    cluster: Cluster,
    model: Options,
    fill: FillOptions,
    specs: list[Spec],
    tiered: bool,
    stop: bool,
    limit: int | None,
    engine: SpaceEngine | None,
) -> RunResult:
    engine = engine or SpaceEngine(copy.deepcopy(cluster), model, fill)
    if stop:
        return RunResult(engine, [], [(FailMode.N1, 1)])
    added: list[Allocated] = []
    failures: Counter[FailMode] = Counter()
    for spec in specs:
        left = None if limit is None else limit - len(added)
        if left is not None and left < 0:
            break
        if tiered:
            got, failures = tiered_alloc(engine, spec, left)
        else:
            got, failures = iterate_alloc(engine, spec, left)
        added.extend(got)
    return RunResult(engine, added, collapse(failures))


def _print_cluster(rep: Report, cs: ClusterStats, nodes: int, insts: int, excl: bool) -> None:
    rep.keys(
        [
            ("CLUSTER_MEM", str(int(cs.t_mem))),
            ("CLUSTER_DSK", str(int(cs.t_dsk))),
            ("CLUSTER_CPU", str(int(cs.t_cpu))),
            ("CLUSTER_VCPU", str(cs.v_cpu)),
            ("CLUSTER_SPN", str(int(cs.t_spn))),
            ("CLUSTER_NODES", str(nodes)),
        ]
    )
    rep.keys([("INI_" + k, v) for k, v in stats_keys(cs)])
    res = f"MEM {int(cs.t_mem)}, DSK {int(cs.t_dsk)}, CPU {int(cs.t_cpu)}, VCPU {cs.v_cpu}"
    if excl:
        res += f", SPN {int(cs.t_spn)}"
    rep.human(f"The cluster has {nodes} nodes and the following resources:")
    rep.human(f"  {res}.")
    if insts:
        rep.human(f"There are {insts} initial instances on the cluster.")
    else:
        rep.human("There are no initial instances on the cluster.")


def _reason(failures: list[tuple[FailMode, int]]) -> FailMode:
    return failures[0][0] if failures else FailMode.INTERNAL


def _print_tiered(rep: Report, ini: ClusterStats, run: RunResult, excl: bool) -> None:
    fin = cluster_stats(run.engine)
    specs = _spec_map(run.added)
    tspec = " ".join(f"{s.mem},{s.dsk},{s.cpu},{s.spn}={c}" for s, c in specs)
    rep.keys([("TRL_" + k, v) for k, v in stats_keys(fin)])
    rep.keys([("TSPEC", f"'{tspec}'" if tspec else "")])
    rep.keys(allocation_delta(ini, fin))
    rep.human("Tiered allocation results:")
    if not specs:
        rep.human("  - no instances allocated")
    for s, count in specs:
        rep.human(f"  - {count:3d} instances of spec {_spec_text(s, excl)}")
    rep.human(f"  - most likely failure reason: {_reason(run.failures).label}")
    _scores(rep, ini, fin)
    _efficiency(rep, fin, excl)


def _print_standard(
    rep: Report, ini: ClusterStats, run: RunResult, initial: int, excl: bool
) -> None:
    fin = cluster_stats(run.engine)
    rep.keys([("FIN_" + k, v) for k, v in stats_keys(fin)])
    usage = f"{initial / fin.n_inst:.8f}" if fin.n_inst else "NaN"
    reason = _reason(run.failures)
    rep.keys(
        [
            ("ALLOC_USAGE", usage),
            ("ALLOC_INSTANCES", str(len(run.added))),
            ("ALLOC_FAIL_REASON", reason.label.upper()),
        ]
    )
    rep.keys([(f"ALLOC_{m.label.upper()}_CNT", str(c)) for m, c in run.failures])
    rep.human("Normal (fixed-size) allocation results:")
    rep.human(f"  - {len(run.added):3d} instances allocated")
    rep.human(f"  - most likely failure reason: {reason.label}")
    _scores(rep, ini, fin)
    _efficiency(rep, fin, excl)


if __name__ == "__main__":
    raise SystemExit(main())
