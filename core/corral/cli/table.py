"""Ganeti-style tabular output (``gnt-* list``): aligned columns or a separator."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING
from typing import Any

if TYPE_CHECKING:
    from collections.abc import Sequence


@dataclass(frozen=True)
class Column:
    """A list field: its ``-o`` name, its header and whether it is numeric (right-aligned)."""

    name: str
    title: str
    numeric: bool = False


def _text(value: Any) -> str:
    if type(value) is str:  # most cells: no conversion
        return value
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "Y" if value else "N"
    if isinstance(value, list | tuple):
        return ",".join(_text(v) for v in value)
    return str(value)


def format_table(
    columns: Sequence[Column],
    rows: Sequence[Sequence[Any]],
    *,
    headers: bool = True,
    separator: str | None = None,
) -> list[str]:
    """Lines of a table as Ganeti prints it.

    With ``separator`` the fields are joined by it and never padded (for
    scripts); otherwise text is left- and numbers right-aligned, one space
    apart, as Ganeti does.
    """
    cells = [[_text(v) for v in row] for row in rows]
    if headers:
        cells.insert(0, [c.title for c in columns])
    if separator is not None:
        return [separator.join(row) for row in cells]
    widths = [max((len(row[i]) for row in cells), default=0) for i in range(len(columns))]
    # One format string for every row: numbers right-aligned, text left-aligned,
    # the last text column unpadded (Ganeti leaves no trailing blanks).
    specs = []
    for i, col in enumerate(columns):
        if col.numeric:
            specs.append(f"{{:>{widths[i]}}}")
        elif i == len(columns) - 1:
            specs.append("{}")
        else:
            specs.append(f"{{:<{widths[i]}}}")
    template = " ".join(specs)
    return [template.format(*row).rstrip() for row in cells]


def select_columns(
    available: Sequence[Column], spec: str | None, default: Sequence[str]
) -> list[Column]:
    """Columns for ``-o spec`` (``a,b`` or ``+c`` to add to the default); unknown names raise."""
    by_name = {c.name: c for c in available}
    names = list(default)
    if spec:
        wanted = [n for n in spec.lstrip("+").split(",") if n]
        names = names + wanted if spec.startswith("+") else wanted
    unknown = [n for n in names if n not in by_name]
    if unknown:
        known = ", ".join(by_name)
        raise ValueError(f"unknown field(s) {', '.join(unknown)}; known fields: {known}")
    return [by_name[n] for n in names]
