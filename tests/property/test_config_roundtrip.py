"""Property: any consistent config survives dump -> JSON -> load unchanged."""

from __future__ import annotations

import dataclasses
import json

from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings

from corral.config.check import CheckMemo
from corral.config.check import check_config
from corral.config.schemas import SCHEMA_FOR
from corral.config.store import ConfigStore
from corral.config.store import DocumentEncoder
from corral.config.store import parse
from corral.config.store import serialize
from corral.testing.strategies import configs

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(configs())
def test_generated_configs_are_consistent(cfg) -> None:
    assert check_config(cfg) == []


@SETTINGS
@given(configs())
def test_config_round_trips_through_json(cfg) -> None:
    assert parse(json.loads(serialize(cfg))) == cfg


@SETTINGS
@given(configs())
def test_serialisation_is_deterministic(cfg) -> None:
    assert serialize(parse(json.loads(serialize(cfg)))) == serialize(cfg)


@SETTINGS
@given(configs())
def test_every_object_round_trips_alone(cfg) -> None:
    objs = [cfg.cluster, *cfg.nodegroups.values(), *cfg.nodes.values(), *cfg.networks.values()]
    for inst in cfg.instances.values():
        objs += [inst, *inst.disks, *inst.nics]
    for obj in objs:
        schema = SCHEMA_FOR[type(obj)]()
        assert schema.load(json.loads(json.dumps(schema.dump(obj)))) == obj


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(configs())
def test_store_round_trip(tmp_path, cfg) -> None:
    store = ConfigStore(tmp_path / "config.data")
    store.save(cfg)
    assert store.load() == cfg


@SETTINGS
@given(configs(), configs())
def test_incremental_encoding_is_byte_for_byte_serialize(first, second) -> None:
    """The config writer's encoder gives serialize()'s bytes, also after changes."""
    encoder = DocumentEncoder()
    assert encoder.encode(first) == serialize(first)
    # The second config shares no objects with the first; a mix shares some.
    assert encoder.encode(second) == serialize(second)
    mixed = dataclasses.replace(second, instances={**first.instances, **second.instances})
    assert encoder.encode(mixed) == serialize(mixed)
    assert encoder.encode(mixed) == serialize(mixed)  # all hits now


@SETTINGS
@given(configs())
def test_a_memo_gives_the_full_check(cfg) -> None:
    memo = CheckMemo()
    assert check_config(cfg, memo=memo) == check_config(cfg) == []
    if cfg.instances:
        uuid, inst = next(iter(cfg.instances.items()))
        bad = dataclasses.replace(inst, beparams={**inst.beparams, "vcpus": 0})
        broken = dataclasses.replace(cfg, instances={**cfg.instances, uuid: bad})
        assert check_config(broken, memo=memo) == check_config(broken) != []
        assert check_config(cfg, memo=memo) == []  # the old object is not mistaken for the new
