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


class HeldNodes:
    """Stands in for the RPC client: records each config push and holds the first one."""

    def __init__(self) -> None:
        self.pushes: list[int] = []
        self.release: defer.Deferred[None] = defer.Deferred()

    async def call_many(self, targets, method, args=None, timeout=None, *, document=None):
        from corral.rpc.client import NodeResult

        if method == "config_push":
            self.pushes.append(args["serial"])
            if len(self.pushes) == 1:
                await self.release
        return {t.name: NodeResult(t.name, result=0) for t in targets}


@async_test
async def test_the_next_change_is_written_while_the_last_is_pushed(
    reactor, tmp_path, sample_config
) -> None:
    from twisted.internet import task

    assert len(sample_config.nodes) > 1, "needs a node besides the master"
    store = ConfigStore(tmp_path / "config.data")
    nodes = HeldNodes()
    writer = ConfigWriter(sample_config, store, tmp_path, rpc=nodes)  # type: ignore[arg-type]
    first = defer.Deferred.fromCoroutine(writer.update(tag("a")))
    await task.deferLater(reactor, 0.05, lambda: None)
    second = defer.Deferred.fromCoroutine(writer.update(tag("b")))
    for _ in range(100):  # "b" is checked and written here while "a" is still being pushed
        if store.load().serial_no == sample_config.serial_no + 2:
            break
        await task.deferLater(reactor, 0.01, lambda: None)
    assert store.load().cluster.tags == ("a", "b")
    assert not first.called and not second.called  # neither is told before its push
    assert nodes.pushes == [sample_config.serial_no + 1]  # "b" waits for "a"'s push
    nodes.release.callback(None)
    assert (await first).cluster.tags == ("a",)
    assert (await second).cluster.tags == ("a", "b")
    assert nodes.pushes == [sample_config.serial_no + 1, sample_config.serial_no + 2]
