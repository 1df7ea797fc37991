"""Properties of every registered opcode, derived from the schemas themselves.

For each opcode and each of its fields, a wrongly-typed value must be refused
with an error that names the field; valid opcodes generated from the schemas
must survive dump -> JSON -> load unchanged. Nothing here lists opcodes or
fields by hand, so opcodes added later are covered automatically; a new field
type only needs an entry in ``valid_values`` and ``wrong_values``.
"""

from __future__ import annotations

import functools
import ipaddress
import json
from typing import Any

import pytest
from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st
from marshmallow import fields
from marshmallow import validate

from corral.opcodes import OpcodeValidationError
from corral.opcodes import all_op_ids
from corral.opcodes import dump_opcode
from corral.opcodes import load_opcode
from corral.opcodes import opcode_schema
from corral.opcodes import values
from corral.opcodes.fieldtypes import DeviceModifications
from corral.opcodes.fieldtypes import DiskSpec
from corral.opcodes.fieldtypes import ExportTarget
from corral.opcodes.fieldtypes import IntPair
from corral.opcodes.fieldtypes import IPv4Address
from corral.opcodes.fieldtypes import IPv4Network
from corral.opcodes.fieldtypes import IPv6Address
from corral.opcodes.fieldtypes import IPv6Network
from corral.opcodes.fieldtypes import JobDependency
from corral.opcodes.fieldtypes import NicSpec
from corral.opcodes.fieldtypes import OsListChange
from corral.opcodes.fieldtypes import ReasonEntry
from corral.opcodes.fieldtypes import RecreateDisks
from corral.opcodes.fieldtypes import StrictBoolean
from corral.opcodes.fieldtypes import StrictFloat
from corral.opcodes.fieldtypes import StrictInteger
from corral.opcodes.instance import CreateOpcodeList

SETTINGS = settings(
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

OP_IDS = all_op_ids()

# --- valid values -------------------------------------------------------------

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**40), 2**40)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)
short_text = st.text(max_size=10)
names = st.text(min_size=1, max_size=10)


def _validators(field: fields.Field[Any], kind: type) -> list[Any]:
    return [v for v in field.validators if isinstance(v, kind)]


def _string_strategy(field: fields.Field[Any]) -> st.SearchStrategy[Any]:
    one_of = _validators(field, validate.OneOf)
    if one_of:
        return st.sampled_from(list(one_of[0].choices))
    patterns = _validators(field, validate.Regexp)
    if patterns:
        return st.from_regex(patterns[0].regex, fullmatch=True)
    min_size = max([v.min or 0 for v in _validators(field, validate.Length)], default=0)
    return st.text(min_size=min_size, max_size=10)


def _int_strategy(field: fields.Field[Any]) -> st.SearchStrategy[int]:
    ranges = _validators(field, validate.Range)
    low = ranges[0].min if ranges else -(2**31)
    high = ranges[0].max if ranges else 2**31
    return st.integers(min_value=low, max_value=high)


def _network(version: int) -> st.SearchStrategy[str]:
    bits = 32 if version == 4 else 128
    return st.builds(
        lambda addr, prefix: str(ipaddress.ip_network(f"{addr}/{prefix}", strict=False)),
        st.ip_addresses(v=version),
        st.integers(0, bits),
    )


def disk_specs(require_size: bool) -> st.SearchStrategy[dict[str, Any]]:
    required = {"size": st.integers(0, 2**20)} if require_size else {}
    optional = {
        "mode": st.sampled_from(values.DISK_ACCESS_MODES),
        "name": st.none() | names,
        "vg": names,
        "metavg": names,
        "spindles": st.integers(0, 16),
        "provider": names,
        "adopt": names,
        "ext-param": names | st.integers(0, 100),
    }
    if not require_size:
        optional["size"] = st.integers(0, 2**20)
    return st.fixed_dictionaries(required, optional=optional)


nic_specs = st.fixed_dictionaries(
    {}, optional={key: st.none() | short_text for key in values.NIC_SPEC_KEYS}
)


def _modifications(device: str) -> st.SearchStrategy[list[Any]]:
    def params(action: Any) -> st.SearchStrategy[dict[str, Any]]:
        if device == "nic":
            return nic_specs
        return disk_specs(require_size=action == "add")

    index = st.integers(-1, 15) | names
    new_form = st.sampled_from(values.DDM_WITH_MODIFY).flatmap(
        lambda action: st.tuples(st.just(action), index, params(action)).map(list)
    )
    old_form = (st.sampled_from(values.DDM_SIMPLE) | st.integers(0, 15)).flatmap(
        lambda first: st.tuples(st.just(first), params(first)).map(list)
    )
    return st.lists(new_form | old_form, max_size=3)


