"""Field definitions, Ganeti's filter language, and running a query.

Result statuses and field kinds carry Ganeti's values, so a query answer
reads the same to a Ganeti client library.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import IntEnum
from typing import TYPE_CHECKING
from typing import Any
from typing import Generic
from typing import TypeVar

from corral.api.errors import OpPrereqError

if TYPE_CHECKING:
    from collections.abc import Awaitable
    from collections.abc import Callable
    from collections.abc import Iterable
    from collections.abc import Sequence


class Status(IntEnum):
    """Ganeti's RS_* codes for one field of one object."""

    NORMAL = 0
    UNKNOWN = 1  # no such field
    NODATA = 2  # live data that could not be fetched
    UNAVAIL = 3  # does not apply to this object
    OFFLINE = 4  # the node is marked offline


#: Ganeti's field kinds (QFT_*).
TEXT, BOOL, NUMBER, UNIT, TIMESTAMP, OTHER = "text", "bool", "number", "unit", "timestamp", "other"

T = TypeVar("T")


class NoData(Exception):
    """Raised by a getter whose live data is missing (the status says why)."""

    def __init__(self, status: Status = Status.NODATA) -> None:
        self.status = status


@dataclass(frozen=True)
class Field:
    name: str
    title: str
    kind: str
    doc: str
    get: Callable[[Any, Any], Any]
    #: Whether the value comes from the nodes rather than the config.
    live: bool = False

    def definition(self) -> dict[str, str]:
        return {"name": self.name, "title": self.title, "kind": self.kind, "doc": self.doc}


def field(
    name: str, title: str, kind: str, doc: str, get: Callable[[Any, Any], Any], live: bool = False
) -> Field:
    return Field(name, title, kind, doc, get, live)


def _unknown(name: str) -> dict[str, str]:
    return {"name": name, "title": name, "kind": "unknown", "doc": "Unknown field"}


# -- filters ----------------------------------------------------------------------

_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "=": lambda a, b: a == b,
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a is not None and a < b,
    ">": lambda a, b: a is not None and a > b,
    "<=": lambda a, b: a is not None and a <= b,
    ">=": lambda a, b: a is not None and a >= b,
    "=[]": lambda a, b: isinstance(a, list | tuple) and b in a,
}


def compile_filter(qfilter: Any, known: Iterable[str]) -> tuple[Callable[[Any], bool], set[str]]:
    """A predicate over ``value(field)`` lookups, and the fields the filter reads.

    Ganeti's filter language: ``["|", f...]``, ``["&", f...]``, ``["!", f]``,
    ``["?", field]`` (true value), ``[op, field, value]`` with op one of
    ``= == != < > <= >= =[]`` and ``=~`` (regular expression).
    """
    names = set(known)
    used: set[str] = set()

    def build(node: Any) -> Callable[[Any], bool]:
        if not isinstance(node, list) or not node or not isinstance(node[0], str):
            raise OpPrereqError(f"invalid query filter {node!r}: expected [operator, ...]")
        op, args = node[0], node[1:]
        if op in ("|", "&"):
            parts = [build(a) for a in args]
            if op == "|":
                return lambda get: any(p(get) for p in parts)
            return lambda get: all(p(get) for p in parts)
        if op == "!":
            if len(args) != 1:
                raise OpPrereqError("query filter '!' takes one operand")
            inner = build(args[0])
            return lambda get: not inner(get)
        if op == "?":
            name = _field_operand(args, 1, op, names)
            used.add(name)
            return lambda get: bool(get(name))
        if op == "=~":
            name = _field_operand(args, 2, op, names)
            used.add(name)
            try:
                pattern = re.compile(str(args[1]))
            except re.error as err:
                raise OpPrereqError(f"invalid regular expression {args[1]!r}: {err}") from None
            return lambda get: isinstance(get(name), str) and bool(pattern.search(get(name)))
        compare = _COMPARE.get(op)
        if compare is None:
            raise OpPrereqError(f"unknown query filter operator {op!r}")
        name = _field_operand(args, 2, op, names)
        used.add(name)
        value = args[1]
        return lambda get: _safe(compare, get(name), value)

    if qfilter is None:
        return (lambda get: True), used
    return build(qfilter), used


