"""hinfo: cluster information (groups, score coefficients, node tables)."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from corral_htools import cli_common as cc
from corral_htools.cost import coefficients_table
from corral_htools.report import instance_table
from corral_htools.report import node_table
from corral_htools.report import parse_fields
from corral_htools.state import group_state

if TYPE_CHECKING:
    import argparse

PROG = "hinfo"


def build_parser() -> argparse.ArgumentParser:
    ap = cc.parser(PROG, "Cluster information: groups, instance counts and the cluster score.")
    cc.add_backend(ap)
    ap.add_argument("-p", "--print-nodes", nargs="?", const="", metavar="FIELDS", help="node table")
    ap.add_argument("--print-instances", action="store_true", help="instance table")
    return ap


def main(argv: list[str] | None = None) -> int:
    ap = build_parser()
    args = ap.parse_args(cc.normalize_argv(argv))
    if args.help_completion:
        cc.completion(ap)
        return 0
    cluster = cc.load_cluster(PROG, args)
    opts = cc.model_options(args)
    try:
        fields = parse_fields(args.print_nodes) if args.print_nodes is not None else None
    except ValueError as err:
        cc.fail(PROG, str(err))
    print(f"Loaded {len(cluster.nodes)} nodes, {len(cluster.instances)} instances")
    print(f"Cluster has {len(cluster.groups)} node groups:")
    for group in cluster.groups:
        st = group_state(cluster, group.uuid, opts)
        print(f"Group {group.name} ({group.alloc_policy.value}): {st.n} nodes, {st.m} instances")
    for group in cluster.groups:
        st = group_state(cluster, group.uuid, opts)
        if st.n == 0:
            continue
        print(f"\nGroup {group.name} statistics:")
        print("\n".join(coefficients_table(st, "  Cluster coefficients: overall")))
        if fields is not None:
            print("\n".join(node_table(st, fields)), file=sys.stderr)
        if args.print_instances:
            print("\n".join(instance_table(st)), file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
