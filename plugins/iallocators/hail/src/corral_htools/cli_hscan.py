"""hscan: scan clusters over RAPI (or the local master over LUXI) and save them as text files.

For each cluster named on the command line hscan prints one summary line
(nodes, instances, N+1 failures, memory, disk and the score hbal would
start from), optionally the node table (``-p``), and writes the cluster
to ``DIR/NAME.data`` in the text format that ``-t`` reads (slashes in the
name, as in a URL, become underscores). A cluster that cannot be loaded
gets an ``Error for NAME`` paragraph instead, and the exit code is 2; the
others are still scanned. With no cluster named, or with ``-L``, the local
master is scanned over LUXI under the name ``LOCAL``.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

from corral_htools import cli_common as cc
from corral_htools.cost import score
from corral_htools.report import node_table
from corral_htools.report import parse_fields
from corral_htools.state import Options
from corral_htools.state import group_state
from corral_htools.textformat import serialize_text

if TYPE_CHECKING:
    import argparse

    from corral_htools.model import Cluster

PROG = "hscan"
LOCAL = "LOCAL"
COLUMNS = ("Nodes", "Inst", "BNode", "BInst", "t_mem", "f_mem", "t_disk", "f_disk", "Score")
WIDTHS = (5, 5, 5, 5, 6, 6, 6, 6, 10)


def build_parser() -> argparse.ArgumentParser:
    ap = cc.parser(PROG, "Scan clusters via RAPI and save their node and instance data.")
    ap.add_argument(
        "clusters",
        nargs="*",
        metavar="CLUSTER",
        help="a host name (https://HOST:5080), an https:// URL, or file://DIR of saved answers",
    )
    ap.add_argument(
        "-p", "--print-nodes", nargs="?", const="", metavar="FIELDS", help="print the node table"
    )
    ap.add_argument(
        "-d",
        "--output-dir",
        default=".",
        metavar="PATH",
        help="directory in which to write the NAME.data files (default: the current one)",
    )
    ap.add_argument(
        "-L",
        "--luxi",
        nargs="?",
        const="default",
        metavar="SOCKET",
        help=f"also scan the local master over LUXI, as {LOCAL} (the default with no CLUSTER)",
    )
    ap.add_argument("--no-headers", action="store_true", help="do not show a header line")
    cc.add_static_kvm_memory(ap)
    cc.add_rapi_tls(ap)
    return ap


def summary(cluster: Cluster) -> str:
    """The one-line figures (after the name) Ganeti's hscan prints for a cluster."""
    st = group_state(cluster, None, Options())
    t_dsk = sum(n.t_dsk for n in cluster.nodes) / 1024
    f_dsk = sum(n.f_dsk for n in cluster.nodes) // 1024
    return (
        f"{st.n:5d} {st.m:5d} {int(st.fail_n1().sum()):5d} {st.bad_instances():5d}"
        f" {sum(n.t_mem for n in cluster.nodes):6.0f} {sum(n.f_mem for n in cluster.nodes):6d}"
        f" {t_dsk:6.0f} {f_dsk:6d} {score(st):.8f}"
    )


def data_file(directory: str, name: str) -> str:
    return os.path.join(directory, name.replace("/", "_") + ".data")


def _load(name: str, luxi: str | None, args: argparse.Namespace) -> Cluster:
    """The cluster called ``name``; raises the backend's error."""
    if luxi is not None:
        from corral_htools.luxi_backend import load_luxi

        return load_luxi(None if luxi in ("", "default") else luxi)
    from corral_htools.rapi_backend import load_rapi

    return load_rapi(name, cc.rapi_tls(args), args.static_kvm_node_memory)


def scan(
    name: str, luxi: str | None, width: int, args: argparse.Namespace, fields: list[str] | None
) -> bool:
    """Scan one cluster: print its line (or its error) and write its file."""
    from corral_htools.luxi_backend import LuxiBackendError
    from corral_htools.rapi_backend import RapiBackendError
    from corral_htools.rapi_backend import without_password

    target, name = name, without_password(name)  # a password is neither shown nor a file name
    try:
        cluster = _load(target, luxi, args)
    except (RapiBackendError, LuxiBackendError) as err:
        print(f"\nError for {name}: failed to load data. Details:\n{err}")
        return False
    text = serialize_text(cluster)  # full names: the file is data, not display
    path = data_file(args.output_dir, name)
    try:
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(text)
    except OSError as err:
        print(f"\nError for {name}: cannot write {path}: {err.strerror or err}")
        return False
    print(f"{name:<{width}} {summary(cluster)}")
    if fields is not None:
        cluster.strip_common_suffix()
        print("\n".join(node_table(group_state(cluster, None, Options()), fields)))
    return True


def main(argv: list[str] | None = None) -> int:
    ap = build_parser()
    args = cc.parse_args(ap, argv)
    try:
        fields = parse_fields(args.print_nodes) if args.print_nodes is not None else None
    except ValueError as err:
        cc.fail(PROG, str(err))
    if not os.path.isdir(args.output_dir):
        cc.fail(PROG, f"the output directory {args.output_dir} does not exist")
    luxi = args.luxi if args.luxi is not None or args.clusters else "default"
    targets: list[tuple[str, str | None]] = [(name, None) for name in args.clusters]
    if luxi is not None:
        targets.append((LOCAL, luxi))
    from corral_htools.rapi_backend import without_password

    width = max(len(without_password(name)) for name, _ in targets)
    if not args.no_headers:
        header = " ".join(f"{c:>{w}}" for c, w in zip(COLUMNS, WIDTHS, strict=True))
        print(f"{'Name':<{width}} {header}")
    ok = [scan(name, sock, width, args, fields) for name, sock in targets]
    sys.stdout.flush()
    return 0 if all(ok) else 2


if __name__ == "__main__":
    raise SystemExit(main())
