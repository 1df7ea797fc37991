"""The job queue in-process: hook notifications and cancelling a job that waits for locks."""

from __future__ import annotations

from twisted.internet import task

from corral.api import hookimpl
from corral.cmdlib.processor import Processor
from corral.jobs.queue import JobQueue
from corral.jobs.store import JobStore
from corral.locking import ALL
from corral.locking import Level
from corral.locking import LockManager
from corral.plugins.manager import build_plugin_manager
from corral.testing import async_test

DELAY = {"OP_ID": "OP_TEST_DELAY", "duration": 0.0}


def make_queue(reactor, tmp_path, *plugins) -> tuple[JobQueue, LockManager]:
    pm = build_plugin_manager({"GNT_DISABLE_PLUGIN_AUTOLOAD": "1"}, plugins)
    locks = LockManager(reactor)
    return JobQueue(reactor, JobStore(tmp_path / "queue"), Processor(pm), locks, pm), locks


async def until_final(reactor, queue: JobQueue, job_id: int) -> str:
    for _ in range(500):
        status = queue.query([job_id], ["status"])[0][0]
        if status in ("success", "error", "canceled"):
            return str(status)
        await task.deferLater(reactor, 0.01, lambda: None)
    raise AssertionError(f"job {job_id} did not finish")


@async_test
async def test_hook_sees_every_status_change_after_it_is_saved(reactor, tmp_path) -> None:
    seen: list[tuple[int, str | None, str]] = []

    class Recorder:
        @hookimpl
        def corral_job_state_changed(self, job, old, new):
            seen.append((job, old, new))

    queue, _ = make_queue(reactor, tmp_path, Recorder())
    await queue.start()
    job_id = await queue.submit([DELAY])
    assert await until_final(reactor, queue, job_id) == "success"
    await task.deferLater(reactor, 0.05, lambda: None)  # the final write's notification
    statuses = [new for _, _, new in seen]
    # Each transition once, in order, each from the one announced before it. A quick,
    # idempotent opcode's "running" may be coalesced into its final write and not
    # announced on its own.
    assert statuses in (
        ["queued", "waiting", "running", "success"],
        ["queued", "waiting", "success"],
    )
    assert [old for _, old, _ in seen] == [None, *statuses[:-1]]
    assert {job for job, _, _ in seen} == {job_id}


@async_test
async def test_cancel_while_waiting_for_locks_never_runs_and_frees_everything(
    reactor, tmp_path
) -> None:
    queue, locks = make_queue(reactor, tmp_path)
    await queue.start()
    # Someone else holds the cluster lock exclusively: the delay must wait for it.
    await locks.acquire("maintenance", Level.CLUSTER, ALL)
    job_id = await queue.submit([{**DELAY, "repeat": 2}])
    await task.deferLater(reactor, 0.05, lambda: None)
    assert queue.query([job_id], ["status"])[0][0] == "waiting"
    ok, message = await queue.cancel(job_id)
    assert ok and message == f"Job {job_id} canceled"
    assert await until_final(reactor, queue, job_id) == "canceled"
    oplog, opexec = queue.query([job_id], ["oplog", "opexec"])[0]
    assert oplog == [[]] and opexec == [None]
    assert locks.owners() == ["maintenance"]
    locks.release_all("maintenance")
    assert locks.info() == []


@async_test
async def test_failed_dependency_fails_the_job_with_a_reason(reactor, tmp_path) -> None:
    queue, _ = make_queue(reactor, tmp_path)
    await queue.start()
    bad = await queue.submit([{**DELAY, "duration": -1.0}])
    follower = await queue.submit([{**DELAY, "depends": [[bad, ["success"]]]}])
    assert await until_final(reactor, queue, bad) == "error"
    assert await until_final(reactor, queue, follower) == "error"
    result = queue.query([follower], ["opresult"])[0][0][0]
    assert result == f"dependency job {bad} ended as error, not one of success"
