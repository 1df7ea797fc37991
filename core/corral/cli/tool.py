"""What every ``gnt-*`` tool shares: its command table, option parsing and error output."""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING
from typing import cast

from corral import __version__
from corral.api.errors import CorralError
from corral.api.errors import PluginError

if TYPE_CHECKING:
    from collections.abc import Sequence

    import pluggy

    from corral.api.cli import Command


def ask_user(question: str) -> bool:
    """Ask a yes/no question on the terminal; without one the answer is no (as Ganeti)."""
    try:
        tty = open("/dev/tty", "r+")
    except OSError:
        return False
    with tty:
        while True:
            tty.write(f"{question}\ny/[n]/?: ")
            tty.flush()
            answer = tty.readline(2).strip().lower()
            if answer == "y":
                return True
            if answer in ("n", ""):
                return False
            if answer == "?":
                tty.write(" y - Perform the operation\n n - Do not perform the operation\n\n")


def fail(message: str) -> int:
    """Print an error the way Ganeti's tools do and return the exit status."""
    print(f"Failure: {message}", file=sys.stderr)
    return 1


def add_list_options(parser: argparse.ArgumentParser) -> None:
    """``-o``, ``--no-headers`` and ``--separator`` as every Ganeti list command has them."""
    parser.add_argument(
        "-o", "--output", metavar="FIELDS", help="comma-separated fields to show; +FIELDS adds"
    )
    parser.add_argument("--no-headers", action="store_true", help="do not print a header line")
    parser.add_argument(
        "--separator", metavar="SEP", help="separate fields with SEP instead of aligning them"
    )


def command_table(
    tool: str, builtin: Sequence[Command], pm: pluggy.PluginManager
) -> dict[str, Command]:
    """Built-in commands plus those plugins add; a clash names the plugin."""
    from corral.plugins.manager import call_impl

    table = {cmd.name: cmd for cmd in builtin}
    # Each implementation alone, so that a clash can name its plugin.
    for impl in pm.hook.corral_cli_commands.get_hookimpls():
        commands = cast("list[Command] | None", call_impl(impl, tool=tool)) or []
        for cmd in commands:
            if cmd.name in table:
                raise PluginError(
                    f"hook plugin {impl.plugin_name!r} adds command {cmd.name!r} to {tool},"
                    " which already has one"
                )
            table[cmd.name] = cmd
    return table


def plugin_manager(args: argparse.Namespace) -> pluggy.PluginManager:
    """The hook plugins for a command that needs them (built on first use)."""
    pm = getattr(args, "_plugins", None)
    if pm is None:
        from corral.plugins.manager import build_plugin_manager

        pm = args._plugins = build_plugin_manager()
    return cast("pluggy.PluginManager", pm)


def run_tool(
    tool: str, description: str, builtin: Sequence[Command], argv: Sequence[str] | None = None
) -> int:
    """Parse ``argv`` for ``tool`` and run the chosen command.

    A built-in command named first is set up alone, without loading every
    plugin to look for their commands (which costs more than a listing):
    plugins are only searched when the command is not a built-in one, or
    for the tool's own ``--help``.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    chosen = next((cmd for cmd in builtin if argv and cmd.name == argv[0]), None)
    if chosen is not None:
        table, pm = {chosen.name: chosen}, None
    else:
        try:
            from corral.plugins.manager import build_plugin_manager

            pm = build_plugin_manager()
            table = command_table(tool, builtin, pm)
        except CorralError as err:
            return fail(str(err))
    parser = argparse.ArgumentParser(prog=tool, description=description)
    parser.add_argument("--version", action="version", version=f"{tool} (corral) {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in sorted(table):
        cmd = table[name]
        sub = subparsers.add_parser(name, help=cmd.help, description=cmd.help)
        cmd.configure(sub)
        sub.set_defaults(_command=cmd, _plugins=pm)
    args = parser.parse_args(argv)
    try:
        return args._command.run(args)  # type: ignore[no-any-return]
    except CorralError as err:
        return fail(str(err))
    except BrokenPipeError:
        # The reader (``| head``) is gone: stop quietly, as a Unix filter does.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
