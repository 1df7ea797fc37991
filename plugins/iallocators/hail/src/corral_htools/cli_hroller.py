"""hroller: rolling-maintenance scheduler (Ganeti-compatible command line and output).

Prints groups of nodes that can be rebooted at the same time, one group
per line (or, with ``--one-step-only``, the first group one node per line),
optionally followed by where each affected instance goes meanwhile.
"""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING

from corral_htools import cli_common as cc
from corral_htools.ialloc import RequestError
from corral_htools.ialloc import parse_request
from corral_htools.nodegraph import stats_line
from corral_htools.roller import Roller
from corral_htools.roller import RollerError
from corral_htools.roller import RollerOptions
from corral_htools.textformat import TextFormatError
from corral_htools.textformat import load_text

if TYPE_CHECKING:
    import argparse

    from corral_htools.model import Cluster
    from corral_htools.roller import RebootGroup

PROG = "hroller"


def build_parser() -> argparse.ArgumentParser:
    ap = cc.parser(PROG, "Cluster rolling maintenance scheduler: which nodes to reboot together.")
    cc.add_backend(ap)
    ap.add_argument(
        "-I", "--ialloc-src", metavar="FILE", help="read the cluster from an IAllocator request"
    )
    ap.add_argument("-G", "--group", metavar="ID", help="only this node group (name or UUID)")
    ap.add_argument(
        "--node-tags", metavar="TAG,...", help="only nodes having at least one of these tags"
    )
    ap.add_argument(
        "--offline-maintenance",
        action="store_true",
        help="plan as if every instance were shut down (only primary-secondary conflicts)",
    )
    ap.add_argument(
        "--ignore-non-redundant",
        action="store_true",
        help="pretend the instances without a secondary do not exist",
    )
    ap.add_argument(
        "--skip-non-redundant",
        action="store_true",
        help="leave out the nodes hosting an instance without a secondary",
    )
    ap.add_argument(
        "--full-evacuation",
        action="store_true",
        help="also move the DRBD secondaries off the nodes to reboot",
    )
    ap.add_argument(
        "-f", "--force", action="store_true", help="go on even if the master node is unknown"
    )
    ap.add_argument(
        "--one-step-only", action="store_true", help="only the first group, one node per line"
    )
    ap.add_argument(
        "--print-moves", action="store_true", help="where each affected instance goes meanwhile"
    )
    ap.add_argument("--no-headers", action="store_true", help="no header line")
    return ap


def _load(args: argparse.Namespace) -> Cluster:
    """The cluster from -t or -I here, from the other backends via cli_common.

    Ganeti's text loader accepts repeated instance names (hroller's own test
    data has them), so -t is read leniently here; -I takes the cluster of an
    IAllocator request.
    """
    lenient = args.text_data is not None and args.rapi is None and args.luxi is None
    if args.ialloc_src is None and not lenient:
        return cc.load_cluster(PROG, args)
    if args.extra_args:
        cc.fail("", "This program doesn't take any arguments.")
    if args.ialloc_src is not None and any(
        x is not None for x in (args.text_data, args.rapi, args.luxi)
    ):
        cc.fail("", "Only one of the rapi, luxi, and data files options should be given.")
    try:
        if args.ialloc_src is None:
            cluster = load_text(args.text_data, unique_instances=False)
        else:
            with open(args.ialloc_src, encoding="utf-8") as handle:
                cluster, _ = parse_request(handle.read(), args.static_kvm_node_memory)
    except (OSError, RequestError, TextFormatError) as err:
        cc.load_failed(err)
    cc.warn_inconsistent(cluster, args.verbose - args.quiet)
    names = {n.name for n in cluster.nodes}
    for name in args.offline:
        if name not in names:
            cc.fail("", f"Unknown node {name} given with -O/--offline")
    return cluster


def _check_master(cluster: Cluster, force: bool) -> None:
    masters = [n.name for n in cluster.nodes if n.master]
    if len(masters) > 1:
        shown = json.dumps(masters, separators=(",", ":"))
        cc.fail("", f"Found more than one master node: {shown}")
    if not masters:
        msg = "No master node found (maybe not supported by backend)."
        if not force:
            cc.fail("", msg)
        print(f"Warning: {msg}", file=sys.stderr)


def _moves(cluster: Cluster, group: RebootGroup) -> list[str]:
    lines = []
    for gi in sorted(group.moves):
        p, s = group.moves[gi]
        where = cluster.nodes[p].name + (f" {cluster.nodes[s].name}" if s >= 0 else "")
        lines.append(f"  {cluster.instances[gi].name} {where}")
    return lines


def main(argv: list[str] | None = None) -> int:
    ap = build_parser()
    args = cc.parse_args(ap, argv)
    cluster = _load(args)
    verbosity = args.verbose - args.quiet
    _check_master(cluster, args.force)
    if args.save:
        cc.save(f"{args.save}.original", cluster, "before hroller run")
    group_uuid = None
    if args.group is not None:
        wanted = cluster.group_by_name(args.group)
        if wanted is None:
            cc.fail("", "Cannot find target group.")
        group_uuid = wanted.uuid
    opts = RollerOptions(
        offline_maintenance=args.offline_maintenance,
        ignore_non_redundant=args.ignore_non_redundant,
        skip_non_redundant=args.skip_non_redundant,
        full_evacuation=args.full_evacuation,
        node_tags=None if args.node_tags is None else tuple(args.node_tags.split(",")),
        group=group_uuid,
        ignore_soft_errors=args.ignore_soft_errors,
    )
    roller = Roller(cluster, cc.model_options(args), opts)
    try:
        graph = roller.node_graph()
        if verbosity > 2:
            print(f"Node Graph: {graph.dump()}")
        plan = roller.plan(graph)
    except RollerError as err:
        cc.fail("", str(err))
    if verbosity > 1:
        print(stats_line(plan.colourings))
    out: list[str] = []
    if args.one_step_only:
        if not args.no_headers:
            out.append("'First Reboot Group'")
        if plan.groups:
            first = plan.groups[0]
            out += [cluster.nodes[k].name for k in first.nodes]
            if args.print_moves:
                out += _moves(cluster, first)
    else:
        if not args.no_headers:
            out.append("'Node Reboot Groups'")
        for group in plan.groups:
            out.append(",".join(cluster.nodes[k].name for k in group.nodes))
            if args.print_moves:
                out += _moves(cluster, group)
    if out:
        print("\n".join(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