def valid_values(field: fields.Field[Any]) -> st.SearchStrategy[Any]:
    """A strategy for values ``field`` accepts (null included when allowed)."""
    strategy = _valid_non_null(field)
    if field.allow_none:
        strategy = st.none() | strategy
    return strategy


def _valid_non_null(field: fields.Field[Any]) -> st.SearchStrategy[Any]:
    if isinstance(field, StrictBoolean):
        return st.booleans()
    if isinstance(field, StrictInteger):
        return _int_strategy(field)
    if isinstance(field, StrictFloat):
        return st.floats(-1e9, 1e9, allow_nan=False) | st.integers(-1000, 1000)
    if isinstance(field, IPv4Address):
        return st.ip_addresses(v=4).map(str)
    if isinstance(field, IPv6Address):
        return st.ip_addresses(v=6).map(str)
    if isinstance(field, IPv4Network):
        return _network(4)
    if isinstance(field, IPv6Network):
        return _network(6)
    if isinstance(field, fields.String):
        return _string_strategy(field)
    if isinstance(field, fields.List):
        return st.lists(valid_values(field.inner), max_size=3)
    if isinstance(field, fields.Dict):
        keys = valid_values(field.key_field) if field.key_field else st.text(max_size=5)
        vals = valid_values(field.value_field) if field.value_field else json_values
        return st.dictionaries(keys, vals, max_size=3)
    if isinstance(field, fields.Raw):
        return json_values
    if isinstance(field, DiskSpec):
        return disk_specs(field.require_size)
    if isinstance(field, NicSpec):
        return nic_specs
    if isinstance(field, DeviceModifications):
        return _modifications(field.device)
    if isinstance(field, RecreateDisks):
        pairs = st.tuples(st.integers(0, 15), disk_specs(False)).map(list)
        return st.lists(st.integers(0, 15), max_size=3) | st.lists(pairs, max_size=3)
    if isinstance(field, JobDependency):
        job_id = st.integers(0, 10**6) | st.integers(-5, -1) | st.integers(0, 99).map(str)
        statuses = st.lists(st.sampled_from(values.JOB_FINAL_STATUSES), max_size=3)
        return st.tuples(job_id, statuses).map(list)
    if isinstance(field, ReasonEntry):
        return st.tuples(short_text, short_text, st.integers(0, 2**62)).map(list)
    if isinstance(field, IntPair):
        return st.tuples(st.integers(0, 65535), st.integers(0, 65535)).map(list)
    if isinstance(field, OsListChange):
        return st.tuples(st.sampled_from(values.DDM_SIMPLE), names).map(list)
    if isinstance(field, ExportTarget):
        return names | st.lists(st.lists(json_scalars, max_size=5), max_size=2)
    if isinstance(field, CreateOpcodeList):
        return st.lists(opcode_dicts("OP_INSTANCE_CREATE", minimal=True), max_size=2)
    raise AssertionError(f"no strategy for {type(field).__name__}; add one to this test")


@functools.cache
def opcode_dicts(op_id: str, *, minimal: bool = False) -> st.SearchStrategy[dict[str, Any]]:
    """Valid serialised opcodes: required fields always, others only unless ``minimal``."""
    schema = opcode_schema(op_id)()
    required = {n: valid_values(f) for n, f in schema.fields.items() if f.required}
    optional = (
        {} if minimal else {n: valid_values(f) for n, f in schema.fields.items() if not f.required}
    )
    return st.fixed_dictionaries(required, optional=optional).map(
        lambda body: {"OP_ID": op_id, **body}
    )


# --- wrong values -------------------------------------------------------------


def wrong_values(field: fields.Field[Any]) -> list[Any]:
    """Values of the wrong type or shape for ``field`` (empty if it takes anything)."""
    out = _wrong_non_null(field)
    if out and not field.allow_none:
        out.append(None)
    return out


