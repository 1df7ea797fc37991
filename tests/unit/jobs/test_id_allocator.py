"""Job ids: reserved in durable blocks, handed out once, even when requests interleave."""

from __future__ import annotations

from twisted.internet import defer

from corral.jobs import queue as queue_module
from corral.jobs.queue import _IdAllocator


class SlowStore:
    """allocate_ids answers only when the test says so (a slow fsync)."""

    def __init__(self) -> None:
        self.last = 0
        self.calls: list[int] = []

    def allocate_ids(self, count: int) -> list[int]:
        self.calls.append(count)
        ids = list(range(self.last + 1, self.last + count + 1))
        self.last += count
        return ids


def test_interleaved_requests_never_share_an_id(monkeypatch) -> None:
    pending: list[tuple[defer.Deferred, object, tuple]] = []

    def deferred_thread(func, *args):
        d: defer.Deferred = defer.Deferred()
        pending.append((d, func, args))
        return d

    monkeypatch.setattr(queue_module.threads, "deferToThread", deferred_thread)
    store = SlowStore()
    allocator = _IdAllocator(store)  # type: ignore[arg-type]
    got: list[list[int]] = []
    allocator.allocate(1).addCallback(got.append)  # starts a reservation
    allocator.allocate(2).addCallback(got.append)  # waits for it
    d, func, args = pending.pop()
    d.callback(func(*args))  # the reservation lands
    for _ in range(70):  # spare ids, then a second block while more requests arrive
        allocator.allocate(1).addCallback(got.append)
        if pending:
            allocator.allocate(3).addCallback(got.append)
            d, func, args = pending.pop()
            d.callback(func(*args))
    flat = [i for ids in got for i in ids]
    assert len(flat) == len(set(flat)), "an id was handed out twice"
    assert store.calls[0] == _IdAllocator.BLOCK
