"""The opcode base schema, the opcode value object, the registry and loading.

Every concrete opcode is a subclass of :class:`OpCodeSchema` that sets
``OP_ID`` (Ganeti's identifier, for example ``OP_INSTANCE_CREATE``) and,
when one field identifies the target, ``OP_DSC_FIELD``. Defining the class
registers it in :data:`OPCODES`; two classes with one ``OP_ID`` are an error
at import time.

Loading a dict gives an :class:`OpCode`, a plain object with one attribute
per field (defaults filled in); dumping gives back the JSON-ready dict with
its ``"OP_ID"`` key, the form jobs carry over LUXI and store in the queue.
"""

from __future__ import annotations

import copy
import difflib
import re
from collections.abc import Iterator
from collections.abc import Mapping
from typing import Any
from typing import ClassVar

from marshmallow import RAISE
from marshmallow import Schema
from marshmallow import ValidationError
from marshmallow import fields
from marshmallow import post_load

from corral.api.errors import OpPrereqError
from corral.api.params import flatten_messages
from corral.opcodes import fields as fld

#: Every opcode schema, by OP_ID.
OPCODES: dict[str, type[OpCodeSchema]] = {}

_OP_ID_RE = re.compile(r"^OP_[A-Z0-9]+(_[A-Z0-9]+)*$")
_REDACTED = "<redacted>"
_UNKNOWN = "Unknown field."


class OpcodeValidationError(OpPrereqError):
    """An opcode dict is malformed; ``errors`` maps dotted field paths to messages.

    ``op_id`` is the opcode's OP_ID when one could be read, else None. The
    message has one line per problem, such as
    ``OP_INSTANCE_CREATE: disks[0].size: Not a valid integer.``
    """

    def __init__(self, op_id: str | None, errors: dict[str, list[str]]) -> None:
        self.op_id = op_id
        self.errors = errors
        prefix = op_id or "opcode"
        lines = [
            f"{prefix}: {path}: {msg}" for path, msgs in sorted(errors.items()) for msg in msgs
        ]
        super().__init__("\n".join(lines))


class OpCode:
    """One loaded opcode: ``OP_ID`` plus one attribute per parameter.

    Parameters can be read and changed as attributes (``op.instance_name``);
    setting a name the opcode does not have is an AttributeError, so typos
    fail loudly. Values are not re-validated when set.
    """

    __slots__ = ("OP_ID", "_params")

    OP_ID: str
    _params: dict[str, Any]

    def __init__(self, op_id: str, params: Mapping[str, Any]) -> None:
        object.__setattr__(self, "OP_ID", op_id)
        object.__setattr__(self, "_params", dict(params))

    def __getattr__(self, name: str) -> Any:
        # Only called when normal lookup fails, i.e. for parameters.
        try:
            return self._params[name]
        except KeyError:
            raise AttributeError(f"{self.OP_ID} has no parameter {name!r}") from None

    def __setattr__(self, name: str, value: Any) -> None:
        if name not in self._params:
            raise AttributeError(f"{self.OP_ID} has no parameter {name!r}")
        self._params[name] = value

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"opcode parameters cannot be deleted ({name!r})")

    @property
    def params(self) -> Mapping[str, Any]:
        """The parameters (read-only view; set attributes to change them)."""
        return _ReadOnly(self._params)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, OpCode):
            return NotImplemented
        return self.OP_ID == other.OP_ID and self._params == other._params

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        shown = ", ".join(f"{k}={v!r}" for k, v in sorted(self.redacted_params().items()))
        return f"OpCode({self.OP_ID}, {shown})"

    def __copy__(self) -> OpCode:
        return OpCode(self.OP_ID, self._params)

    def __deepcopy__(self, memo: dict[int, Any]) -> OpCode:
        return OpCode(self.OP_ID, copy.deepcopy(self._params, memo))

    def __reduce__(self) -> tuple[Any, ...]:
        return (OpCode, (self.OP_ID, self._params))

    def to_dict(self) -> dict[str, Any]:
        """The opcode as a JSON-ready dict, with its ``"OP_ID"`` key (a deep copy)."""
        out: dict[str, Any] = {"OP_ID": self.OP_ID}
        for key, value in self._params.items():
            out[key] = _plain(value)
        return out

    def redacted_params(self) -> dict[str, Any]:
        """The parameters with private and secret values replaced by ``<redacted>``."""
        hidden = private_fields(self.OP_ID)
        return {
            key: (_redact(value) if key in hidden else value) for key, value in self._params.items()
        }

    def summary(self) -> str:
        """A short description: the OP_ID without ``OP_``, plus the target in parentheses.

        For example ``INSTANCE_CREATE(web1)``; list values are comma-joined.
        """
        text = self.OP_ID[3:] if self.OP_ID.startswith("OP_") else self.OP_ID
        schema = OPCODES.get(self.OP_ID)
        dsc = schema.OP_DSC_FIELD if schema is not None else None
        if dsc:
            value = self._params.get(dsc)
            if isinstance(value, list | tuple):
                value = ",".join(str(v) for v in value)
            text = f"{text}({value})"
        return text

    def tiny_summary(self) -> str:
        """An even shorter name: ``I_CREATE`` for OP_INSTANCE_CREATE, ``C_VERIFY`` ..."""
        text = self.OP_ID[3:] if self.OP_ID.startswith("OP_") else self.OP_ID
        for prefix, short in _TINY_PREFIXES:
            if text.startswith(prefix):
                return short + text[len(prefix) :]
        return text


