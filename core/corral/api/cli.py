"""Subcommands that plugins add to the ``gnt-*`` tools (see ``corral_cli_commands``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import argparse
    from collections.abc import Callable


def _no_options(parser: argparse.ArgumentParser) -> None:
    """A command without options of its own."""


@dataclass(frozen=True)
class Command:
    """One subcommand of a ``gnt-*`` tool.

    ``configure`` adds the command's options and arguments to its argparse
    parser; ``run`` gets the parsed namespace and returns the exit status.
    """

    name: str
    help: str
    run: Callable[[argparse.Namespace], int]
    configure: Callable[[argparse.ArgumentParser], None] = _no_options
