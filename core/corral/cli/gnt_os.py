"""``gnt-os``: the OS definitions the nodes offer (list, diagnose, info) and their settings."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING
from typing import Any

from corral.api.cli import Command
from corral.cli.jobs import add_submit_options
from corral.cli.jobs import make_opcode
from corral.cli.jobs import submit
from corral.cli.jobs import submit_and_wait
from corral.cli.options import hv_key_values
from corral.cli.options import key_values
from corral.cli.options import yes_no
from corral.cli.tool import run_tool
from corral.luxi.client import Client

if TYPE_CHECKING:
    from collections.abc import Sequence

_FIELDS = ["name", "valid", "variants", "parameters", "api_versions", "node_status", "hidden",
           "blacklisted", "os_hvp", "osparams"]  # fmt: skip


def diagnose(names: list[str] | None = None) -> list[dict[str, Any]]:
    op = make_opcode("OP_OS_DIAGNOSE", output_fields=_FIELDS, names=names or [])
    with Client() as client:
        _status, results = submit_and_wait(client, [op], argparse.Namespace())
    return [dict(zip(_FIELDS, row, strict=True)) for row in results[0]]


def _configure_list(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--no-headers", action="store_true", help="do not print a header line")


def _list(args: argparse.Namespace) -> int:
    """List the OS definitions valid on every node (hidden and blacklisted ones left out)."""
    if not args.no_headers:
        print("Name")
    for os in diagnose():
        if not os["valid"] or os["hidden"] or os["blacklisted"]:
            continue
        names = [f"{os['name']}+{v}" for v in os["variants"]] or [os["name"]]
        for name in names:
            print(name)
    return 0


def _diagnose(args: argparse.Namespace) -> int:
    """Show every OS definition on every node, and why one is not valid."""
    for os in diagnose():
        status = "valid" if os["valid"] else "invalid - not valid on all nodes"
        print(f"OS: {os['name']} [global status: {status}]")
        for node, entries in os["node_status"].items():
            for index, (path, valid, why, variants, params, apis) in enumerate(entries):
                state = "valid" if valid else f"invalid - {why}"
                lead = "  Node" if index == 0 else "    shadowed"
                extra = ""
                if valid:
                    extra = (f" [variants: {', '.join(variants) or 'none'}] [parameters:"
                             f" {', '.join(p[0] for p in params) or 'none'}] [API versions:"
                             f" {', '.join(str(a) for a in apis)}]")  # fmt: skip
                print(f"{lead}: {node}, status: {state} (path: {path}){extra}")
        print()
    return 0


def _configure_info(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("names", nargs="*", metavar="OS", help="only these OS definitions")


def _info(args: argparse.Namespace) -> int:
    """Show the details of OS definitions: validity, API versions, variants, parameters."""
    for os in diagnose(args.names):
        print(f"OS: {os['name']}")
        print(f"  valid: {os['valid']}")
        print(f"  hidden: {os['hidden']}")
        print(f"  blacklisted: {os['blacklisted']}")
        if os["valid"]:
            print(f"  API version(s): {', '.join(str(v) for v in os['api_versions'])}")
            print("  variants:")
            for variant in os["variants"]:
                print(f"    - {variant}")
            print("  parameters:")
            for name, doc in os["parameters"]:
                print(f"    - {name}: {doc}")
        if os["os_hvp"]:
            print("  hypervisor parameters:")
            for hv, params in sorted(os["os_hvp"].items()):
                print(f"    - {hv}: {', '.join(f'{k}={v}' for k, v in sorted(params.items()))}")
        if os["osparams"]:
            print("  OS parameters:")
            for key, value in sorted(os["osparams"].items()):
                print(f"    - {key}: {value}")
        print()
    return 0


def _configure_modify(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add(
        "-H",
        "--hypervisor-parameters",
        type=hv_key_values,
        action="append",
        default=[],
        metavar="HV:KEY=VAL,...",
        help="hypervisor parameters for instances of this OS",
    )
    add(
        "-O",
        "--os-parameters",
        type=key_values,
        default={},
        metavar="KEY=VAL,...",
        help="default OS parameters (KEY=default removes one)",
    )
    add("--hidden", type=yes_no, metavar="yes|no", help="leave it out of 'gnt-os list'")
    add(
        "--blacklisted",
        type=yes_no,
        metavar="yes|no",
        help="refuse new instances with it (reinstalls still work)",
    )
    add_submit_options(parser)
    add("os", metavar="OS", help="the OS definition (it need not exist yet)")  # fmt: skip


def _modify(args: argparse.Namespace) -> int:
    """Change an OS's hypervisor and OS parameter defaults, or its hidden/blacklisted state."""
    fields: dict[str, Any] = {}
    if args.hypervisor_parameters:
        fields["os_hvp"] = {args.os: dict(args.hypervisor_parameters)}
    if args.os_parameters:
        fields["osparams"] = {args.os: args.os_parameters}
    for name, value in (("hidden_os", args.hidden), ("blacklisted_os", args.blacklisted)):
        if value is not None:
            fields[name] = [["add" if value else "remove", args.os]]
    submit(args, make_opcode("OP_CLUSTER_SET_PARAMS", **fields))
    return 0


COMMANDS = [
    Command("list", "List the OS definitions valid on every node", _list, _configure_list),
    Command("diagnose", "Show every OS definition on every node, and why one is invalid",
            _diagnose),
    Command("info", "Show the details of OS definitions", _info, _configure_info),
    Command("modify", "Change an OS definition's defaults and state", _modify,
            _configure_modify),
]  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    return run_tool("gnt-os", "Operating system definitions.", COMMANDS, argv)


if __name__ == "__main__":
    raise SystemExit(main())
