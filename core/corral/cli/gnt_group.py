"""``gnt-group``: node groups, their allocation policy, parameters and instance policy."""

from __future__ import annotations

from typing import TYPE_CHECKING
from typing import Any

from corral.api.cli import Command
from corral.api.errors import OpPrereqError
from corral.cli import tags
from corral.cli.ipolicy import add_ipolicy_options
from corral.cli.ipolicy import ipolicy_of
from corral.cli.jobs import add_submit_options
from corral.cli.jobs import make_opcode
from corral.cli.jobs import submit
from corral.cli.options import add_group_move_options
from corral.cli.options import key_values
from corral.cli.query import list_commands
from corral.cli.tool import run_tool
from corral.luxi.client import Client

if TYPE_CHECKING:
    import argparse
    from collections.abc import Sequence

_POLICIES = ("preferred", "last_resort", "unallocable")

#: The columns of a plain ``list``, Ganeti's.
DEFAULT_FIELDS = ["name", "node_cnt", "pinst_cnt", "alloc_policy", "ndparams"]


def _configure_add(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--alloc-policy", choices=_POLICIES, help="allocation policy")
    parser.add_argument("--node-parameters", type=key_values, default={}, metavar="KEY=VAL",
                        help="node parameters of the group's nodes")  # fmt: skip
    add_ipolicy_options(parser)
    add_submit_options(parser)
    parser.add_argument("group", metavar="GROUP", help="the new group's name")


def _submit(args: argparse.Namespace, op_id: str, **fields: Any) -> list[Any]:
    status, results = submit(args, make_opcode(op_id, **fields))
    return results if status else []


def _add(args: argparse.Namespace) -> int:
    """Create a node group."""
    _submit(args, "OP_GROUP_ADD", group_name=args.group, alloc_policy=args.alloc_policy,
            ndparams=args.node_parameters, ipolicy=ipolicy_of(args) or None)  # fmt: skip
    return 0


def _configure_modify(parser: argparse.ArgumentParser) -> None:
    _configure_add(parser)


def _modify(args: argparse.Namespace) -> int:
    """Change a group's allocation policy, node parameters or instance policy."""
    results = _submit(args, "OP_GROUP_SET_PARAMS", group_name=args.group,
                      alloc_policy=args.alloc_policy, ndparams=args.node_parameters or None,
                      ipolicy=ipolicy_of(args) or None)  # fmt: skip
    if results:
        print(f"Modified node group {args.group}")
        for name, value in results[0]:
            print(f" - {name} -> {value}")
    return 0


def _configure_one(parser: argparse.ArgumentParser) -> None:
    add_submit_options(parser)
    parser.add_argument("group", metavar="GROUP", help="the group")


def _remove(args: argparse.Namespace) -> int:
    """Remove an empty node group."""
    _submit(args, "OP_GROUP_REMOVE", group_name=args.group)
    return 0


def _configure_rename(parser: argparse.ArgumentParser) -> None:
    _configure_one(parser)
    parser.add_argument("new_name", metavar="NEW_NAME", help="its new name")


def _rename(args: argparse.Namespace) -> int:
    """Give a node group a new name."""
    _submit(args, "OP_GROUP_RENAME", group_name=args.group, new_name=args.new_name)
    return 0


def _configure_assign(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--force",
        action="store_true",
        help="move the nodes even if an instance would span two groups",
    )
    _configure_one(parser)
    parser.add_argument("nodes", nargs="+", metavar="NODE", help="the nodes to move")


def _assign(args: argparse.Namespace) -> int:
    """Move nodes into a group."""
    _submit(args, "OP_GROUP_ASSIGN_NODES", group_name=args.group, nodes=args.nodes,
            force=args.force)  # fmt: skip
    return 0


def _configure_evacuate(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add_group_move_options(parser)
    add("--sequential", action="store_true", help="move one instance after the other")
    add("--force-failover", action="store_true", help="fail instances over, never migrate")
    add("--early-release", action="store_true", help="accepted for Ganeti's scripts")
    _configure_one(parser)


def _evacuate(args: argparse.Namespace) -> int:
    """Move every instance out of a node group."""
    _submit(
        args, "OP_GROUP_EVACUATE", group_name=args.group, iallocator=args.iallocator,
        target_groups=args.to or None, sequential=args.sequential,
        force_failover=args.force_failover, early_release=args.early_release,
    )  # fmt: skip
    return 0


_INFO = ["name", "uuid", "alloc_policy", "node_list", "pinst_list", "custom_ndparams",
         "ipolicy"]  # fmt: skip


def _configure_info(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("names", nargs="*", metavar="GROUP", help="only these groups")


def _info(args: argparse.Namespace) -> int:
    """Show node groups: policy, nodes, instances, instance policy."""
    with Client() as client:
        rows = client.call("QueryGroups", args.names or None, _INFO, False)
    if not rows and args.names:
        raise OpPrereqError(f"Node group {', '.join(args.names)} not known")
    for values in rows:
        row = dict(zip(_INFO, values, strict=True))
        print(f"Group: {row['name']}")
        print(f"  UUID: {row['uuid']}")
        print(f"  Allocation policy: {row['alloc_policy']}")
        print(f"  Nodes: {', '.join(row['node_list']) or '(none)'}")
        print(f"  Instances: {', '.join(row['pinst_list']) or '(none)'}")
        print(f"  Node parameters: {row['custom_ndparams'] or '(cluster defaults)'}")
        policy = row["ipolicy"]
        print("  Instance policy:")
        for pair in policy.get("minmax", []):
            print(f"    - bounds specs: min {pair['min']}, max {pair['max']}")
        print(f"    - std: {policy.get('std')}")
        print(f"    - disk templates: {', '.join(policy.get('disk-templates', []))}")
        print(f"    - vcpu-ratio: {policy.get('vcpu-ratio')}")
        print(f"    - spindle-ratio: {policy.get('spindle-ratio')}")
    return 0


COMMANDS = [
    *list_commands("group", "group", DEFAULT_FIELDS, "Ganeti's default columns"),
    Command("add", "Create a node group", _add, _configure_add),
    Command("remove", "Remove an empty node group", _remove, _configure_one),
    Command("rename", "Rename a node group", _rename, _configure_rename),
    Command("modify", "Change a group's policy and parameters", _modify, _configure_modify),
    Command("assign-nodes", "Move nodes into a group", _assign, _configure_assign),
    Command("evacuate", "Move every instance out of a group", _evacuate, _configure_evacuate),
    Command("info", "Show node groups", _info, _configure_info),
    *tags.commands("nodegroup", "group"),
]  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    return run_tool("gnt-group", "Node group administration.", COMMANDS, argv)


if __name__ == "__main__":
    raise SystemExit(main())
