"""The lock manager: modes, levels, order rules, priorities, timeouts, cancellation."""

from __future__ import annotations

import pytest
from twisted.internet import defer
from twisted.internet import task

from corral.locking import ALL
from corral.locking import Level
from corral.locking import LockError
from corral.locking import LockManager
from corral.locking import LockTimeout

INST, NODE = Level.INSTANCE, Level.NODE


@pytest.fixture
def clock() -> task.Clock:
    return task.Clock()


@pytest.fixture
def lm(clock) -> LockManager:
    return LockManager(clock)


def start(lm: LockManager, owner, level, names, **kw) -> defer.Deferred:
    return defer.Deferred.fromCoroutine(lm.acquire(owner, level, names, **kw))


def error_of(d: defer.Deferred) -> BaseException:
    """The exception a failed Deferred holds (and consume it)."""
    failures: list = []
    d.addErrback(failures.append)
    assert failures, "the call did not fail"
    return failures[0].value


def test_shared_locks_coexist_exclusive_waits(lm) -> None:
    a = start(lm, 1, INST, ["web1"], shared=True)
    b = start(lm, 2, INST, ["web1"], shared=True)
    c = start(lm, 3, INST, ["web1"])
    assert a.called and b.called and not c.called
    lm.release_all(1)
    assert not c.called
    lm.release_all(2)
    assert c.called and lm.owned(3, INST) == {"web1"}


def test_different_names_do_not_conflict(lm) -> None:
    assert start(lm, 1, INST, ["web1"]).called
    assert start(lm, 2, INST, ["web2"]).called


def test_whole_level_conflicts_with_any_name(lm) -> None:
    assert start(lm, 1, INST, ["web1"]).called
    everything = start(lm, 2, INST, ALL)
    assert not everything.called
    lm.release_all(1)
    assert everything.called and lm.owned(2, INST) is ALL
    assert not start(lm, 3, INST, ["web9"], shared=True).called


def test_shared_level_allows_shared_names_only(lm) -> None:
    assert start(lm, 1, INST, ALL, shared=True).called
    assert start(lm, 2, INST, ["web1"], shared=True).called
    assert not start(lm, 3, INST, ["web1"]).called


def test_exclusive_waiter_is_not_starved_by_later_shared(lm) -> None:
    start(lm, 1, INST, ["web1"], shared=True)
    writer = start(lm, 2, INST, ["web1"])
    late_reader = start(lm, 3, INST, ["web1"], shared=True)
    assert not writer.called and not late_reader.called
    lm.release_all(1)
    assert writer.called and not late_reader.called
    lm.release_all(2)
    assert late_reader.called


def test_priority_reorders_waiters(lm) -> None:
    start(lm, 1, INST, ["web1"])
    low = start(lm, 2, INST, ["web1"], priority=10)
    high = start(lm, 3, INST, ["web1"], priority=-10)
    lm.release_all(1)
    assert high.called and not low.called


def test_levels_go_downwards_only(lm) -> None:
    assert start(lm, 1, NODE, ["node1"]).called
    err = error_of(start(lm, 1, INST, ["web1"]))
    assert isinstance(err, LockError)
    assert "cannot acquire instance locks while holding node locks" in str(err)


def test_a_level_is_acquired_once(lm) -> None:
    start(lm, 1, INST, ["web1"])
    assert isinstance(error_of(start(lm, 1, INST, ["web2"])), LockError)


def test_timeout_gives_back_what_the_call_took(lm, clock) -> None:
    start(lm, 1, INST, ["web2"])
    waiting = start(lm, 2, INST, ["web1", "web2"], timeout=5)
    assert lm.owned(2, INST) == {"web1"}
    clock.advance(5)
    assert isinstance(error_of(waiting), LockTimeout)
    assert lm.owners() == [1]
    assert start(lm, 3, INST, ["web1"]).called


def test_cancelling_a_waiting_job_withdraws_and_unblocks_those_behind(lm) -> None:
    start(lm, 1, INST, ["web1"], shared=True)
    writer = start(lm, 2, INST, ["web1"])
    reader = start(lm, 3, INST, ["web1"], shared=True)
    assert not reader.called
    writer.cancel()
    assert isinstance(error_of(writer), defer.CancelledError)
    assert reader.called  # the writer at the head was all that held it back
    assert 2 not in lm.owners()


def test_opportunistic_takes_what_is_free(lm) -> None:
    start(lm, 1, NODE, ["node2"])
    got = start(lm, 2, NODE, ["node1", "node2", "node3"], opportunistic=True)
    assert got.result == {"node1", "node3"}
    none = start(lm, 3, NODE, ["node2"], opportunistic=True)
    assert none.result == set() and 3 not in lm.owners()


def test_release_some_names_keeps_the_level(lm) -> None:
    start(lm, 1, NODE, ["node1", "node2"])
    lm.release(1, NODE, ["node1"])
    assert lm.owned(1, NODE) == {"node2"}
    assert start(lm, 2, NODE, ["node1"]).called
    lm.release(1, NODE, ["node2"])
    assert 1 not in lm.owners()
    with pytest.raises(LockError, match="does not hold node locks"):
        lm.release(1, NODE, ["node9"])


def test_cluster_lock_and_info(lm) -> None:
    start(lm, 1, Level.CLUSTER, ["cluster"], shared=True)
    start(lm, 1, INST, ["web1"])
    start(lm, 2, INST, ["web1"], shared=True, priority=5)
    info = {i.name: i for i in lm.info()}
    assert info["cluster/*"].mode == "shared" and info["cluster/*"].owners == ("1",)
    assert info["instance/web1"].mode == "exclusive"
    assert info["instance/web1"].pending == (("shared", "2"),)
    assert lm.is_owned(1, INST, "web1", exclusive=True)
    assert not lm.is_owned(2, INST, "web1")


def test_locks_are_forgotten_when_idle(lm) -> None:
    start(lm, 1, INST, ["web1"])
    lm.release_all(1)
    assert lm.info() == []


def test_priority_jump_cannot_deadlock_thanks_to_name_order(lm) -> None:
    """A cycle would need two jobs taking the same names in different orders, closed by a
    higher-priority waiter overtaking the queue. Names are taken sorted, so job 2 (which
    asked for b, a) queues on a before taking b, and job 3 overtaking it is harmless."""
    start(lm, 1, INST, ["a"])  # X holds a
    low = start(lm, 2, INST, ["b", "a"], priority=10)  # takes a first (sorted), queues on a
    high = start(lm, 3, INST, ["a", "b"], priority=-10)  # jumps ahead on a
    assert lm.owned(2, INST) == set() and not low.called and not high.called
    lm.release_all(1)
    assert high.called and lm.owned(3, INST) == {"a", "b"}
    lm.release_all(3)
    assert low.called and lm.owned(2, INST) == {"a", "b"}
