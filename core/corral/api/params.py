"""Parameter schemas: how a plugin declares its parameters.

A plugin subclasses :class:`ParamsSchema` and gives every field a
``load_default`` and a ``metadata={"help": ...}``. The schema is the single
place where names, types, ranges, defaults and help text live: the CLI,
RAPI, config loader and docs all read it.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any
from typing import ClassVar

from marshmallow import RAISE
from marshmallow import Schema
from marshmallow import ValidationError

from corral.api.errors import ParameterError


class ParamsSchema(Schema):
    """Base class for every plugin's parameter schema (unknown keys are refused)."""

    class Meta:
        unknown = RAISE

    #: Keys that are private to the plugin and never shown in ``info`` output.
    secret_fields: ClassVar[frozenset[str]] = frozenset()


_DEFAULTS: dict[type[Schema], dict[str, Any]] = {}
_SCHEMAS: dict[type[Schema], Schema] = {}


def _schema(schema_cls: type[Schema]) -> Schema:
    """One instance per schema class: schemas keep no state between loads."""
    if schema_cls not in _SCHEMAS:
        _SCHEMAS[schema_cls] = schema_cls()
    return _SCHEMAS[schema_cls]


def param_defaults(schema_cls: type[Schema]) -> dict[str, Any]:
    """Return (a fresh copy of) the default of every parameter the schema declares."""
    if schema_cls not in _DEFAULTS:
        out: dict[str, Any] = {}
        for name, field in _schema(schema_cls).fields.items():
            default = field.load_default
            out[name] = default() if callable(default) else default
        _DEFAULTS[schema_cls] = out
    return copy.deepcopy(_DEFAULTS[schema_cls])


def flatten_messages(messages: Any, prefix: str = "") -> dict[str, list[str]]:
    """Turn marshmallow's nested error dict into ``{"a.b[0].c": [msg, ...]}``."""
    out: dict[str, list[str]] = {}
    if isinstance(messages, Mapping):
        for key, value in messages.items():
            if key == "_schema":
                path = prefix or "(object)"
            elif isinstance(key, int):
                path = f"{prefix}[{key}]"
            else:
                path = f"{prefix}.{key}" if prefix else str(key)
            for sub, msgs in flatten_messages(value, path).items():
                out.setdefault(sub, []).extend(msgs)
    elif isinstance(messages, list | tuple):
        if all(isinstance(m, str) for m in messages):
            out[prefix or "(object)"] = [str(m) for m in messages]
        else:
            for item in messages:
                for sub, msgs in flatten_messages(item, prefix).items():
                    out.setdefault(sub, []).extend(msgs)
    else:
        out[prefix or "(object)"] = [str(messages)]
    return out


def load_params(
    schema_cls: type[Schema], values: Mapping[str, Any], *, fill: bool = False
) -> dict[str, Any]:
    """Load ``values`` with ``schema_cls``; raises marshmallow's ValidationError.

    Without ``fill`` the top-level keys are all optional and no default is
    added, but nested structures (an ipolicy's min/max specs) stay whole.
    """
    schema = _schema(schema_cls)
    partial = False if fill else tuple(schema.fields)
    loaded: dict[str, Any] = schema.load(dict(values), partial=partial)
    return loaded


def validate_params(
    schema_cls: type[Schema], values: Mapping[str, Any], *, where: str, fill: bool = False
) -> dict[str, Any]:
    """Check ``values`` against ``schema_cls`` and return them deserialised.

    With ``fill=False`` only the keys given are checked and returned (an
    override dict at cluster, group or instance level); with ``fill=True``
    the result also carries every default. ``where`` prefixes each error path,
    for example ``hvparams`` or ``instances[web1].beparams``.
    """
    try:
        loaded = load_params(schema_cls, values, fill=fill)
    except ValidationError as err:
        errors = flatten_messages(err.messages, where)
        # marshmallow says "Unknown field."; name the schema's owner's vocabulary.
        for path, msgs in errors.items():
            errors[path] = ["unknown parameter" if m == "Unknown field." else m for m in msgs]
        raise ParameterError(errors) from None
    return loaded
