"""``gnt-node``: the nodes of the cluster."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING
from typing import Any

from corral import ssconf
from corral.api.cli import Command
from corral.api.errors import OpPrereqError
from corral.cli import tags
from corral.cli.gnt_instance import add_migration_options
from corral.cli.jobs import add_submit_options
from corral.cli.jobs import make_opcode
from corral.cli.jobs import submit
from corral.cli.jobs import submit_and_wait
from corral.cli.options import key_values
from corral.cli.options import timespec
from corral.cli.options import yes_no
from corral.cli.query import add_units_option
from corral.cli.query import format_unit
from corral.cli.query import list_commands
from corral.cli.table import Column
from corral.cli.table import format_table
from corral.cli.table import select_columns
from corral.cli.tool import add_list_options
from corral.cli.tool import ask_user
from corral.cli.tool import run_tool
from corral.crypto.ca import ClusterCA
from corral.crypto.jointoken import DEFAULT_VALIDITY
from corral.crypto.jointoken import TokenStore
from corral.hostname import check_name
from corral.hostname import resolve
from corral.luxi.client import Client
from corral.paths import ca_cert_file
from corral.paths import ca_key_file
from corral.paths import join_tokens_dir
from corral.paths import ssconf_dir
from corral.rpc.protocol import DEFAULT_PORT

if TYPE_CHECKING:
    import argparse
    from collections.abc import Sequence

_INFO_FIELDS = [
    "name", "pip", "sip", "master", "master_candidate", "drained", "offline", "master_capable",
    "vm_capable", "group", "pinst_list", "sinst_list", "ndparams",
]  # fmt: skip

#: The columns of a plain ``list``, Ganeti's.
DEFAULT_FIELDS = ["name", "dtotal", "dfree", "mtotal", "mnode", "mfree", "pinst_cnt", "sinst_cnt"]


def _configure_info(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("names", nargs="*", metavar="NODE", help="only these nodes (default: all)")


def _instances(title: str, names: list[str]) -> list[str]:
    if not names:
        return [f"  {title} no instances"]
    return [f"  {title} instances:", *(f"    - {n}" for n in names)]


def info_lines(row: dict[str, Any]) -> list[str]:
    lines = [
        f"Node name: {row['name']}",
        f"  primary ip: {row['pip']}",
        f"  secondary ip: {row['sip']}",
        f"  master candidate: {row['master_candidate']}",
        f"  drained: {row['drained']}",
        f"  offline: {row['offline']}",
        f"  master_capable: {row['master_capable']}",
        f"  vm_capable: {row['vm_capable']}",
        f"  node group: {row['group']}",
    ]
    lines += _instances("primary for", row["pinst_list"])
    lines += _instances("secondary for", row["sinst_list"])
    lines.append("  node parameters:")
    lines += [f"    {key}: {value}" for key, value in sorted(row["ndparams"].items())]
    return lines


def _info(args: argparse.Namespace) -> int:
    """Show the configuration of nodes."""
    with Client() as client:
        rows = client.call("QueryNodes", args.names or None, _INFO_FIELDS, False)
    for values in rows:
        for line in info_lines(dict(zip(_INFO_FIELDS, values, strict=True))):
            print(line)
    return 0


# -- membership ------------------------------------------------------------------------


def _configure_add(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add(
        "-s",
        "--secondary-ip",
        metavar="ADDRESS",
        help="the node's address on the replication network (dual-homed clusters)",
    )
    add(
        "--primary-ip",
        metavar="ADDRESS",
        help="the node's primary address (corral; default: what its name resolves to)",
    )
    add(
        "-g",
        "--node-group",
        dest="group",
        metavar="GROUP",
        help="the node group to put the node in (default: the default group)",
    )
    add(
        "--readd",
        action="store_true",
        help="add again a node that is in the configuration (after a reinstall)",
    )
    add(
        "--master-capable",
        type=yes_no,
        metavar="yes|no",
        help="whether the node may become a master candidate (default yes)",
    )
    add(
        "--vm-capable",
        type=yes_no,
        metavar="yes|no",
        help="whether the node may host instances (default yes)",
    )
    add(
        "--node-parameters",
        type=key_values,
        default={},
        metavar="KEY=VAL[,...]",
        help="node parameters (ndparams) of this node",
    )
    add_submit_options(parser)
    add("node", metavar="NODE", help="the node's name")  # fmt: skip


def _add(args: argparse.Namespace) -> int:
    """Add a node that joined (holds this cluster's certificate) to the cluster."""
    name = check_name(args.node, "node name")
    primary_ip = args.primary_ip or resolve(name, "the node's name", "--primary-ip")
    op = make_opcode(
        "OP_NODE_ADD",
        node_name=name,
        primary_ip=primary_ip,
        secondary_ip=args.secondary_ip,
        readd=args.readd,
        group=args.group,
        master_capable=args.master_capable,
        vm_capable=args.vm_capable,
        ndparams=args.node_parameters,
    )
    submit(args, op)
    return 0


def _configure_remove(parser: argparse.ArgumentParser) -> None:
    add_submit_options(parser)
    parser.add_argument("node", metavar="NODE", help="the node to remove")


def _remove(args: argparse.Namespace) -> int:
    """Remove a node (it must host no instances); it forgets the cluster."""
    op = make_opcode("OP_NODE_REMOVE", node_name=args.node)
    submit(args, op)
    return 0


def _configure_modify(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add(
        "-C",
        "--master-candidate",
        type=yes_no,
        metavar="yes|no",
        help="promote the node to master candidate, or demote it",
    )
    add(
        "-D",
        "--drained",
        type=yes_no,
        metavar="yes|no",
        help="mark the node drained (no new instances), or clear that",
    )
    add(
        "-O",
        "--offline",
        type=yes_no,
        metavar="yes|no",
        help="mark the node offline (ignored, not contacted), or bring it back",
    )
    add(
        "--master-capable",
        type=yes_no,
        metavar="yes|no",
        help="whether the node may become a master candidate",
    )
    add("--vm-capable", type=yes_no, metavar="yes|no", help="whether the node may host instances")
    add("-s", "--secondary-ip", metavar="ADDRESS", help="the node's new secondary address")
    add(
        "--node-parameters",
        type=key_values,
        default={},
        metavar="KEY=VAL[,...]",
        help="node parameters (ndparams) to change",
    )
    add(
        "--node-powered",
        dest="powered",
        type=yes_no,
        metavar="yes|no",
        help="record whether the node is powered on",
    )
    add(
        "--auto-promote",
        action="store_true",
        help="promote other nodes if this change leaves too few master candidates",
    )
    add("-f", "--force", action="store_true", help="do it even with too few master candidates")
    add_submit_options(parser)
    add("node", metavar="NODE", help="the node to modify")  # fmt: skip


def _modify(args: argparse.Namespace) -> int:
    """Change a node's roles and flags."""
    op = make_opcode(
        "OP_NODE_SET_PARAMS",
        node_name=args.node,
        master_candidate=args.master_candidate,
        drained=args.drained,
        offline=args.offline,
        master_capable=args.master_capable,
        vm_capable=args.vm_capable,
        secondary_ip=args.secondary_ip,
        ndparams=args.node_parameters or None,
        powered=args.powered,
        auto_promote=args.auto_promote,
        force=args.force,
    )
    status, results = submit(args, op)
    if status is not None:
        changes = results[0] or []
        if changes:
            print(f"Modified node {args.node}")
            for key, value in changes:
                print(f" - {key} -> {value}")
        else:
            print(f"Node {args.node} already had these settings; nothing changed")
    return 0


def _configure_join_token(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--valid",
        type=timespec,
        default=DEFAULT_VALIDITY,
        metavar="TIME",
        help="how long the token may be used: 30m, 2h, 1d (default 1h)",
    )
    parser.add_argument("node", metavar="NODE", help="the name of the node that is to join")


def _join_token(args: argparse.Namespace) -> int:
    """Make a one-time token with which a new node gets its cluster certificate (on the master)."""
    name = check_name(args.node, "node name")
    state = ssconf_dir()
    master = ssconf.read(state, "master_node")
    if master is None or not ca_key_file().exists():
        raise OpPrereqError("run 'gnt-node join-token' on the master node")
    address = ssconf.read_pairs(state, "node_primary_ips").get(master)
    if address is None:
        raise OpPrereqError(f"the master {master} has no primary address in ssconf")
    ca = ClusterCA.load(ca_cert_file())
    port = int(ssconf.read(state, "rpc_port") or DEFAULT_PORT)
    token = (
        TokenStore(join_tokens_dir())
        .create(name, master, address, port, ca.fingerprint, args.valid)
        .encode()
    )
    until = time.ctime(time.time() + args.valid)
    print(f"Join token for {name} (valid until {until}, usable once):")
    print(token)
    print(f"On {name}, run:")
    print(f"  corral-node-join {token}")
    print("then here:")
    print(f"  gnt-node add {name}")
    return 0


# -- storage ----------------------------------------------------------------------------

_VOLUME_COLUMNS = [
    Column("node", "Node"), Column("template", "Template"), Column("name", "Name"),
    Column("size", "Size", numeric=True), Column("instance", "Instance"),
]  # fmt: skip
_STORAGE_COLUMNS = [
    Column("node", "Node"), Column("type", "Type"), Column("name", "Name"),
    Column("size", "Size", numeric=True), Column("used", "Used", numeric=True),
    Column("free", "Free", numeric=True), Column("allocatable", "Allocatable"),
]  # fmt: skip
_SIZES = {"size", "used", "free"}


def _configure_volumes(parser: argparse.ArgumentParser) -> None:
    add_list_options(parser)
    add_units_option(parser)
    parser.add_argument("nodes", nargs="*", metavar="NODE", help="only these nodes")


def _configure_storage(parser: argparse.ArgumentParser) -> None:
    _configure_volumes(parser)
    parser.add_argument("-t", "--storage-type", choices=("file", "sharedfile"),
                        help="only storage units of this type")  # fmt: skip


def _storage_table(
    args: argparse.Namespace, op_id: str, columns: list[Column], **params: Any
) -> int:
    chosen = select_columns(columns, args.output, [c.name for c in columns])
    op = make_opcode(op_id, output_fields=[c.name for c in chosen], nodes=args.nodes, **params)
    _, results = submit(args, op)
    units = args.units or ("m" if args.separator is not None else "h")
    rows = [
        [format_unit(v, units) if c.name in _SIZES and isinstance(v, int) else v
         for c, v in zip(chosen, row, strict=True)]
        for row in results[0]
    ]  # fmt: skip
    for line in format_table(chosen, rows, headers=not args.no_headers, separator=args.separator):
        print(line)
    return 0


def _volumes(args: argparse.Namespace) -> int:
    """List the disks that exist on the nodes, with the instance each belongs to."""
    return _storage_table(args, "OP_NODE_QUERYVOLS", _VOLUME_COLUMNS)


def _list_storage(args: argparse.Namespace) -> int:
    """List the nodes' storage units with their size, use and room."""
    return _storage_table(args, "OP_NODE_QUERY_STORAGE", _STORAGE_COLUMNS,
                          storage_type=args.storage_type)  # fmt: skip


# -- moving instances off a node -----------------------------------------------------


def _primaries(client: Client, node: str) -> list[str]:
    rows = client.call("QueryNodes", [node], ["pinst_list"], False)
    return sorted(rows[0][0]) if rows else []


def _configure_migrate(parser: argparse.ArgumentParser) -> None:
    add_migration_options(parser)
    parser.add_argument("node", metavar="NODE", help="the node to empty")


def _migrate(args: argparse.Namespace) -> int:
    """Live-migrate every primary instance away from a node."""
    with Client() as client:
        names = _primaries(client, args.node)
        if not names:
            print(f"No primary instances on node {args.node}, exiting.")
            return 0
        if not args.force and not ask_user(f"Migrate instance(s) {', '.join(names)}?"):
            return 1
        op = make_opcode(
            "OP_NODE_MIGRATE", node_name=args.node, live=args.live, mode=args.mode,
            target_node=args.target_node, iallocator=args.iallocator,
            ignore_ipolicy=args.ignore_ipolicy,
        )  # fmt: skip
        submit_and_wait(client, [op], args)
    return 0


def _configure_failover(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add("-f", "--force", action="store_true", help="do not ask for confirmation")
    add(
        "--ignore-consistency",
        action="store_true",
        help="go on even where an instance cannot be stopped (the node is down)",
    )
    add_submit_options(parser)
    add("node", metavar="NODE", help="the node to empty")  # fmt: skip


def _failover(args: argparse.Namespace) -> int:
    """Fail over every primary instance of a node (one job per instance)."""
    with Client() as client:
        names = _primaries(client, args.node)
        if not names:
            print(f"No primary instances on node {args.node}, exiting.")
            return 0
        if not args.force and not ask_user(f"Fail over instance(s) {', '.join(names)}?"):
            return 1
        for name in names:
            op = make_opcode("OP_INSTANCE_FAILOVER", instance_name=name,
                             ignore_consistency=args.ignore_consistency)  # fmt: skip
            submit_and_wait(client, [op], args)
    return 0


def _configure_evacuate(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add("-f", "--force", action="store_true", help="do not ask for confirmation")
    add("-I", "--iallocator", metavar="NAME", help="the allocator that chooses new nodes")
    add(
        "-n",
        "--new-secondary",
        dest="remote_node",
        metavar="NODE",
        help="the node to move the instances to",
    )
    which = parser.add_mutually_exclusive_group()
    which.add_argument(
        "-p",
        "--primary-only",
        dest="mode",
        action="store_const",
        const="primary-only",
        help="only the instances the node is primary of",
    )
    which.add_argument(
        "-s",
        "--secondary-only",
        dest="mode",
        action="store_const",
        const="secondary-only",
        help="only the instances the node is secondary of",
    )
    add_submit_options(parser)
    add("node", metavar="NODE", help="the node to evacuate")  # fmt: skip


def _evacuate(args: argparse.Namespace) -> int:
    """Move instances off a node (primary, secondary or all)."""
    if not args.force and not ask_user(f"Relocate instances away from node {args.node}?"):
        return 1
    op = make_opcode("OP_NODE_EVACUATE", node_name=args.node, mode=args.mode or "all",
                     iallocator=args.iallocator, remote_node=args.remote_node)  # fmt: skip
    status, results = submit(args, op)
    for name, target in (results[0] or []) if status else []:
        print(f"Instance {name} moved to {target}")
    return 0


COMMANDS = [
    *list_commands("node", "node", DEFAULT_FIELDS, "their resources, Ganeti's default columns"),
    Command("volumes", "List the disks that exist on the nodes", _volumes, _configure_volumes),
    Command("list-storage", "List the nodes' storage units", _list_storage, _configure_storage),
    Command("add", "Add a node that holds this cluster's certificate", _add, _configure_add),
    Command("remove", "Remove a node from the cluster", _remove, _configure_remove),
    Command("modify", "Change a node's roles and flags", _modify, _configure_modify),
    Command("join-token", "Make a one-time token for a new node to get its certificate",
            _join_token, _configure_join_token),
    Command("info", "Show the configuration of nodes", _info, _configure_info),
    Command("migrate", "Migrate every primary instance away from a node", _migrate,
            _configure_migrate),
    Command("failover", "Fail over every primary instance of a node", _failover,
            _configure_failover),
    Command("evacuate", "Move instances off a node", _evacuate, _configure_evacuate),
]  # fmt: skip


COMMANDS += tags.commands("node", "node")


def main(argv: Sequence[str] | None = None) -> int:
    return run_tool("gnt-node", "Node administration.", COMMANDS, argv)


if __name__ == "__main__":
    raise SystemExit(main())