def _safe(compare: Callable[[Any, Any], bool], a: Any, b: Any) -> bool:
    try:
        return compare(a, b)
    except TypeError:
        return False


def _field_operand(args: list[Any], count: int, op: str, names: set[str]) -> str:
    if len(args) != count or not isinstance(args[0], str):
        raise OpPrereqError(f"query filter {op!r} takes a field name and {count - 1} value(s)")
    if args[0] not in names:
        raise OpPrereqError(f"query filter uses unknown field {args[0]!r}")
    return str(args[0])


def names_filter(names: Sequence[str] | None, field_name: str = "name") -> Any:
    """The filter that selects objects by name (legacy Query* calls and CLIs)."""
    if not names:
        return None
    return ["|", *(["=", field_name, n] for n in names)]


# -- running a query ----------------------------------------------------------------


@dataclass
class Resource(Generic[T]):
    """One kind of object that can be queried."""

    what: str
    fields: dict[str, Field]
    #: The objects in output order, given the context.
    objects: Callable[[T], Iterable[Any]]
    #: Builds the context: the config, plus live data when ``live`` is true.
    context: Callable[[bool, set[str]], Awaitable[T]]
    name_of: Callable[[Any], str]

    def query_fields(self, names: Sequence[str] | None) -> dict[str, Any]:
        chosen = names or sorted(self.fields)
        return {
            "fields": [
                self.fields[n].definition() if n in self.fields else _unknown(n) for n in chosen
            ]
        }

    async def query(
        self, names: Sequence[str], qfilter: Any = None, *, missing_ok: bool = True,
        wanted: Sequence[str] | None = None,
    ) -> dict[str, Any]:  # fmt: skip
        """Ganeti's query2 answer; ``wanted`` names objects that must exist."""
        if not isinstance(names, list | tuple) or not all(isinstance(n, str) for n in names):
            raise OpPrereqError("query fields must be a list of field names")
        match, used = compile_filter(qfilter, self.fields)
        needed = {n for n in [*names, *used] if n in self.fields}
        live = any(self.fields[n].live for n in needed)
        ctx = await self.context(live, needed)
        objects = list(self.objects(ctx))
        if wanted:
            present = {self.name_of(obj) for obj in objects}
            absent = [n for n in wanted if n not in present]
            if absent and not missing_ok:
                raise OpPrereqError(f"{self.what} {', '.join(absent)} not known")
        if qfilter is None:  # the common case (every list): no per-row closure and cache
            getters = [self.fields[n].get if n in self.fields else None for n in names]
            rows = [self._row(getters, obj, ctx) for obj in objects]
            return {**self.query_fields(list(names)), "data": rows}
        rows = []
        for obj in objects:
            values: dict[str, tuple[int, Any]] = {}

            def get(name: str, obj: Any = obj, values: dict[str, tuple[int, Any]] = values) -> Any:
                if name not in values:
                    values[name] = self._value(name, obj, ctx)
                status, value = values[name]
                return value if status == Status.NORMAL else None

            if not match(get):
                continue
            rows.append([list(values.get(n) or self._value(n, obj, ctx)) for n in names])
        return {**self.query_fields(list(names)), "data": rows}

    @staticmethod
    def _row(getters: list[Callable[[Any, T], Any] | None], obj: Any, ctx: T) -> list[Any]:
        row: list[Any] = []
        for get in getters:
            if get is None:
                row.append([Status.UNKNOWN, None])
                continue
            try:
                row.append([Status.NORMAL, get(obj, ctx)])
            except NoData as missing:
                row.append([missing.status, None])
        return row

    def _value(self, name: str, obj: Any, ctx: T) -> tuple[int, Any]:
        spec = self.fields.get(name)
        if spec is None:
            return (Status.UNKNOWN, None)
        try:
            return (Status.NORMAL, spec.get(obj, ctx))
        except NoData as missing:
            return (missing.status, None)


def plain_rows(answer: dict[str, Any]) -> list[list[Any]]:
    """The values of a query2 answer without statuses (old-style Query* calls)."""
    return [[value for _status, value in row] for row in answer["data"]]
