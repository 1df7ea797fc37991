"""hail: the IAllocator plugin as a command (``hail [options] REQUEST-FILE``)."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING

from corral_htools import cli_common as cc
from corral_htools.alloc import AllocOptions
from corral_htools.alloc import answer
from corral_htools.ialloc import RequestError
from corral_htools.ialloc import parse_request
from corral_htools.state import Options

if TYPE_CHECKING:
    import argparse

PROG = "hail"


def build_parser() -> argparse.ArgumentParser:
    ap = cc.parser(PROG, "IAllocator plugin: answers a Ganeti IAllocator request file.")
    ap.add_argument("request", nargs="?", help="the request file ('-' for stdin)")
    ap.add_argument("-t", "--text-data", metavar="FILE", help="take the cluster from FILE instead")
    ap.add_argument(
        "--simulate",
        action="append",
        default=[],
        metavar="SPEC",
        help="simulated cluster (not supported: the request's cluster is used)",
    )
    ap.add_argument(
        "-S", "--save", metavar="FILE", help="write FILE.pre-ialloc and FILE.post-ialloc"
    )
    ap.add_argument("-p", "--print-nodes", nargs="?", const="", help="accepted for compatibility")
    ap.add_argument("--no-capacity-checks", action="store_true", help="only the classic N+1 check")
    ap.add_argument(
        "--ignore-soft-errors", action="store_true", help="ignore soft policy violations"
    )
    ap.add_argument(
        "--restrict-allocation-to", default="", metavar="NODES", help="only these nodes"
    )
    ap.add_argument("--static-kvm-node-memory", type=int, default=4096, help="node memory with kvm")
    ap.add_argument("--exclusion-tags", default="", help="extra exclusion tag prefixes")
    ap.add_argument("--ignore-dynu", action="store_true", help="ignore dynamic utilisation")
    return ap


#: What the parser gives for ``hail FILE`` (tests check it against build_parser()).
PLAIN_DEFAULTS: dict[str, object] = {
    "verbose": 1,
    "quiet": 0,
    "help_completion": False,
    "text_data": None,
    "simulate": [],
    "save": None,
    "print_nodes": None,
    "no_capacity_checks": False,
    "ignore_soft_errors": False,
    "restrict_allocation_to": "",
    "static_kvm_node_memory": 4096,
    "exclusion_tags": "",
    "ignore_dynu": False,
}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The options; ``hail FILE`` alone (how the master runs it) skips argparse.

    Building the parser costs more than answering a small request does.
    """
    words = sys.argv[1:] if argv is None else argv
    if len(words) == 1 and words[0] and not words[0].startswith("-"):
        import argparse

        values = {k: list(v) if isinstance(v, list) else v for k, v in PLAIN_DEFAULTS.items()}
        return argparse.Namespace(request=words[0], **values)
    ap = build_parser()
    args = cc.parse_args(ap, argv)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not args.request:
        cc.fail("", "this program needs an input file.")
    try:
        text = (
            sys.stdin.read() if args.request == "-" else open(args.request, encoding="utf-8").read()
        )
    except OSError as err:
        cc.fail("", f"cannot read {args.request}: {err.strerror}")
    try:
        cluster, request = parse_request(text, args.static_kvm_node_memory)
    except RequestError as err:
        cc.fail("", str(err))
    if args.text_data:
        from corral_htools.textformat import TextFormatError  # only for -t: requests are JSON
        from corral_htools.textformat import load_text

        try:
            cluster = load_text(args.text_data)
        except TextFormatError as err:
            cc.load_failed(err)
    if args.verbose > 2:
        for inst in cluster.instances:
            run = "StatusRunning" if inst.running else "StatusDown"
            print(f"Instance {inst.name}: runSt = {run}", file=sys.stderr)
    if args.save:
        from corral_htools.textformat import serialize_text

        with open(f"{args.save}.pre-ialloc", "w", encoding="utf-8") as handle:
            handle.write(serialize_text(cluster))
    tags = tuple(t for t in args.exclusion_tags.split(",") if t)
    opts = AllocOptions(
        model=Options(
            ignore_dynu=args.ignore_dynu,
            ignore_soft_errors=args.ignore_soft_errors,
            exclusion_tags=tags,
        ),
        restrict_to=frozenset(x for x in args.restrict_allocation_to.split(",") if x),
        no_capacity_checks=args.no_capacity_checks,
    )
    result = answer(cluster, request, opts)
    if args.save:
        with open(f"{args.save}.post-ialloc", "w", encoding="utf-8") as handle:
            handle.write(serialize_text(cluster))
    print(json.dumps(result, separators=(",", ":")))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
