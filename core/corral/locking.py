"""The master's lock manager: which job may touch which object, and in what order.

Locks are organised in levels, acquired top to bottom (:class:`Level`):
cluster, node group, instance, node, node-res, network. At each level a
job names the objects it needs (sorted, all at once) or asks for the whole
level (:data:`ALL`), shared or exclusive.

Why no deadlock can happen: every lock has a place in one total order (its
level, then the level's own lock, then its name), a job takes locks only in
that order, and it cannot add locks at a level it already holds or at one
above. So a waiting job only ever waits for locks that come after every
lock it holds, and a cycle of waiting jobs cannot form.

"The whole level" is a lock of its own, taken with intention modes (as in
multi-granularity locking): a job that locks some instances holds the
instance level in *intention* mode (IS or IX), one that locks every
instance holds it in S or X. So "all instances, exclusively" waits for
every job holding any instance, and vice versa, without locking each name.

Waiters queue per lock by priority (Ganeti's: lower is more urgent), then
by arrival. The queue is strict: a request is granted only when every
request ahead of it was, so a stream of shared requests cannot starve an
exclusive one. All methods run on the reactor thread; waiting is
asynchronous, with an optional timeout, and cancelling the waiting
Deferred (a cancelled job) withdraws the request and gives back what the
call had already taken.
"""

from __future__ import annotations

import itertools
from bisect import insort
from dataclasses import dataclass
from dataclasses import field
from enum import IntEnum
from typing import TYPE_CHECKING
from typing import Final

from twisted.internet import defer

from corral.api.errors import CorralError

if TYPE_CHECKING:
    from collections.abc import Hashable
    from collections.abc import Iterable

    from twisted.internet.interfaces import IReactorTime


class Level(IntEnum):
    """Lock levels in the order they are acquired."""

    CLUSTER = 0
    NODEGROUP = 1
    INSTANCE = 2
    NODE = 3
    NODE_RES = 4
    NETWORK = 5

    @property
    def label(self) -> str:
        return self.name.lower().replace("_", "-")


class _AllNames:
    """Stands for every lock of a level (Ganeti's ``ALL_SET``)."""

    def __repr__(self) -> str:
        return "ALL"


#: Pass as ``names`` to lock a whole level.
ALL: Final = _AllNames()

#: The name under which the cluster level's single lock ("BGL") is known.
CLUSTER_LOCK: Final = "cluster"


class LockError(CorralError):
    """A lock request breaks the locking rules (a bug in the caller)."""


class LockTimeout(LockError):
    """The locks were not all granted within the timeout; none of them is held."""


class _Mode(IntEnum):
    IS = 0  # intention: will lock some names shared
    IX = 1  # intention: will lock some names exclusively
    S = 2  # shared
    X = 3  # exclusive


_COMPATIBLE: Final = {
    _Mode.IS: {_Mode.IS, _Mode.IX, _Mode.S},
    _Mode.IX: {_Mode.IS, _Mode.IX},
    _Mode.S: {_Mode.IS, _Mode.S},
    _Mode.X: set(),
}

# A lock's place in the total order: (level, 0, "") for a level's own lock,
# (level, 1, name) for a named lock of that level.
_Key = tuple[Level, int, str]


def _describe(key: _Key) -> str:
    level, kind, name = key
    return f"{level.label}/{'*' if kind == 0 else name}"


@dataclass(order=True)
class _Request:
    priority: int
    seq: int
    owner: Hashable = field(compare=False)
    mode: _Mode = field(compare=False)
    waiter: defer.Deferred[None] | None = field(default=None, compare=False)


@dataclass
class _Lock:
    holders: dict[Hashable, _Mode] = field(default_factory=dict)
    queue: list[_Request] = field(default_factory=list)

    def admits(self, owner: Hashable, mode: _Mode) -> bool:
        return all(mode in _COMPATIBLE[held] for o, held in self.holders.items() if o != owner)


@dataclass(frozen=True)
class LockInfo:
    """One lock as ``gnt-debug locks`` shows it."""

    name: str
    mode: str | None  # "shared", "exclusive", or None when free
    owners: tuple[str, ...]
    pending: tuple[tuple[str, str], ...]  # (mode, owner) of each waiter, in queue order


