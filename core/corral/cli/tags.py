"""``add-tags``, ``list-tags``, ``remove-tags`` for every kind of object, and ``search-tags``.

Each ``gnt-*`` tool takes the commands for its kind from :func:`commands`;
the cluster's take no object name, as in Ganeti.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from typing import Any

from corral.api.cli import Command
from corral.cli.jobs import add_submit_options
from corral.cli.jobs import make_opcode
from corral.cli.jobs import submit
from corral.cli.jobs import submit_and_wait
from corral.luxi.client import Client

if TYPE_CHECKING:
    import argparse


def _tags_of(args: argparse.Namespace) -> list[str]:
    tags = list(args.tags)
    if args.tags_source:
        with open(args.tags_source, encoding="utf-8") as source:
            tags += [line.strip() for line in source if line.strip()]
    return tags


def commands(kind: str, label: str) -> list[Command]:
    """The tag commands of ``gnt-<tool>`` for objects of ``kind`` (``cluster`` takes no name)."""
    named = kind != "cluster"

    def configure_change(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--from", dest="tags_source", metavar="FILE",
                            help="read more tags from FILE, one per line")  # fmt: skip
        add_submit_options(parser)
        if named:
            parser.add_argument("name", metavar=label.upper(), help=f"the {label}")
        parser.add_argument("tags", nargs="*", metavar="TAG", help="the tags")

    def configure_list(parser: argparse.ArgumentParser) -> None:
        if named:
            parser.add_argument("name", metavar=label.upper(), help=f"the {label}")

    def change(op_id: str) -> Any:
        def run(args: argparse.Namespace) -> int:
            op = make_opcode(op_id, kind=kind, name=args.name if named else None,
                             tags=_tags_of(args))  # fmt: skip
            with Client() as client:
                submit_and_wait(client, [op], args)
            return 0

        return run

    def list_tags(args: argparse.Namespace) -> int:
        with Client() as client:
            for tag in client.call("QueryTags", kind, args.name if named else None):
                print(tag)
        return 0

    return [
        Command("add-tags", f"Add tags to the {label}", change("OP_TAGS_SET"), configure_change),
        Command("list-tags", f"List the tags of the {label}", list_tags, configure_list),
        Command("remove-tags", f"Remove tags from the {label}", change("OP_TAGS_DEL"),
                configure_change),
    ]  # fmt: skip


def _configure_search(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("pattern", metavar="PATTERN", help="a regular expression")


def _search(args: argparse.Namespace) -> int:
    """Print every object tag matching PATTERN, as 'PATH TAG' lines."""
    op = make_opcode("OP_TAGS_SEARCH", pattern=args.pattern)
    _status, results = submit(args, op)
    found = results[0] if results else []
    for path, tag in found:
        print(f"{path} {tag}")
    return 0 if found else 1


SEARCH = Command("search-tags", "Find objects by their tags", _search, _configure_search)
