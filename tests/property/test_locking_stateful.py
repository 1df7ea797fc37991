"""Property: random lock traffic from many jobs never grants conflicting locks and never deadlocks.

A hypothesis state machine plays jobs that acquire (following the level
rules, with random names, modes, priorities, timeouts), release, get
cancelled, and lets time pass. After every step no two jobs may have
conflicting access to any object, and no waiting job may hold a lock that
comes after the one it waits for (the ordering that rules out cycles). At
the end, letting every job that is not
waiting finish (release everything) must, round after round, let every
waiting job through: if it ever stops with jobs still waiting, they were
deadlocked.
"""

from __future__ import annotations

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine
from hypothesis.stateful import invariant
from hypothesis.stateful import precondition
from hypothesis.stateful import rule
from twisted.internet import defer
from twisted.internet import task

from corral.locking import ALL
from corral.locking import Level
from corral.locking import LockError
from corral.locking import LockManager

JOBS = list(range(4))
NAMES = ["a", "b", "c"]
LEVELS = [Level.CLUSTER, Level.INSTANCE, Level.NODE]


class LockTraffic(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.clock = task.Clock()
        self.lm = LockManager(self.clock)
        self.waiting: dict[int, tuple[Level, defer.Deferred]] = {}

    def _idle(self, job: int) -> bool:
        return job not in self.waiting

    def _settle(self) -> None:
        for job, (level, d) in list(self.waiting.items()):
            if d.called:
                del self.waiting[job]
                failures: list = []
                d.addErrback(failures.append)
                if failures:  # timed out or cancelled: the call must hold nothing
                    assert self.lm.owned(job, level) == set(), (job, level)

    @rule(
        job=st.sampled_from(JOBS),
        level=st.sampled_from(LEVELS),
        names=st.one_of(st.just(ALL), st.sets(st.sampled_from(NAMES), min_size=1)),
        shared=st.booleans(),
        priority=st.sampled_from([-10, 0, 10]),
        timeout=st.sampled_from([None, None, 1.0, 3.0]),
        opportunistic=st.booleans(),
    )
    def acquire(self, job, level, names, shared, priority, timeout, opportunistic) -> None:
        if not self._idle(job):
            return
        if level is Level.CLUSTER:
            names = ALL
        held_levels = [lvl for lvl in LEVELS if self.lm.owned(job, lvl) not in (set(),)]
        d = defer.Deferred.fromCoroutine(
            self.lm.acquire(
                job, level, names, shared=shared, priority=priority, timeout=timeout,
                opportunistic=opportunistic and names is not ALL,
            )
        )  # fmt: skip
        if any(lvl >= level for lvl in held_levels):
            failures: list = []
            d.addErrback(failures.append)
            assert failures and isinstance(failures[0].value, LockError)
            return
        if not d.called:
            self.waiting[job] = (level, d)

    @rule(job=st.sampled_from(JOBS))
    def release_all(self, job) -> None:
        if self._idle(job):
            self.lm.release_all(job)
            self._settle()

    @rule(job=st.sampled_from(JOBS), level=st.sampled_from(LEVELS))
    def release_level(self, job, level) -> None:
        if self._idle(job):
            self.lm.release(job, level)
            self._settle()

    @precondition(lambda self: self.waiting)
    @rule(data=st.data())
    def cancel(self, data) -> None:
        job = data.draw(st.sampled_from(sorted(self.waiting)))
        self.waiting[job][1].cancel()
        self._settle()
        assert job not in self.waiting

    @rule(seconds=st.sampled_from([0.5, 1.0, 2.0]))
    def time_passes(self, seconds) -> None:
        self.clock.advance(seconds)
        self._settle()

    @invariant()
    def no_conflicting_access(self) -> None:
        for level in LEVELS:
            for name in NAMES:
                exclusive = [j for j in JOBS if self.lm.is_owned(j, level, name, exclusive=True)]
                shared = [j for j in JOBS if self.lm.is_owned(j, level, name)]
                assert len(exclusive) <= 1, (level, name, exclusive)
                if exclusive:
                    assert shared == exclusive, (level, name, exclusive, shared)

    @invariant()
    def waiters_hold_only_earlier_locks(self) -> None:
        # The discipline that makes cycles impossible: info() lists locks in lock
        # order, and a job waiting on one must hold nothing that comes after it.
        locks = self.lm.info()
        for index, lock in enumerate(locks):
            for _mode, waiter in lock.pending:
                later = [other.name for other in locks[index + 1 :] if waiter in other.owners]
                assert not later, f"job {waiter} waits on {lock.name} holding {later}"

    @invariant()
    def only_known_jobs_hold_locks(self) -> None:
        assert set(self.lm.owners()) <= set(JOBS)

    def teardown(self) -> None:
        for _round in range(len(JOBS) + 2):
            self._settle()
            if not self.waiting:
                break
            for job in JOBS:
                if self._idle(job):
                    self.lm.release_all(job)
            self._settle()
        assert not self.waiting, f"deadlock: jobs {sorted(self.waiting)} wait forever"
        for job in JOBS:
            self.lm.release_all(job)
        assert self.lm.info() == [], "a lock outlived every owner"


LockTraffic.TestCase.settings = settings(max_examples=600, stateful_step_count=40, deadline=None)
TestLockTraffic = LockTraffic.TestCase
