"""Hooks that extend the command-line tools."""

from __future__ import annotations

from typing import TYPE_CHECKING

from corral.hookspecs import hookspec

if TYPE_CHECKING:
    from corral.api.cli import Command


@hookspec
def corral_cli_commands(tool: str) -> list[Command] | None:
    """Add subcommands to a ``gnt-*`` tool.

    Called when ``tool`` (for example ``"gnt-cluster"``) builds its command
    table. Return a list of :class:`corral.api.Command`, or
    ``None``. A name that clashes with a built-in command is an error that
    names the plugin. Synchronous; runs on the operator's machine.
    """
