"""``gnt-cluster``: cluster-wide commands."""

from __future__ import annotations

from typing import TYPE_CHECKING

from corral.api.cli import Command
from corral.api.errors import ConfigError
from corral.api.errors import PluginError
from corral.cli import cluster_cmds
from corral.cli import tags
from corral.cli.options import stamp
from corral.cli.table import Column
from corral.cli.table import format_table
from corral.cli.table import select_columns
from corral.cli.tool import add_list_options
from corral.cli.tool import fail
from corral.cli.tool import plugin_manager
from corral.cli.tool import run_tool
from corral.config.check import check_config
from corral.config.store import ConfigStore
from corral.config.store import parse
from corral.paths import config_file
from corral.plugins.kinds import DriverKind
from corral.plugins.manager import hook_plugins
from corral.plugins.registry import DriverRegistry
from corral.plugins.registry import installed
from corral.plugins.registry import load_driver_class

if TYPE_CHECKING:
    import argparse
    from collections.abc import Sequence

PLUGIN_COLUMNS = [
    Column("kind", "Kind"),
    Column("name", "Name"),
    Column("distribution", "Distribution"),
    Column("version", "Version"),
    Column("status", "Status"),
    Column("target", "Target"),
]
_KIND_CHOICES = [k.label.replace(" ", "-") for k in DriverKind] + ["hook-plugin"]


def _configure_plugins(parser: argparse.ArgumentParser) -> None:
    add_list_options(parser)
    parser.add_argument(
        "--kind", choices=_KIND_CHOICES, help="only plugins of this kind (e.g. hypervisor)"
    )


def _plugins(args: argparse.Namespace) -> int:
    """List installed plugins: drivers by kind, then hook plugins."""
    try:
        columns = select_columns(
            PLUGIN_COLUMNS, args.output, ["kind", "name", "distribution", "version", "status"]
        )
    except ValueError as err:
        return fail(str(err))
    rows: list[dict[str, object]] = []
    for kind in DriverKind:
        for info in installed(kind.group):
            try:
                load_driver_class(kind, info.name)
                status = "ok"
            except PluginError as err:
                status = f"broken: {err}"
            rows.append({"kind": kind.label, "status": status, **vars(info)})
    pm = plugin_manager(args)
    for info in hook_plugins():
        status = "loaded" if pm.get_plugin(info.name) is not None else "not loaded"
        rows.append({"kind": "hook plugin", "status": status, **vars(info)})
    if args.kind:
        rows = [r for r in rows if str(r["kind"]).replace(" ", "-") == args.kind]
    table = [[row.get(c.name) for c in columns] for row in rows]
    for line in format_table(columns, table, headers=not args.no_headers, separator=args.separator):
        print(line)
    return 0


def _configure_verify_config(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "file", nargs="?", help="config file to check (default: this node's config.data)"
    )


def _verify_config(args: argparse.Namespace) -> int:
    """Check a config file offline: schema, references, enabled plugins and their parameters."""
    store = ConfigStore(args.file or config_file())
    stamp(f"* Verifying configuration file {store.path}")
    try:
        cfg = parse(store.read_document(), f"config file {store.path}")
    except ConfigError as err:
        for problem in err.problems or [str(err)]:
            stamp(f"  - ERROR: {problem}")
        stamp(f"* Configuration is NOT valid: {len(err.problems) or 1} error(s)")
        return 1
    cluster = cfg.cluster
    registry = DriverRegistry(
        enabled={
            DriverKind.HYPERVISOR: cluster.enabled_hypervisors,
            DriverKind.STORAGE: cluster.enabled_disk_templates,
        }
    )
    problems = check_config(cfg, registry, plugin_manager(args))
    for problem in problems:
        stamp(f"  - ERROR: {problem}")
    if problems:
        stamp(f"* Configuration is NOT valid: {len(problems)} error(s)")
        return 1
    stamp(
        f"* Configuration is valid (serial {cfg.serial_no}): {len(cfg.nodes)} node(s),"
        f" {len(cfg.nodegroups)} node group(s), {len(cfg.instances)} instance(s),"
        f" {len(cfg.networks)} network(s)"
    )
    return 0


COMMANDS = [
    *cluster_cmds.COMMANDS,
    *tags.commands("cluster", "cluster"),
    tags.SEARCH,
    Command(
        "plugins", "List installed plugins and whether they load", _plugins, _configure_plugins
    ),
    Command(
        "verify-config",
        "Check a configuration file without a running cluster",
        _verify_config,
        _configure_verify_config,
    ),
]


def main(argv: Sequence[str] | None = None) -> int:
    return run_tool("gnt-cluster", "Cluster-wide operations.", COMMANDS, argv)


if __name__ == "__main__":
    raise SystemExit(main())
