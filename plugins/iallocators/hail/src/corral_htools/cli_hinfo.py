"""hinfo: cluster information (groups, score coefficients, node tables)."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from corral_htools import cli_common as cc
from corral_htools.cost import coefficients_table
from corral_htools.cost import score
from corral_htools.loadinfo import print_tags_and_policy
from corral_htools.loadinfo import warn_split
from corral_htools.report import instance_table
from corral_htools.report import node_table
from corral_htools.report import parse_fields
from corral_htools.state import group_state
from corral_htools.table import format_table

if TYPE_CHECKING:
    import argparse

    from corral_htools.model import Cluster
    from corral_htools.state import Options

PROG = "hinfo"


def build_parser() -> argparse.ArgumentParser:
    ap = cc.parser(PROG, "Cluster information: groups, instance counts and the cluster score.")
    cc.add_backend(ap)
    ap.add_argument("-p", "--print-nodes", nargs="?", const="", metavar="FIELDS", help="node table")
    ap.add_argument("--print-instances", action="store_true", help="instance table")
    return ap


def main(argv: list[str] | None = None) -> int:
    ap = build_parser()
    args = cc.parse_args(ap, argv)
    verbose = args.verbose - args.quiet
    cluster = cc.load_cluster(PROG, args)
    opts = cc.model_options(args)
    try:
        fields = parse_fields(args.print_nodes) if args.print_nodes is not None else None
    except ValueError as err:
        cc.fail(PROG, str(err))
    print_tags_and_policy(cluster, policy=verbose > 2)
    if not cluster.instances and verbose > 1:
        print("Cluster is empty.")
    print(
        f"Loaded {_count(len(cluster.nodes), 'node')}, "
        f"{_count(len(cluster.instances), 'instance')}, "
        f"{_count(len(cluster.groups), 'node group')}"
    )
    if cluster.name_suffix and verbose > 2:
        print(f"Note: Stripping common suffix of '{cluster.name_suffix}' from names")
    if not warn_split(cluster, header=sys.stdout) and verbose > 1:
        print("No split instances found")
    _group_info(cluster, opts, verbose)
    whole = group_state(cluster, None, opts)
    if args.print_instances:
        print("\nInstances instance map:", file=sys.stderr)
        print("\n".join(instance_table(whole)), file=sys.stderr)
    if fields is not None:
        print("\nCluster status:", file=sys.stderr)
        print("\n".join(node_table(whole, fields)) + "\n", file=sys.stderr)
    print("Cluster coefficients:")
    if whole.n:
        print("\n".join(coefficients_table(whole, "")[1:]))
    else:  # no nodes, no figures: the header alone, as Ganeti prints it
        print("\n".join(format_table("   ", ("Field", "Value", "Weight"), [], (False, True, True))))
    print(f"Cluster score: {score(whole):.8f}")
    return 0


def _count(n: int, noun: str) -> str:
    return f"{n} {noun if n == 1 else noun + 's'}"


def _group_info(cluster: Cluster, opts: Options, verbose: int) -> None:
    """Per group: size, N+1 failures and score (``-v``); then whether all are N+1 happy."""
    rows = []
    happy = True
    used = {n.group for n in cluster.nodes}
    for group in cluster.groups:
        if group.uuid not in used:
            continue  # Ganeti lists the groups that have nodes
        st = group_state(cluster, group.uuid, opts)
        bad = int(st.fail_n1().sum())
        happy = happy and bad == 0
        rows.append(
            [
                group.name,
                str(st.n),
                str(st.m),
                str(bad),
                str(st.bad_instances()),
                str(bad == 0),
                f"{score(st):.8f}",
            ]
        )
    if verbose > 1:
        header = ["Group", "Nodes", "Instances", "Bad_Nodes", "Bad_Instances", "N+1", "Score"]
        numeric = [False, True, True, True, True, False, True]
        print("Node group information:")
        print("\n".join(format_table("   ", header, rows, numeric)))
    print(f"Cluster is N+1 {'happy' if happy else 'unhappy'}")


if __name__ == "__main__":
    raise SystemExit(main())
