"""The opcode processor: LU steps in order, locks always released, hooks honoured."""

from __future__ import annotations

import pytest
from twisted.internet import defer
from twisted.internet import task

from corral.api import HookVeto
from corral.api import OpExecError
from corral.api import OpPrereqError
from corral.api import hookimpl
from corral.cmdlib.base import LUContext
from corral.cmdlib.processor import Processor
from corral.locking import ALL
from corral.locking import Level
from corral.locking import LockManager
from corral.opcodes import make_opcode
from corral.plugins.manager import build_plugin_manager


@pytest.fixture
def clock() -> task.Clock:
    return task.Clock()


@pytest.fixture
def locks(clock) -> LockManager:
    return LockManager(clock)


def run(processor, clock, locks, op, job_id=1, log=None):
    ctx = LUContext(clock, locks, job_id, (log if log is not None else []).append)
    return defer.Deferred.fromCoroutine(processor.run(ctx, op))


def processor(*plugins) -> Processor:
    return Processor(build_plugin_manager({"GNT_DISABLE_PLUGIN_AUTOLOAD": "1"}, plugins))


def error_of(d):
    failures: list = []
    d.addErrback(failures.append)
    assert failures, "no failure"
    return failures[0].value


def test_delay_sleeps_on_the_clock_and_logs_iterations(clock, locks) -> None:
    log: list[str] = []
    d = run(
        processor(), clock, locks, make_opcode("OP_TEST_DELAY", duration=2.0, repeat=1), log=log
    )
    assert not d.called and locks.owned(1, Level.CLUSTER) is ALL
    clock.advance(2)
    assert not d.called
    clock.advance(2)
    assert d.called and d.result is None
    assert log == ["Test delay iteration 1/2", "Test delay iteration 2/2"]
    assert locks.owners() == []


def test_delays_share_the_cluster_lock(clock, locks) -> None:
    p = processor()
    first = run(p, clock, locks, make_opcode("OP_TEST_DELAY", duration=1.0), job_id=1)
    second = run(p, clock, locks, make_opcode("OP_TEST_DELAY", duration=1.0), job_id=2)
    clock.advance(1)
    assert first.called and second.called


def test_failure_during_execution_releases_locks(clock, locks) -> None:
    d = run(processor(), clock, locks, make_opcode("OP_TEST_DELAY", duration=-1.0))
    assert isinstance(error_of(d), OpExecError)
    assert locks.owners() == []


def test_node_delays_without_a_cluster_are_refused_clearly(clock, locks) -> None:
    d = run(processor(), clock, locks, make_opcode("OP_TEST_DELAY", duration=1.0, on_nodes=["n1"]))
    assert "without a cluster config: create one with 'gnt-cluster init'" in str(error_of(d))
    assert locks.owners() == []


def test_unimplemented_opcode(clock, locks) -> None:
    d = run(
        processor(), clock, locks, make_opcode("OP_BACKUP_PREPARE", instance_name="x", mode="local")
    )
    err = error_of(d)
    assert isinstance(err, OpPrereqError) and "OP_BACKUP_PREPARE is not implemented" in str(err)


def test_pre_hook_veto_stops_before_execution(clock, locks) -> None:
    class Veto:
        @hookimpl
        def corral_opcode_pre(self, op, env):
            raise HookVeto(f"no {env['GANETI_OP_CODE']} today")

    log: list[str] = []
    d = run(
        processor(Veto()),
        clock,
        locks,
        make_opcode("OP_TEST_DELAY", duration=0.0, repeat=1),
        log=log,
    )
    assert str(error_of(d)) == "no OP_TEST_DELAY today"
    assert log == [] and locks.owners() == []


def test_async_pre_hook_is_awaited(clock, locks) -> None:
    class Slow:
        @hookimpl
        def corral_opcode_pre(self, op, env):
            return task.deferLater(clock, 5, lambda: None)

    d = run(processor(Slow()), clock, locks, make_opcode("OP_TEST_DELAY", duration=0.0))
    assert not d.called
    clock.advance(5)
    assert d.called


def test_failing_post_hook_is_a_warning(clock, locks) -> None:
    class Broken:
        @hookimpl
        def corral_opcode_post(self, op, env, result):
            raise RuntimeError("mail server down")

    seen = []

    class Recorder:
        @hookimpl
        def corral_opcode_post(self, op, env, result):
            seen.append(op.OP_ID)

    log: list[str] = []
    d = run(
        processor(Broken(), Recorder()),
        clock,
        locks,
        make_opcode("OP_TEST_DELAY", duration=0.0),
        log=log,
    )
    assert d.called and d.result is None
    assert seen == ["OP_TEST_DELAY"]
    assert any(
        "WARNING: post hook of plugin" in line and "mail server down" in line for line in log
    )


def test_cancelled_opcode_releases_its_locks(clock, locks) -> None:
    d = run(processor(), clock, locks, make_opcode("OP_TEST_DELAY", duration=10.0))
    assert locks.owners() == [1]
    d.cancel()
    assert isinstance(error_of(d), defer.CancelledError)
    assert locks.owners() == []
