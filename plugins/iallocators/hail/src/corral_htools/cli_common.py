"""What every htools command line shares: options, backend loading, errors.

Ganeti's tools accept optional arguments glued to short options
(``-C/tmp/cmds``, ``-pname,pcnt``); argparse does the same for options
declared with ``nargs="?"``.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING
from typing import NoReturn

from corral_htools import __version__
from corral_htools.state import Options

if TYPE_CHECKING:
    from corral_htools.model import Cluster
    from corral_htools.rapi_backend import TlsOptions


class ToolError(Exception):
    """A failure the tool reports as ``Error: ...`` and a non-zero exit."""


def fail(prog: str, message: str, code: int = 1) -> NoReturn:
    print(f"Error: {prog}: {message}" if prog else f"Error: {message}", file=sys.stderr)
    raise SystemExit(code)


#: Ganeti's default for ``--static-kvm-node-memory`` (MB): the KVM host's own memory.
STATIC_KVM_NODE_MEMORY = 4096

#: Options whose argument is optional; given alone they must not swallow the next word.
OPTIONAL_VALUE = {"-p": "--print-nodes", "-C": "--print-commands", "-L": "--luxi"}


def normalize_argv(argv: list[str] | None) -> list[str]:
    """Make ``-p`` (alone) mean "no value", as in Ganeti, where ``-pFIELDS`` is glued.

    One convenience beyond Ganeti: ``-L PATH`` (a separate word holding a
    ``/``) names the socket, as ``-LPATH`` does; the tools take no other
    words, so nothing else could be meant.
    """
    args = sys.argv[1:] if argv is None else list(argv)
    out = []
    pending = iter(range(len(args)))
    for k in pending:
        arg = args[k]
        long = OPTIONAL_VALUE.get(arg, arg if arg in OPTIONAL_VALUE.values() else None)
        if long is None:
            out.append(arg)
            continue
        following = args[k + 1] if k + 1 < len(args) else ""
        if long == "--luxi" and "/" in following and not following.startswith("-"):
            out.append(f"{long}={following}")
            next(pending)
        else:
            out.append(f"{long}=")
    return out


def parser(prog: str, description: str) -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog=prog, description=description)
    ap.add_argument(
        "--version", action="version", version=f"{prog} (corral-htools) version {__version__}"
    )
    ap.add_argument(
        "--help-completion",
        action="store_true",
        help="print the option list for shell completion and exit",
    )
    ap.add_argument("-v", "--verbose", action="count", default=1, help="more output (repeatable)")
    ap.add_argument("-q", "--quiet", action="count", default=0, help="less output (repeatable)")
    return ap


def add_backend(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("extra_args", nargs="*", help=argparse.SUPPRESS)
    ap.add_argument(
        "-t", "--text-data", metavar="FILE", help="read the cluster from a text backend file"
    )
    ap.add_argument(
        "-m",
        dest="rapi",
        metavar="CLUSTER",
        help="read the cluster over RAPI: a host name (https://HOST:5080), an https:// URL,"
        " or file://DIR holding the saved RAPI answers",
    )
    add_rapi_tls(ap)
    ap.add_argument(
        "-L",
        "--luxi",
        nargs="?",
        const="default",
        metavar="SOCKET",
        help="read the cluster from the master daemon over LUXI (default: its usual socket)",
    )
    add_static_kvm_memory(ap)
    ap.add_argument(
        "-S", "--save", metavar="FILE", help="save the cluster state to FILE.* (text format)"
    )
    ap.add_argument(
        "-O",
        "--offline",
        action="append",
        default=[],
        metavar="NODE",
        help="treat NODE as offline (repeatable)",
    )
    ap.add_argument(
        "--ignore-dynu", action="store_true", help="ignore dynamic utilisation (all zero)"
    )
    ap.add_argument(
        "-U",
        "--util-file",
        metavar="FILE",
        help="dynamic utilisation file (not supported; ignored with a warning)",
    )
    ap.add_argument(
        "--exclusion-tags", metavar="TAGS", help="comma-separated extra exclusion tag prefixes"
    )
    ap.add_argument(
        "--ignore-soft-errors",
        action="store_true",
        help="ignore soft policy violations (cpu/spindle ratios, specs)",
    )
    ap.add_argument("--mond", nargs="?", const="yes", help="query MonD (not available; ignored)")
    ap.add_argument("--mond-data", metavar="FILE", help="MonD data file (not supported; ignored)")
    ap.add_argument("--mond-xen", action="store_true", help="use Xen MonD collectors (ignored)")
    ap.add_argument("--mond-kvm-rss", action="store_true", help="use KVM RSS from MonD (ignored)")
    ap.add_argument("--mem-weight", type=float, help="memory weight for MonD data (ignored)")
    ap.add_argument(
        "--no-capacity-checks", action="store_true", help="skip global N+1 capacity checks"
    )


def add_rapi_tls(ap: argparse.ArgumentParser) -> None:
    ap.add_argument(
        "--rapi-ca",
        metavar="FILE",
        help="trust this certificate (the cluster's rapi.pem) for RAPI, instead of the system's"
        " CAs",
    )
    ap.add_argument(
        "--rapi-insecure",
        action="store_true",
        help="do not check the RAPI server's certificate (what Ganeti's tools do)",
    )


def add_static_kvm_memory(ap: argparse.ArgumentParser) -> None:
    ap.add_argument(
        "--static-kvm-node-memory",
        type=int,
        default=STATIC_KVM_NODE_MEMORY,
        metavar="N",
        help="on a KVM cluster (RAPI, IAllocator requests), count N MB as the node's own"
        f" memory instead of what the node reports (default {STATIC_KVM_NODE_MEMORY};"
        " 0: what the node reports)",
    )


def completion(ap: argparse.ArgumentParser) -> None:
    for action in ap._actions:
        for opt in action.option_strings:
            print(opt)


def parse_args(ap: argparse.ArgumentParser, argv: list[str] | None) -> argparse.Namespace:
    """Every tool's command line; ``--help-completion`` prints the options and exits 0."""
    args = ap.parse_args(normalize_argv(argv))
    if args.help_completion:
        completion(ap)
        raise SystemExit(0)
    return args