_MODE_LABEL: Final = {
    _Mode.IS: "shared",
    _Mode.IX: "shared",
    _Mode.S: "shared",
    _Mode.X: "exclusive",
}


class LockManager:
    """All locks of one master daemon."""

    def __init__(self, clock: IReactorTime) -> None:
        self._clock = clock
        self._locks: dict[_Key, _Lock] = {}
        self._owned: dict[Hashable, dict[_Key, _Mode]] = {}
        self._seq = itertools.count()

    # -- queries -----------------------------------------------------------------

    def owned(self, owner: Hashable, level: Level) -> set[str] | _AllNames:
        """What ``owner`` holds at ``level``: the names, or :data:`ALL`."""
        mine = self._owned.get(owner, {})
        if mine.get((level, 0, "")) in (_Mode.S, _Mode.X):
            return ALL
        return {key[2] for key in mine if key[0] == level and key[1] == 1}

    def is_owned(
        self, owner: Hashable, level: Level, name: str, *, exclusive: bool = False
    ) -> bool:
        """Whether ``owner`` may use object ``name`` of ``level`` (exclusively, if asked)."""
        mine = self._owned.get(owner, {})
        granted = {_Mode.X} if exclusive else {_Mode.S, _Mode.X}
        return mine.get((level, 0, "")) in granted or mine.get((level, 1, name)) in granted

    def owners(self) -> list[Hashable]:
        return list(self._owned)

    def info(self) -> list[LockInfo]:
        """Every lock that is held or waited for, in lock order."""
        out = []
        for key in sorted(self._locks):
            lock = self._locks[key]
            modes = set(lock.holders.values())
            mode = None
            if modes:
                mode = "exclusive" if _Mode.X in modes or _Mode.IX in modes else "shared"
            out.append(
                LockInfo(
                    name=_describe(key),
                    mode=mode,
                    owners=tuple(sorted(str(o) for o in lock.holders)),
                    pending=tuple((_MODE_LABEL[r.mode], str(r.owner)) for r in lock.queue),
                )
            )
        return out

    # -- acquiring ---------------------------------------------------------------

    def _plan(
        self, owner: Hashable, level: Level, names: Iterable[str] | _AllNames, shared: bool
    ) -> list[tuple[_Key, _Mode]]:
        held_levels = {k[0] for k in self._owned.get(owner, {})}
        deeper = sorted(lvl.label for lvl in held_levels if lvl >= level)
        if deeper:
            raise LockError(
                f"{owner} cannot acquire {level.label} locks while holding {', '.join(deeper)}"
                " locks: locks are taken level by level (cluster, nodegroup, instance, node,"
                " node-res, network), each level once"
            )
        if level is Level.CLUSTER and not isinstance(names, _AllNames):
            if set(names) != {CLUSTER_LOCK}:
                raise LockError(f"the cluster level has one lock, {CLUSTER_LOCK!r}")
            names = ALL
        if isinstance(names, _AllNames):
            return [((level, 0, ""), _Mode.S if shared else _Mode.X)]
        wanted = sorted(set(names))
        if not wanted:
            raise LockError(f"{owner} asked for no {level.label} lock")
        intention = _Mode.IS if shared else _Mode.IX
        mode = _Mode.S if shared else _Mode.X
        return [((level, 0, ""), intention)] + [((level, 1, n), mode) for n in wanted]

    async def acquire(
        self,
        owner: Hashable,
        level: Level,
        names: Iterable[str] | _AllNames,
        *,
        shared: bool = False,
        timeout: float | None = None,
        priority: int = 0,
        opportunistic: bool = False,
    ) -> set[str] | _AllNames:
        """Take locks at one level and return what is held.

        Waits until every lock is granted, or raises :class:`LockTimeout`
        after ``timeout`` seconds holding none of them. With
        ``opportunistic`` it never waits: it takes the named locks that are
        free now and returns those (possibly none), as allocations do.
        """
        plan = self._plan(owner, level, names, shared)
        if opportunistic:
            return self._acquire_now(owner, level, plan)
        deadline = None if timeout is None else self._clock.seconds() + timeout
        taken: list[_Key] = []
        try:
            for key, mode in plan:
                await self._take(owner, key, mode, priority, deadline)
                taken.append(key)
        except defer.TimeoutError:
            self._give_back(owner, taken)
            raise LockTimeout(
                f"{owner} did not get {level.label} locks {names!r} within {timeout} s"
            ) from None
        except BaseException:
            self._give_back(owner, taken)
            raise
        return self.owned(owner, level)

    def _acquire_now(
        self, owner: Hashable, level: Level, plan: list[tuple[_Key, _Mode]]
    ) -> set[str] | _AllNames:
        (level_key, level_mode), *named = plan
        if not self._grant_now(owner, level_key, level_mode):
            return set()
        got = [key for key, mode in named if self._grant_now(owner, key, mode)]
        if named and not got:
            self._give_back(owner, [level_key])
            return set()
        return self.owned(owner, level)

    def _grant_now(self, owner: Hashable, key: _Key, mode: _Mode) -> bool:
        lock = self._locks.setdefault(key, _Lock())
        if lock.queue or not lock.admits(owner, mode):
            self._forget_if_idle(key)
            return False
        self._hold(owner, key, mode)
        return True

    async def _take(
        self, owner: Hashable, key: _Key, mode: _Mode, priority: int, deadline: float | None
    ) -> None:
        lock = self._locks.setdefault(key, _Lock())
        request = _Request(priority, next(self._seq), owner, mode)

        def withdraw(waiting: defer.Deferred[None]) -> None:
            if request in lock.queue:
                lock.queue.remove(request)
                self._wake(key)  # the head may have been what blocked the others

        request.waiter = defer.Deferred(withdraw)
        insort(lock.queue, request)
        self._wake(key)
        if request.waiter.called:
            return
        if deadline is not None:
            remaining = deadline - self._clock.seconds()
            if remaining <= 0:
                request.waiter.cancel()
                raise defer.TimeoutError()
            request.waiter.addTimeout(remaining, self._clock)
        await request.waiter

    def _wake(self, key: _Key) -> None:
        """Grant queued requests in order, stopping at the first that must wait."""
        lock = self._locks.get(key)
        if lock is None:
            return
        granted = []
        while lock.queue and lock.admits(lock.queue[0].owner, lock.queue[0].mode):
            request = lock.queue.pop(0)
            self._hold(request.owner, key, request.mode)
            granted.append(request)
        self._forget_if_idle(key)
        # Fire only after the state is complete: a woken job may act at once.
        for request in granted:
            assert request.waiter is not None
            request.waiter.callback(None)

    def _hold(self, owner: Hashable, key: _Key, mode: _Mode) -> None:
        self._locks[key].holders[owner] = mode
        self._owned.setdefault(owner, {})[key] = mode

    # -- releasing ---------------------------------------------------------------

    def release(self, owner: Hashable, level: Level, names: Iterable[str] | None = None) -> None:
        """Give back ``names`` at ``level`` (all of the level when ``None``).

        Releasing every name of a level also gives back the level's own lock.
        """
        mine = self._owned.get(owner, {})
        if names is None:
            keys = [k for k in mine if k[0] == level]
        else:
            keys = [(level, 1, n) for n in names]
            missing = [k[2] for k in keys if k not in mine]
            if missing:
                raise LockError(f"{owner} does not hold {level.label} locks {missing}")
            if not any(k[0] == level and k[1] == 1 and k not in keys for k in mine):
                keys.append((level, 0, ""))
        self._give_back(owner, [k for k in keys if k in mine])

    def release_all(self, owner: Hashable) -> None:
        """Give back everything ``owner`` holds (a job ended, whatever its outcome)."""
        self._give_back(owner, list(self._owned.get(owner, {})))

    def _give_back(self, owner: Hashable, keys: list[_Key]) -> None:
        mine = self._owned.get(owner, {})
        for key in keys:
            if mine.pop(key, None) is not None:
                del self._locks[key].holders[owner]
        if not mine:
            self._owned.pop(owner, None)
        for key in sorted(keys):
            self._wake(key)

    def _forget_if_idle(self, key: _Key) -> None:
        lock = self._locks.get(key)
        if lock is not None and not lock.holders and not lock.queue:
            del self._locks[key]
