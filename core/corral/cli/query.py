"""``gnt-* list`` and ``list-fields`` over LUXI's ``Query``, printed as Ganeti prints them.

A value the master could not get shows as Ganeti shows it: ``?`` (no
data: the node did not answer), ``*`` (the node is offline), ``-`` (does
not apply) and ``??`` (no such field). Sizes print in human units
(``512M``, ``7.8G``) unless ``--units`` says otherwise; with
``--separator``, for scripts, they print in MiB without a suffix.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING
from typing import Any
from typing import Final

from corral.api.cli import Command
from corral.api.errors import OpPrereqError
from corral.cli.table import Column
from corral.cli.table import format_table
from corral.cli.tool import add_list_options
from corral.luxi.client import Client
from corral.query.fields import names_filter

if TYPE_CHECKING:
    import argparse
    from collections.abc import Callable
    from collections.abc import Sequence

#: How a field's status shows in a list (Ganeti's marks).
STATUS_MARKS: Final = {1: "??", 2: "?", 3: "-", 4: "*"}
UNITS: Final = ("h", "m", "g", "t")


def add_units_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--units",
        choices=UNITS,
        help="units for sizes: h (human, the default), m (MiB), g (GiB), t (TiB);"
        " with --separator the default is m",
    )


def format_unit(mib: float, units: str) -> str:
    """A size in MiB as Ganeti's FormatUnit writes it."""
    if units == "m":
        return str(int(mib))
    if units == "g":
        return f"{mib / 1024:.1f}"
    if units == "t":
        return f"{mib / 1024 / 1024:.1f}"
    if mib < 1024:
        return f"{int(mib)}M"
    if mib < 1024 * 1024:
        return f"{mib / 1024:.1f}G"
    return f"{mib / 1024 / 1024:.1f}T"


def format_value(kind: str, value: Any, units: str) -> Any:
    if value is None:
        return "-"
    if kind == "unit" and isinstance(value, int | float):
        return format_unit(value, units)
    if kind == "timestamp" and isinstance(value, int | float):
        return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(value))
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in sorted(value.items()))
    return value


def _formatter(kind: str, units: str) -> Callable[[Any], Any]:
    """``format_value`` for one column, with the kind's tests done once, not per cell."""
    if kind in ("unit", "timestamp"):
        return lambda value: format_value(kind, value, units)

    def plain(value: Any) -> Any:
        if type(value) is str:  # most cells
            return value
        return format_value(kind, value, units)

    return plain


def parse_fields(spec: str | None, default: Sequence[str]) -> list[str]:
    """``-o a,b`` or ``-o +c`` (added to the default fields)."""
    if not spec:
        return list(default)
    wanted = [f for f in spec.lstrip("+").split(",") if f]
    return [*default, *wanted] if spec.startswith("+") else wanted


def list_objects(
    what: str, args: argparse.Namespace, default: Sequence[str], names: Sequence[str] = ()
) -> list[str]:
    """The lines of ``gnt-<what> list``: query the master, check the fields, format."""
    fields = parse_fields(args.output, default)
    with Client() as client:
        answer = client.call("Query", what, fields, names_filter(list(names)))
    definitions = answer["fields"]
    unknown = [d["name"] for d in definitions if d["kind"] == "unknown"]
    if unknown:
        raise OpPrereqError(f"Unknown output fields selected: {', '.join(unknown)}")
    if names:
        found = (
            {row[fields.index("name")][1] for row in answer["data"]} if "name" in fields else None
        )
        if found is not None:
            missing = [n for n in names if n not in found]
            if missing:
                raise OpPrereqError(f"{what.capitalize()} {', '.join(missing)} does not exist")
    units = args.units or ("m" if args.separator is not None else "h")
    columns = [
        Column(d["name"], d["title"], numeric=d["kind"] in ("number", "unit")) for d in definitions
    ]
    formatters = [_formatter(d["kind"], units) for d in definitions]
    rows = [
        [
            STATUS_MARKS.get(status, "?") if status else fmt(value)
            for fmt, (status, value) in zip(formatters, row, strict=True)
        ]
        for row in answer["data"]
    ]
    return format_table(columns, rows, headers=not args.no_headers, separator=args.separator)


def list_fields(what: str, args: argparse.Namespace) -> list[str]:
    """The lines of ``gnt-<what> list-fields``: name, type and description of each field."""
    with Client() as client:
        answer = client.call("QueryFields", what, args.fields or None)
    unknown = [d["name"] for d in answer["fields"] if d["kind"] == "unknown"]
    if unknown:
        raise OpPrereqError(f"Unknown field(s): {', '.join(unknown)}")
    kinds = {
        "text": "Text",
        "bool": "Boolean",
        "number": "Number",
        "unit": "Storage size",
        "timestamp": "Timestamp",
        "other": "Custom",
    }
    columns = [Column("name", "Name"), Column("type", "Type"), Column("doc", "Description")]
    rows = [[d["name"], kinds.get(d["kind"], d["kind"]), d["doc"]] for d in answer["fields"]]
    return format_table(columns, rows, headers=not args.no_headers, separator=args.separator)


def configure_list(parser: argparse.ArgumentParser, what: str) -> None:
    add_list_options(parser)
    add_units_option(parser)
    parser.add_argument("names", nargs="*", metavar=what.upper(), help=f"only these {what}s")


def configure_list_fields(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--no-headers", action="store_true", help="do not print a header line")
    parser.add_argument("--separator", metavar="SEP", help="separate fields with SEP")
    parser.add_argument("fields", nargs="*", metavar="FIELD", help="only these fields")


def list_commands(what: str, label: str, default: Sequence[str], title: str) -> list[Command]:
    """``list`` and ``list-fields`` for a ``gnt-*`` tool whose objects are ``what``."""

    def run_list(args: argparse.Namespace) -> int:
        for line in list_objects(what, args, default, args.names):
            print(line)
        return 0

    def run_fields(args: argparse.Namespace) -> int:
        for line in list_fields(what, args):
            print(line)
        return 0

    run_list.__doc__ = f"List the {label}s ({title})."
    run_fields.__doc__ = f"List the fields 'list -o' accepts for {label}s."
    return [
        Command("list", f"List the {label}s", run_list, lambda p: configure_list(p, label)),
        Command("list-fields", "List the fields 'list -o' accepts", run_fields,
                configure_list_fields),
    ]  # fmt: skip