_TINY_PREFIXES = (("CLUSTER_", "C_"), ("GROUP_", "G_"), ("NODE_", "N_"), ("INSTANCE_", "I_"))


class _ReadOnly(Mapping[str, Any]):
    __slots__ = ("_data",)

    def __init__(self, data: dict[str, Any]) -> None:
        self._data = data

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)


def _plain(value: Any) -> Any:
    if isinstance(value, OpCode):
        return value.to_dict()
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return copy.deepcopy(value)


def _redact(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _REDACTED for k in value}
    return None if value is None else _REDACTED


class OpCodeSchema(Schema):
    """Base of every opcode schema: the parameters every Ganeti opcode has.

    Subclasses set ``OP_ID``, optionally ``OP_DSC_FIELD``, a one-line
    docstring, and declare their own fields.
    """

    class Meta:
        unknown = RAISE

    OP_ID: ClassVar[str]
    #: The field whose value identifies the target in summaries (or None).
    OP_DSC_FIELD: ClassVar[str | None] = None

    dry_run = fld.maybe_boolean("Only check whether the operation could run; change nothing.")
    debug_level = fld.integer("Amount of debugging output; null means none.", None, minimum=0)
    priority = fld.integer(
        "Scheduling priority from -20 (most urgent) to 19 (least); 0 is normal.",
        fld.PRIORITY_DEFAULT,
        minimum=fld.PRIORITY_HIGHEST,
        maximum=fld.PRIORITY_LOWEST,
    )
    depends = fields.List(
        fld.JobDependency(),
        load_default=None,
        allow_none=True,
        metadata={
            "help": "Jobs that must reach one of the given final states before this one "
            "starts, as [job_id, [status, ...]] pairs; negative IDs count back among "
            "jobs submitted together."
        },
    )
    comment = fld.maybe_any_string("Free-text note on why this opcode was submitted.")
    reason = fields.List(
        fld.ReasonEntry(),
        load_default=list,
        allow_none=True,
        metadata={
            "help": "Reason trail: [source, reason, timestamp] entries recording who asked "
            "for the operation and why; null is read as an empty trail."
        },
    )

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        op_id = cls.__dict__.get("OP_ID")
        if op_id is None:
            return  # an abstract intermediate class
        if not isinstance(op_id, str) or not _OP_ID_RE.match(op_id):
            raise TypeError(f"{cls.__qualname__}: malformed OP_ID {op_id!r}")
        if op_id in OPCODES:
            other = OPCODES[op_id]
            raise TypeError(
                f"OP_ID {op_id} is defined twice: by {other.__module__}.{other.__qualname__} "
                f"and by {cls.__module__}.{cls.__qualname__}"
            )
        if not (cls.__doc__ or "").strip():
            raise TypeError(f"{cls.__qualname__} ({op_id}) needs a one-line docstring")
        OPCODES[op_id] = cls

    @post_load
    def _to_opcode(self, data: dict[str, Any], **kwargs: Any) -> OpCode:
        if data.get("reason", ()) is None:
            data["reason"] = []
        return OpCode(self.OP_ID, data)