def load_cluster(prog: str, args: argparse.Namespace, luxi_ok: bool = False) -> Cluster:
    """Load the cluster from the one backend given; errors end the program.

    ``luxi_ok`` is kept for the callers' sake: every tool may use ``-L``.
    """
    if getattr(args, "extra_args", None):
        fail("", "This program doesn't take any arguments.")
    given = [x for x in (args.text_data, args.rapi, args.luxi) if x is not None]
    if len(given) > 1:
        fail("", "Only one of the rapi, luxi, and data files options should be given.")
    if args.rapi is not None:
        cluster = _load_rapi(args)
    elif args.luxi is not None:
        cluster = _load_luxi(args.luxi)
    elif not args.text_data:
        fail(
            prog,
            "no backend given: use -t FILE (text), -m CLUSTER (RAPI) or -L [SOCKET]"
            " (the master daemon)",
        )
    else:
        from corral_htools.textformat import TextFormatError  # hail reads requests instead
        from corral_htools.textformat import load_text

        try:
            cluster = load_text(args.text_data)
        except TextFormatError as err:
            load_failed(err)
    warn_inconsistent(cluster, args.verbose - args.quiet)
    cluster.strip_common_suffix()
    names = {n.name for n in cluster.nodes}
    for name in args.offline:
        if name not in names:
            fail("", f"Unknown node {name} given with -O/--offline")
    return cluster


def luxi_socket(args: argparse.Namespace) -> str | None:
    """The socket ``-L`` names (None: corral's default master socket)."""
    value = getattr(args, "luxi", None)
    return None if value in (None, "", "default") else str(value)


def _load_luxi(value: str) -> Cluster:
    # Imported here: the text path must not pay for corral's client (and Twisted).
    from corral_htools.luxi_backend import LuxiBackendError
    from corral_htools.luxi_backend import load_luxi

    try:
        return load_luxi(None if value in ("", "default") else value)
    except LuxiBackendError as err:
        load_failed(err)


def _load_rapi(args: argparse.Namespace) -> Cluster:
    from corral_htools.rapi_backend import RapiBackendError
    from corral_htools.rapi_backend import load_rapi

    try:
        return load_rapi(args.rapi, rapi_tls(args), args.static_kvm_node_memory)
    except RapiBackendError as err:
        load_failed(err)


def rapi_tls(args: argparse.Namespace) -> TlsOptions:
    from corral_htools.rapi_backend import TlsOptions

    return TlsOptions(ca_file=args.rapi_ca, insecure=args.rapi_insecure)


def load_failed(err: Exception) -> NoReturn:
    """Ganeti's words for a backend that could not load the cluster."""
    fail("", f"failed to load data, aborting: {err}")


def model_options(args: argparse.Namespace) -> Options:
    tags = tuple(t for t in (args.exclusion_tags or "").split(",") if t)
    return Options(
        ignore_dynu=args.ignore_dynu,
        ignore_soft_errors=args.ignore_soft_errors,
        exclusion_tags=tags,
        offline=tuple(args.offline),
    )


def save(path: str, cluster: Cluster, what: str) -> None:
    """Write the cluster in text format and tell the user (on stderr, like Ganeti)."""
    from corral_htools.textformat import serialize_text

    with open(path, "w", encoding="utf-8") as handle:
        handle.write(serialize_text(cluster))
    print(f"The cluster state {what} has been written to file '{path}'", file=sys.stderr)


def warn_inconsistent(cluster: Cluster, verbose: int = 1) -> None:
    """Ganeti's loader check: memory or disk the node reports but no instance explains.

    One pass over the instances: a scan per node took seconds at a thousand nodes.
    """
    mem: dict[str, int] = {}
    dsk: dict[str, int] = {}
    for inst in cluster.instances:
        if inst.running:
            mem[inst.pnode] = mem.get(inst.pnode, 0) + inst.mem
        # Ganeti takes every instance's disk off its primary, whatever the template
        dsk[inst.pnode] = dsk.get(inst.pnode, 0) + inst.dsk
        if inst.snode and inst.mirror_internal and inst.snode != inst.pnode:
            dsk[inst.snode] = dsk.get(inst.snode, 0) + inst.dsk
    msgs = []
    for node in reversed(cluster.nodes):  # Ganeti lists them last node first, offline ones too
        delta_mem = int(node.t_mem) - node.n_mem - node.f_mem - mem.get(node.name, 0)
        delta_dsk = int(node.t_dsk) - node.f_dsk - dsk.get(node.name, 0)
        if delta_mem > 512 or delta_dsk > 1024:
            msgs.append(
                f"node {node.name} is missing {delta_mem} MB ram and {delta_dsk // 1024} GB disk"
            )
    if msgs and verbose >= 1:  # -q silences it, as in Ganeti (a blank line ends it)
        print("Warning: cluster has inconsistent data:", file=sys.stderr)
        for msg in msgs:
            print(f"  - {msg}", file=sys.stderr)
        print(file=sys.stderr)
