"""Schemas and objects describe the same fields; errors name the field."""

from __future__ import annotations

import dataclasses

import pytest
from marshmallow import ValidationError

from corral.config import objects
from corral.config.schemas import SCHEMA_FOR


@pytest.mark.parametrize("cls", list(SCHEMA_FOR), ids=lambda c: c.__name__)
def test_schema_and_dataclass_have_the_same_fields(cls) -> None:
    schema_fields = set(SCHEMA_FOR[cls]().fields)
    object_fields = {f.name for f in dataclasses.fields(cls)}
    assert schema_fields == object_fields


@pytest.mark.parametrize("cls", list(SCHEMA_FOR), ids=lambda c: c.__name__)
def test_schema_defaults_match_the_dataclass_defaults(cls) -> None:
    schema = SCHEMA_FOR[cls]()
    for field in dataclasses.fields(cls):
        if field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
            assert schema.fields[field.name].required, field.name
            continue
        if schema.fields[field.name].required:  # e.g. a file must state its version
            continue
        default = (
            field.default if field.default is not dataclasses.MISSING else field.default_factory()
        )
        loaded = schema.fields[field.name].load_default
        loaded = loaded() if callable(loaded) else loaded
        if isinstance(default, tuple):
            loaded = tuple(loaded)
        assert loaded == default, field.name


def test_objects_are_read_only(sample_config) -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        sample_config.cluster.cluster_name = "other"  # type: ignore[misc]


def test_touched_bumps_serial_and_mtime(sample_config) -> None:
    cluster = objects.touched(sample_config.cluster, 1234.5, candidate_pool_size=3)
    assert (cluster.serial_no, cluster.mtime, cluster.candidate_pool_size) == (2, 1234.5, 3)


@pytest.mark.parametrize(
    ("schema", "data", "path"),
    [
        ("NodeSchema", {"primary_ip": "1.2.3"}, "primary_ip"),
        ("NodeSchema", {"name": "bad name!"}, "name"),
        ("NodeSchema", {"ndparams": {"spindle_count": 0}}, "ndparams"),
        ("NodeSchema", {"ndparams": {"no_such": 1}}, "ndparams"),
        ("NodeSchema", {"master_candidate": True, "offline": True}, "_schema"),
        ("NodeGroupSchema", {"ipolicy": {"minmax": [{"min": {"cpu-count": 1}}]}}, "ipolicy"),
        ("NodeGroupSchema", {"alloc_policy": "sometimes"}, "alloc_policy"),
        ("NetworkSchema", {"network": "192.0.2.0/33"}, "network"),
        ("NetworkSchema", {"gateway": "2001:db8::1"}, "gateway"),
    ],
)
def test_bad_values_are_refused_naming_the_field(schema, data, path) -> None:
    from corral.config import schemas

    base = {
        "NodeSchema": {
            "uuid": "00000000-0000-4000-8000-000000000011",
            "name": "node1",
            "primary_ip": "192.0.2.1",
            "group": "00000000-0000-4000-8000-000000000001",
        },
        "NodeGroupSchema": {"uuid": "00000000-0000-4000-8000-000000000001", "name": "g"},
        "NetworkSchema": {
            "uuid": "00000000-0000-4000-8000-000000000002",
            "name": "net",
            "network": "192.0.2.0/24",
        },
    }[schema]
    with pytest.raises(ValidationError) as err:
        getattr(schemas, schema)().load({**base, **data})
    assert path in err.value.messages


def test_ipolicy_minmax_must_be_ordered() -> None:
    from corral.config.schemas import NodeGroupSchema

    low = dict.fromkeys(
        ["cpu-count", "disk-count", "disk-size", "memory-size", "nic-count", "spindle-use"], 1
    )
    high = {**low, "memory-size": 0}
    with pytest.raises(ValidationError) as err:
        NodeGroupSchema().load(
            {
                "uuid": "00000000-0000-4000-8000-000000000001",
                "name": "g",
                "ipolicy": {"minmax": [{"min": low, "max": high}]},
            }
        )
    assert "min is larger than max for memory-size" in str(err.value.messages)