_INSTANCES: dict[str, OpCodeSchema] = {}
_PRIVATE: dict[str, frozenset[str]] = {}


def _schema_instance(op_id: str) -> OpCodeSchema:
    schema = _INSTANCES.get(op_id)
    if schema is None:
        schema = _INSTANCES[op_id] = OPCODES[op_id]()
    return schema


def private_fields(op_id: str) -> frozenset[str]:
    """Names of the fields of ``op_id`` whose values are private or secret."""
    names = _PRIVATE.get(op_id)
    if names is None:
        if op_id not in OPCODES:
            return frozenset()
        names = frozenset(
            name
            for name, field in _schema_instance(op_id).fields.items()
            if field.metadata.get("private") or field.metadata.get("secret")
        )
        _PRIVATE[op_id] = names
    return names


def _unknown_op_id(op_id: str) -> OpcodeValidationError:
    msg = f"unknown opcode {op_id!r}"
    close = difflib.get_close_matches(op_id, list(OPCODES), n=1)
    if close:
        msg += f"; did you mean {close[0]!r}?"
    return OpcodeValidationError(op_id, {"OP_ID": [msg]})


def opcode_schema(op_id: str) -> type[OpCodeSchema]:
    """The schema class for ``op_id``; OpcodeValidationError if there is none."""
    try:
        return OPCODES[op_id]
    except KeyError:
        raise _unknown_op_id(op_id) from None


def all_op_ids() -> list[str]:
    """Every registered OP_ID, sorted."""
    return sorted(OPCODES)


def load_opcode(data: Mapping[str, Any]) -> OpCode:
    """Validate a serialised opcode (a dict with an ``"OP_ID"`` key) and load it.

    Missing optional parameters get their defaults. Raises
    :class:`OpcodeValidationError` naming every field at fault.
    """
    if not isinstance(data, Mapping):
        raise OpcodeValidationError(
            None, {"(object)": [f"an opcode must be a dict, not {type(data).__name__}"]}
        )
    if "OP_ID" not in data:
        raise OpcodeValidationError(
            None, {"OP_ID": ["missing: an opcode dict must say which operation it is"]}
        )
    op_id = data["OP_ID"]
    if not isinstance(op_id, str):
        raise OpcodeValidationError(None, {"OP_ID": [f"must be a string, not {op_id!r}"]})
    if op_id not in OPCODES:
        raise _unknown_op_id(op_id)
    body = {k: copy.deepcopy(v) for k, v in data.items() if k != "OP_ID"}
    schema = _schema_instance(op_id)
    try:
        op: OpCode = schema.load(body)
    except ValidationError as err:
        raise OpcodeValidationError(op_id, _explain(schema, err.messages)) from None
    return op


def _explain(schema: OpCodeSchema, messages: Any) -> dict[str, list[str]]:
    errors = flatten_messages(messages)
    known = list(schema.fields)
    for path, msgs in errors.items():
        if _UNKNOWN in msgs:
            hint = ""
            close = difflib.get_close_matches(path, known, n=1)
            if close:
                hint = f" (did you mean {close[0]!r}?)"
            errors[path] = [f"unknown field{hint}" if m == _UNKNOWN else m for m in msgs]
    return errors


def make_opcode(op_id: str, /, **params: Any) -> OpCode:
    """Build and validate an opcode from keyword arguments."""
    return load_opcode({"OP_ID": op_id, **params})


def dump_opcode(op: OpCode) -> dict[str, Any]:
    """The opcode as a JSON-ready dict with its ``"OP_ID"`` key."""
    schema = _schema_instance(opcode_schema(op.OP_ID).OP_ID)
    out: dict[str, Any] = {"OP_ID": op.OP_ID}
    out.update(schema.dump(op))
    return out
