"""hbal: cluster balancer (Ganeti-compatible command line and output)."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import numpy as np

from corral_htools import cli_common as cc
from corral_htools.balance import BalanceOptions
from corral_htools.balance import balance
from corral_htools.cost import coefficients_table
from corral_htools.cost import detailed
from corral_htools.cost import score
from corral_htools.dynutil import apply_util
from corral_htools.dynutil import load_util
from corral_htools.jobs import command_script
from corral_htools.jobs import split_jobsets
from corral_htools.loadinfo import print_tags_and_policy
from corral_htools.loadinfo import warn_split
from corral_htools.moves import describe
from corral_htools.report import instance_table
from corral_htools.report import node_table
from corral_htools.report import parse_fields
from corral_htools.state import group_state

if TYPE_CHECKING:
    import argparse

    from corral_htools.model import Cluster
    from corral_htools.moves import Move
    from corral_htools.state import GroupState

PROG = "hbal"


def build_parser() -> argparse.ArgumentParser:
    ap = cc.parser(PROG, "Cluster balancer: computes the moves that best balance a node group.")
    cc.add_backend(ap)
    ap.add_argument("-G", "--group", help="the node group to balance (needed with several groups)")
    ap.add_argument("-l", "--max-length", type=int, default=-1, help="at most N moves")
    ap.add_argument("-e", "--min-score", type=float, default=1e-9, help="stop below this score")
    ap.add_argument("-g", "--min-gain", type=float, default=0.01, help="minimum gain per step")
    ap.add_argument(
        "--min-gain-limit", type=float, default=0.1, help="apply --min-gain below this score"
    )
    ap.add_argument(
        "-C",
        "--print-commands",
        nargs="?",
        const="-",
        metavar="FILE",
        help="print the gnt-instance commands (or write them as a script to FILE)",
    )
    ap.add_argument(
        "-p",
        "--print-nodes",
        nargs="?",
        const="",
        metavar="FIELDS",
        help="print the node table before and after (on stderr)",
    )
    ap.add_argument("--print-instances", action="store_true", help="print the instance map too")
    ap.add_argument(
        "-X",
        "--exec",
        action="store_true",
        help="execute the moves as jobs through the master daemon (needs -L)",
    )
    ap.add_argument(
        "--first-job-group", action="store_true", help="with -X, execute only the first jobset"
    )
    ap.add_argument("--reason", help="with -X, the reason recorded in the submitted jobs")
    ap.add_argument(
        "--exclude-instances", default="", metavar="NAMES", help="instances not to move"
    )
    ap.add_argument("--select-instances", default="", metavar="NAMES", help="only move these")
    ap.add_argument(
        "--evac-mode", action="store_true", help="only move instances off offline/drained nodes"
    )
    ap.add_argument("--no-disk-moves", action="store_true", help="only failovers/migrations")
    ap.add_argument("--no-instance-moves", action="store_true", help="no moves at all (check only)")
    ap.add_argument(
        "--restricted-migration", action="store_true", help="accepted for compatibility"
    )
    ap.add_argument("--max-cpu", type=float, help="max vcpu/pcpu ratio (overrides the policy)")
    ap.add_argument(
        "--min-disk", type=float, help="minimum free disk ratio (accepted, not enforced)"
    )
    ap.add_argument(
        "--prio",
        "--priority",
        dest="prio",
        default="normal",
        help="priority of the jobs -X submits: low, normal (the default) or high",
    )
    ap.add_argument("--dry-run", action="store_true", help="accepted for compatibility")
    return ap


def _select_group(cluster: Cluster, name: str | None) -> str:
    if name is not None:
        group = cluster.group_by_name(name)
        if group is None:
            print(f"Node group {name} not found. Node group list is:", file=sys.stderr)
            for g in cluster.groups:
                print(f"  {g.name}", file=sys.stderr)
            cc.fail("", "Aborting.")
        return group.uuid
    used = {n.group for n in cluster.nodes}
    if len(used) > 1 or (not used and len(cluster.groups) > 1):
        print("Found multiple node groups:", file=sys.stderr)
        for g in cluster.groups:
            print(f"  {g.name}", file=sys.stderr)
        cc.fail("", "Aborting.")
    if used:
        return used.pop()
    return cluster.groups[0].uuid if cluster.groups else ""


def step_line(st: GroupState, k: int, move: Move, value: float, iw: int, nw: int) -> str:
    inst = st.instances[move.inst]

    def pair(p: int, s: int) -> str:
        return st.nodes[p].shown + (":" + st.nodes[s].shown if s >= 0 else "")

    target = st.nodes[move.target].shown if move.target >= 0 else ""
    return (
        f"  {k:3d}. {inst.shown:<{iw}} {pair(move.old_p, move.old_s):<{nw}} => "
        f"{pair(move.new_p, move.new_s):<{nw}} {value:12.8f} a={describe(move.kind, target)}"
    )


def policy_violations(st: GroupState) -> int:
    bad = (st.spin > st.hi_spindles) | (st.ucpu > st.hi_cpu)
    return int((bad & st.online).sum())


def main(argv: list[str] | None = None) -> int:
    ap = build_parser()
    args = cc.parse_args(ap, argv)
    verbose = args.verbose - args.quiet
    if args.prio not in ("low", "normal", "high"):
        cc.fail("", f"Unknown priority '{args.prio}'")
    if args.util_file:
        try:
            util_lines = load_util(args.util_file)
        except ValueError as err:
            cc.fail("", str(err))
    if args.exec and args.luxi is None:
        cc.fail(PROG, "Execution of commands possible only on LUXI")
    cluster = cc.load_cluster(PROG, args)
    try:
        fields = parse_fields(args.print_nodes) if args.print_nodes is not None else None
    except ValueError as err:
        cc.fail(PROG, str(err))
    opts = cc.model_options(args)
    known = {i.name for i in cluster.instances}
    excluded = frozenset(x for x in args.exclude_instances.split(",") if x)
    chosen = {x for x in args.select_instances.split(",") if x}
    for name in sorted((excluded | chosen) - known):
        cc.fail("", f"Unknown instance {name}")
    if verbose > 1:
        print_tags_and_policy(cluster)
    if not cluster.instances:
        print("Cluster is empty, exiting.")
        return 0
    if verbose > 1:
        warn_split(cluster, "These instances will not be moved.")
    print(f"Loaded {len(cluster.nodes)} nodes, {len(cluster.instances)} instances")
    if cluster.name_suffix and verbose > 1:
        print(f"Note: Stripping common suffix of '{cluster.name_suffix}' from names")
    if args.save:
        cc.save(f"{args.save}.original", cluster, "before balancing")
    gid = _select_group(cluster, args.group)
    st = group_state(cluster, gid, opts)
    if args.util_file:
        apply_util(st, util_lines)
    if args.max_cpu is not None:
        st.hi_cpu = args.max_cpu * st.t_cpu
    group = cluster.group_by_uuid(gid)
    print(f"Group size {st.n} nodes, {st.m} instances")
    print(f"Selected node group: {group.name if group else gid}")
    bad_nodes = int(st.fail_n1().sum())
    bad_inst = st.bad_instances()
    if verbose >= 1:
        print(f"Initial check done: {bad_nodes} bad nodes, {bad_inst} bad instances.")
    if bool(st.fail_n1().any()):
        print(
            "Cluster is not N+1 happy, continuing but no guarantee that the cluster "
            "will end N+1 happy."
        )
    violating = policy_violations(st)
    if violating:
        print(f"The cluster contains {violating} policy-violating nodes.")
        if args.ignore_soft_errors:
            print("Continuing, ignoring soft errors.")
        else:
            print(
                "Continuing, but the set of moves might be too restricted; "
                "consider using the --ignore-soft-errors option."
            )
    _print_tables(st, args.print_instances, fields, "Initial")
    free_before = (int(st.fmem.sum()), int(st.fdsk.sum()))
    initial = score(st)
    if verbose > 2:
        print("\n".join(coefficients_table(st, "Initial coefficients: overall")))
    else:
        print(f"Initial score: {initial:.8f}")
    optimum = sum(v * w for name, v, w in detailed(st) if name == "reserved_mem_rtotal")
    if initial - optimum < args.min_score or initial < args.min_score:
        print(
            f"Cluster is already well balanced (initial score {initial:.6f},\n"
            f"optimum score due to N+1 reservations {optimum:.6f},\n"
            f"minimum score {_exp(args.min_score)}).\nNothing to do, exiting"
        )
        return 0
    print("Trying to minimize the CV...")
    iw = max((len(i.shown) for i in st.instances), default=0)
    nw = 2 * max((len(n.shown) for n in st.nodes), default=0) + 1

    def on_step(k: int, move: Move, value: float) -> None:
        print(step_line(st, k, move, value, iw, nw), flush=False)

    if chosen:
        excluded |= frozenset(i.name for i in st.instances if i.name not in chosen)
    bopts = BalanceOptions(
        max_length=args.max_length,
        min_score=args.min_score,
        min_gain=args.min_gain,
        min_gain_limit=args.min_gain_limit,
        evac_mode=args.evac_mode,
        excluded=excluded,
        no_disk_moves=args.no_disk_moves,
        no_instance_moves=args.no_instance_moves,
        ignore_soft_errors=args.ignore_soft_errors,
        restricted_migration=args.restricted_migration,
    )
    steps = balance(st, bopts, on_step)
    final = score(st)
    if not steps:
        print("No solution found")
    elif verbose > 2:
        print("\n".join(coefficients_table(st, "Final coefficients:   overall")))
    else:
        print(f"Cluster score improved from {initial:.8f} to {final:.8f}")
    if verbose >= 1:
        print(f"Solution length={len(steps)}")
    st.to_cluster_nodes()
    if args.save:
        cc.save(f"{args.save}.balanced", cluster, "after balancing")
    jobsets = split_jobsets(st, [m for m, _ in steps])
    if args.print_commands is not None:
        if args.print_commands in ("-", ""):
            print("\nCommands to run to reach the above solution:")
            for line in command_script(st, jobsets, script=False):
                print(line)
        else:
            with open(args.print_commands, "w", encoding="utf-8") as handle:
                handle.write("\n".join(command_script(st, jobsets, script=True)) + "\n")
            print(f"The commands have been written to file '{args.print_commands}'")
    _print_tables(st, args.print_instances, fields, "Final")
    if verbose > 3:
        print(f"Original: mem={free_before[0]} disk={free_before[1]}")
        print(f"Final:    mem={int(st.fmem.sum())} disk={int(st.fdsk.sum())}")
    if args.exec and jobsets:
        return _execute(args, st, jobsets)
    return 0


def _print_tables(st: GroupState, instances: bool, fields: list[str] | None, when: str) -> None:
    """``--print-instances`` and ``-p`` tables, on stderr as Ganeti prints them."""
    if instances:
        print(f"\n{when} instance map:", file=sys.stderr)
        print("\n".join(instance_table(st)), file=sys.stderr)
    if fields is not None:
        print(f"\n{when} cluster status:", file=sys.stderr)
        print("\n".join(node_table(st, fields)) + "\n", file=sys.stderr)


def _execute(args: argparse.Namespace, st: GroupState, jobsets: list[list[Move]]) -> int:
    """Run the solution's jobsets through the master daemon (-X); the exit status."""
    from corral.api.errors import CorralError
    from corral_htools.execute import Executor
    from corral_htools.execute import jobs_for
    from corral_htools.luxi_backend import connect

    sys.stdout.flush()
    client = connect(cc.luxi_socket(args))
    try:
        with client:
            runner = Executor(client, priority=args.prio, reason=args.reason)
            return runner.run(jobs_for(st, jobsets), first_only=args.first_job_group)
    except (CorralError, OSError, ValueError) as err:
        cc.fail(PROG, f"job execution through {client.path} failed: {err}")


def _exp(value: float) -> str:
    """Haskell-style %e: 1.000000e-9."""
    mant, _, exp = f"{value:.6e}".partition("e")
    return f"{mant}e{int(exp)}"


def run() -> None:
    raise SystemExit(main())


if __name__ == "__main__":
    np.seterr(all="ignore")
    run()