def _wrong_non_null(field: fields.Field[Any]) -> list[Any]:
    if isinstance(field, StrictBoolean):
        return ["yes", 1, "true", 0]
    if isinstance(field, StrictInteger):
        return ["abc", "5", 1.5, True]
    if isinstance(field, StrictFloat):
        return ["abc", True, [1.0]]
    if isinstance(field, IPv4Address | IPv6Address | IPv4Network | IPv6Network):
        return [5, "not-an-address", "10.0.0.1/33"]
    if isinstance(field, fields.String):
        out: list[Any] = [5, True, ["x"]]
        if _validators(field, validate.OneOf):
            out.append("no-such-choice")
        if _validators(field, validate.Regexp):
            out.append("Not A Name!")
        if any((v.min or 0) > 0 for v in _validators(field, validate.Length)):
            out.append("")
        return out
    if isinstance(field, fields.List):
        inner = _wrong_non_null(field.inner)
        return [5, "abc", {"a": 1}] + ([[inner[0]]] if inner else [])
    if isinstance(field, fields.Dict):
        out = [5, "abc", [1]]
        if field.value_field is not None:
            out.append({"k": _wrong_non_null(field.value_field)[0]})
        if field.key_field is not None and _validators(field.key_field, validate.OneOf):
            out.append({"no-such-key": {}})
        if field.key_field is not None and _validators(field.key_field, validate.Regexp):
            out.append({"Not A Name!": {}})
        return out
    if isinstance(field, fields.Raw):
        return []
    if isinstance(field, DiskSpec):
        out = [5, "abc", {"size": "abc"}, {"size": -1}, {"size": 1, "mode": "x"}]
        if field.require_size:
            out.append({})
        return out
    if isinstance(field, NicSpec):
        return [5, {"bogus": "x"}, {"ip": 5}]
    if isinstance(field, DeviceModifications):
        return [5, [5], [["bogus", 0, {}]], [["add"]]]
    if isinstance(field, RecreateDisks):
        return [5, [-1], [[0, 5]], ["x"]]
    if isinstance(field, JobDependency):
        return [5, ["x", ["success"]], [1, ["bogus"]], [1]]
    if isinstance(field, ReasonEntry):
        return [5, ["a", "b"], ["a", "b", "c"]]
    if isinstance(field, IntPair):
        return [5, [1], [1, "x"]]
    if isinstance(field, OsListChange):
        return [5, ["bogus", "os"], ["add", ""]]
    if isinstance(field, ExportTarget):
        return [5, "", {"a": 1}]
    if isinstance(field, CreateOpcodeList):
        return [5, [5], [{}], [{"OP_ID": "OP_INSTANCE_REMOVE"}]]
    raise AssertionError(f"no wrong values for {type(field).__name__}; add some to this test")


def _names_field(key: str, name: str) -> bool:
    return key == name or key.startswith((f"{name}.", f"{name}["))


# --- the properties -----------------------------------------------------------


def test_only_free_form_fields_lack_wrong_values() -> None:
    for op_id in OP_IDS:
        for name, field in opcode_schema(op_id)().fields.items():
            if not wrong_values(field):
                assert type(field) is fields.Raw, f"{op_id}.{name}"


# Each example covers every opcode (rather than parametrising over OP_IDs):
# pytest-twisted re-wraps a @given function once per parametrised item, which
# breaks the second and later items.


@settings(SETTINGS, max_examples=10)
@given(data=st.data())
def test_wrongly_typed_field_is_refused_and_named(data: st.DataObject) -> None:
    for op_id in OP_IDS:
        base = data.draw(opcode_dicts(op_id, minimal=True), label=f"minimal {op_id}")
        load_opcode(base)  # the minimal opcode itself is valid
        for name, field in opcode_schema(op_id)().fields.items():
            for bad in wrong_values(field):
                with pytest.raises(OpcodeValidationError) as info:
                    load_opcode({**base, name: bad})
                err = info.value
                assert err.op_id == op_id
                assert any(_names_field(key, name) for key in err.errors), (
                    op_id,
                    name,
                    bad,
                    err.errors,
                )
                assert f"{op_id}: {name}" in str(err), (name, bad, str(err))


@settings(SETTINGS, max_examples=40)
@given(data=st.data())
def test_valid_opcodes_round_trip(data: st.DataObject) -> None:
    for op_id in OP_IDS:
        raw = data.draw(opcode_dicts(op_id), label=op_id)
        op = load_opcode(raw)
        dumped = dump_opcode(op)
        assert dumped == op.to_dict()
        again = load_opcode(json.loads(json.dumps(dumped)))
        assert again == op
        assert dump_opcode(again) == dumped
