"""The config writer's group commit: concurrent changes share a write; a bad one fails alone."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

import pytest
from twisted.internet import defer

from corral.api import ConfigError
from corral.config.store import ConfigStore
from corral.config.writer import ConfigWriter
from corral.testing import async_test

if TYPE_CHECKING:
    from corral.config import objects as o


def tag(name: str):
    def change(cfg: o.ConfigData) -> o.ConfigData:
        cluster = dataclasses.replace(cfg.cluster, tags=(*cfg.cluster.tags, name))
        return dataclasses.replace(cfg, cluster=cluster)

    return change


def break_it(cfg: o.ConfigData) -> o.ConfigData:
    """Point an instance at a node that does not exist: the check refuses the result."""
    inst = next(iter(cfg.instances.values()))
    bad = dataclasses.replace(inst, primary_node="00000000-0000-4000-8000-0000000000ff")
    return dataclasses.replace(cfg, instances={**cfg.instances, inst.uuid: bad})


def writer_for(cfg: o.ConfigData, tmp_path) -> tuple[ConfigWriter, list[int]]:
    store = ConfigStore(tmp_path / "config.data")
    writes: list[int] = []
    original = store.write

    def counting(data: bytes) -> None:
        writes.append(len(data))
        original(data)

    store.write = counting  # type: ignore[method-assign]
    return ConfigWriter(cfg, store, tmp_path), writes


@async_test
async def test_concurrent_changes_share_one_write(reactor, tmp_path, sample_config) -> None:
    writer, writes = writer_for(sample_config, tmp_path)
    first = defer.Deferred.fromCoroutine(writer.update(tag("a")))
    rest = [defer.Deferred.fromCoroutine(writer.update(tag(n))) for n in "bcd"]
    results = await defer.gatherResults([first, *rest])
    assert results[-1].cluster.tags == ("a", "b", "c", "d")
    assert len(writes) == 2  # "a" alone, then b, c and d together
    assert results[0].serial_no == sample_config.serial_no + 1
    assert all(r.serial_no == sample_config.serial_no + 2 for r in results[1:])
    stored = ConfigStore(tmp_path / "config.data").load()
    assert stored.cluster.tags == ("a", "b", "c", "d")


@async_test
async def test_a_bad_change_fails_alone(reactor, tmp_path, sample_config) -> None:
    writer, _ = writer_for(sample_config, tmp_path)
    first = defer.Deferred.fromCoroutine(writer.update(tag("a")))
    good = defer.Deferred.fromCoroutine(writer.update(tag("b")))
    bad = defer.Deferred.fromCoroutine(writer.update(break_it))
    late = defer.Deferred.fromCoroutine(writer.update(tag("c")))
    await first
    assert (await good).cluster.tags[:2] == ("a", "b")
    with pytest.raises(ConfigError, match="inconsistent"):
        await bad
    assert (await late).cluster.tags == ("a", "b", "c")
    assert ConfigStore(tmp_path / "config.data").load().cluster.tags == ("a", "b", "c")


@async_test
async def test_a_change_that_raises_fails_alone(reactor, tmp_path, sample_config) -> None:
    writer, _ = writer_for(sample_config, tmp_path)

    def boom(cfg: o.ConfigData) -> o.ConfigData:
        raise ValueError("no such thing")

    first = defer.Deferred.fromCoroutine(writer.update(tag("a")))
    failing = defer.Deferred.fromCoroutine(writer.update(boom))
    other = defer.Deferred.fromCoroutine(writer.update(tag("b")))
    await first
    with pytest.raises(ValueError, match="no such thing"):
        await failing
    assert (await other).cluster.tags == ("a", "b")
