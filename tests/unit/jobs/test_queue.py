"""The job queue in-process: hook notifications, cancelling and killing jobs."""

from __future__ import annotations

import os

import pytest
from twisted.internet import defer
from twisted.internet import task

from corral.api import OpPrereqError
from corral.api import ProcessRunner
from corral.api import hookimpl
from corral.cmdlib.processor import Processor
from corral.cmdlib.test import LUTestDelay
from corral.jobs import queue as queue_module
from corral.jobs.model import KILLED_RESULT
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


async def until_status(reactor, queue: JobQueue, job_id: int, wanted: str) -> None:
    for _ in range(500):
        if queue.query([job_id], ["status"])[0][0] == wanted:
            return
        await task.deferLater(reactor, 0.01, lambda: None)
    raise AssertionError(f"job {job_id} never became {wanted}")


@async_test
async def test_kill_stops_a_running_job_at_once_and_frees_everything(
    reactor, tmp_path, monkeypatch
) -> None:
    seen: list[tuple[int, str | None, str]] = []

    class Recorder:
        @hookimpl
        def corral_job_state_changed(self, job, old, new):
            seen.append((job, old, new))

    # Held exclusively, the cluster lock shows whether the kill gave it back.
    monkeypatch.setattr(LUTestDelay, "REQ_BGL", True)
    queue, locks = make_queue(reactor, tmp_path, Recorder())
    await queue.start()
    job_id = await queue.submit([DELAY, {**DELAY, "duration": 30.0}, DELAY])
    await until_status(reactor, queue, job_id, "running")
    assert locks.owners() == [job_id]
    started = reactor.seconds()
    ok, message = await queue.cancel(job_id, True)
    assert ok and message == f"Job {job_id} killed"
    assert reactor.seconds() - started < 5
    expected = [["success", "error", "error"], [None, KILLED_RESULT, KILLED_RESULT]]
    # Final when the answer comes: in memory, on disk, for watchers.
    assert queue.query([job_id], ["opstatus", "opresult"])[0] == expected
    on_disk = JobStore(tmp_path / "queue").load(job_id)
    assert [str(op.status) for op in on_disk.ops] == expected[0]
    assert [op.result for op in on_disk.ops] == expected[1]
    assert on_disk.end_timestamp is not None
    assert locks.owners() == [] and locks.info() == []
    assert not [c for c in reactor.getDelayedCalls() if c.getTime() > reactor.seconds() + 10]
    statuses = [new for _, _, new in seen]
    assert statuses.count("error") == 1 and statuses[-1] == "error"
    # The next job takes the same lock and runs.
    follower = await queue.submit([DELAY])
    assert await until_final(reactor, queue, follower) == "success"
    assert (await queue.cancel(job_id, True)) == [
        False,
        f"Job {job_id} is error and cannot be killed",
    ]


@async_test
async def test_kill_of_a_pending_job_is_a_plain_cancel(reactor, tmp_path) -> None:
    queue, locks = make_queue(reactor, tmp_path)
    await queue.start()
    await locks.acquire("maintenance", Level.CLUSTER, ALL)
    waiting = await queue.submit([DELAY])
    await until_status(reactor, queue, waiting, "waiting")
    queue.max_running = 1
    queued = await queue.submit([DELAY])
    for job_id in (waiting, queued):
        assert (await queue.cancel(job_id, True)) == [True, f"Job {job_id} canceled"]
        assert queue.query([job_id], ["status", "opresult"])[0] == [
            "canceled",
            ["Job canceled by request"],
        ]
    assert locks.owners() == ["maintenance"]
    locks.release_all("maintenance")


@async_test
async def test_kill_of_a_canceling_job_stops_it(reactor, tmp_path) -> None:
    queue, locks = make_queue(reactor, tmp_path)
    await queue.start()
    job_id = await queue.submit([{**DELAY, "duration": 30.0}, DELAY])
    await until_status(reactor, queue, job_id, "running")
    ok, _ = await queue.cancel(job_id)
    assert ok and queue.query([job_id], ["status"])[0][0] == "canceling"
    assert (await queue.cancel(job_id)) == [
        False,
        f"Job {job_id} is canceling and cannot be canceled",
    ]
    assert (await queue.cancel(job_id, True)) == [True, f"Job {job_id} killed"]
    assert queue.query([job_id], ["opstatus", "opresult"])[0] == [
        ["error", "error"],
        [KILLED_RESULT, KILLED_RESULT],
    ]
    assert locks.info() == []


@async_test
async def test_kill_terminates_the_child_process_of_the_opcode(reactor, tmp_path) -> None:
    pid_file = tmp_path / "pid"

    class SlowHook:
        @hookimpl
        def corral_opcode_pre(self, op, env):
            script = f"echo $$ > {pid_file}; exec sleep 30"
            return defer.Deferred.fromCoroutine(
                ProcessRunner(reactor).run(["/bin/sh", "-c", script])
            )

    queue, locks = make_queue(reactor, tmp_path, SlowHook())
    await queue.start()
    job_id = await queue.submit([DELAY])
    for _ in range(500):
        if pid_file.exists() and pid_file.read_text().strip():
            break
        await task.deferLater(reactor, 0.01, lambda: None)
    pid = int(pid_file.read_text())
    # A second kill while the first is under way waits for the same end.
    kills = [defer.Deferred.fromCoroutine(queue.cancel(job_id, True)) for _ in range(2)]
    answers = await defer.gatherResults(kills)
    assert answers == [[True, f"Job {job_id} killed"]] * 2
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert queue.query([job_id], ["opresult"])[0][0] == [KILLED_RESULT]
    assert locks.info() == []


@async_test
async def test_kill_while_the_running_state_is_written_stops_the_opcode(
    reactor, tmp_path, monkeypatch
) -> None:
    # A non-idempotent opcode waits for "running" to be on disk before it starts;
    # a kill in that wait must stop it, not be taken for the end of the write.
    monkeypatch.setattr(LUTestDelay, "IDEMPOTENT", False)
    queue, locks = make_queue(reactor, tmp_path)
    await queue.start()
    files = queue._files
    real_persist = files.persist
    held: list[defer.Deferred[None]] = []

    def slow_running_write(job, **kwargs):
        written = real_persist(job, **kwargs)
        if str(job.status) != "running":
            return written
        late: defer.Deferred[None] = defer.Deferred()
        held.append(late)
        return late.addCallback(lambda _: written)

    monkeypatch.setattr(files, "persist", slow_running_write)
    job_id = await queue.submit([{**DELAY, "repeat": 1}])
    for _ in range(500):
        if held:
            break
        await task.deferLater(reactor, 0.01, lambda: None)
    assert (await queue.cancel(job_id, True)) == [True, f"Job {job_id} killed"]
    held[0].callback(None)
    status, oplog, opresult = queue.query([job_id], ["status", "oplog", "opresult"])[0]
    assert (status, oplog, opresult) == ("error", [[]], [KILLED_RESULT])
    assert locks.info() == []


@async_test
async def test_kill_answers_in_time_even_if_the_opcode_is_slow_to_stop(
    reactor, tmp_path, monkeypatch
) -> None:
    class SlowToStop:
        @hookimpl
        def corral_opcode_pre(self, op, env):
            async def wait() -> None:
                try:
                    await task.deferLater(reactor, 30, lambda: None)
                except defer.CancelledError:
                    await task.deferLater(reactor, 0.5, lambda: None)  # a long clean-up
                    raise

            return defer.Deferred.fromCoroutine(wait())

    monkeypatch.setattr(queue_module, "KILL_WAIT", 0.1)
    queue, locks = make_queue(reactor, tmp_path, SlowToStop())
    await queue.start()
    job_id = await queue.submit([DELAY])
    await until_status(reactor, queue, job_id, "running")
    assert (await queue.cancel(job_id, True)) == [
        True,
        f"Job {job_id} is being killed; its opcode has not stopped yet",
    ]
    assert queue.query([job_id], ["status"])[0][0] == "running"
    assert await until_final(reactor, queue, job_id) == "error"
    assert queue.query([job_id], ["opresult"])[0][0] == [KILLED_RESULT]
    assert locks.info() == []


@async_test
async def test_kill_argument_must_be_a_boolean(reactor, tmp_path) -> None:
    queue, _ = make_queue(reactor, tmp_path)
    await queue.start()
    job_id = await queue.submit([DELAY])
    with pytest.raises(OpPrereqError, match="kill must be true or false"):
        await queue.cancel(job_id, "yes")


@async_test
async def test_submit_many_writes_the_jobs_together_and_keeps_their_order(
    reactor, tmp_path
) -> None:
    queue, _ = make_queue(reactor, tmp_path)
    await queue.start()
    writes: list[int] = []
    in_flight = [0]
    peak = [0]
    real = queue._files.persist

    def persist(job, **kwargs):  # count how many job files are being written at once
        writes.append(job.id)
        in_flight[0] += 1
        if len(writes) == 3:  # the batch's last job: are the other two still in flight?
            peak[0] = in_flight[0]
        done = real(job, **kwargs)
        done.addBoth(lambda r: (in_flight.__setitem__(0, in_flight[0] - 1), r)[1])
        return done

    queue._files.persist = persist
    answers = await queue.submit_many(
        [[DELAY], [{"OP_ID": "OP_NO_SUCH"}], [DELAY], [{**DELAY, "depends": [[-1, []]]}]]
    )
    assert [ok for ok, _ in answers] == [True, False, True, True]
    assert "OP_NO_SUCH" in answers[1][1]
    ids = [job_id for ok, job_id in answers if ok]
    assert ids == sorted(ids) and writes[:3] == ids  # stored in order, before any ran
    assert peak[0] == 3  # the three written together, not one after the other
    for job_id in ids:
        assert await until_final(reactor, queue, job_id) == "success"


@async_test
async def test_a_higher_running_limit_starts_waiting_jobs_at_once(reactor, tmp_path) -> None:
    queue, locks = make_queue(reactor, tmp_path)
    queue.set_max_running(1)
    await queue.start()
    long = {**DELAY, "duration": 30.0}
    first = await queue.submit([long])
    await until_status(reactor, queue, first, "running")
    second = await queue.submit([long])
    await task.deferLater(reactor, 0.05, lambda: None)
    assert queue.query([second], ["status"])[0][0] == "queued"  # no room yet
    queue.set_max_running(2)
    await until_status(reactor, queue, second, "running")
    for job_id in (first, second):
        await queue.cancel(job_id, True)
    assert locks.info() == []


def _replicated_queue(reactor, tmp_path) -> tuple[JobQueue, list[dict[str, object]], list[int]]:
    """A queue whose candidate copies and local writes are recorded."""
    sent: list[dict[str, object]] = []

    def replicate(op):
        sent.append(op)
        return defer.succeed(None)

    pm = build_plugin_manager({"GNT_DISABLE_PLUGIN_AUTOLOAD": "1"}, [])
    store = JobStore(tmp_path / "queue")
    written: list[int] = []
    real_write = store.write_encoded

    def write_encoded(job_id, data):
        written.append(job_id)
        real_write(job_id, data)

    store.write_encoded = write_encoded  # type: ignore[method-assign]
    queue = JobQueue(reactor, store, Processor(pm), LockManager(reactor), pm, replicate=replicate)
    return queue, sent, written


def _log_lines(op: dict[str, object]) -> list[str]:
    import json

    job = json.loads(str(op["data"]))
    return [entry[3] for entry in job["ops"][0]["log"]]


@async_test
async def test_a_quick_jobs_log_lines_cost_no_write_of_their_own(reactor, tmp_path) -> None:
    queue, sent, written = _replicated_queue(reactor, tmp_path)
    await queue.start()
    job_id = await queue.submit([{**DELAY, "repeat": 4}])  # five log lines at once
    assert await until_final(reactor, queue, job_id) == "success"
    await task.deferLater(reactor, queue_module.LOG_DELAY + 0.1, lambda: None)
    # Submitted, running (maybe coalesced), finished: the five lines rode along.
    assert written.count(job_id) <= 3
    job_writes = [op for op in sent if op.get("path") == f"job-{job_id}"]
    assert len(job_writes) == written.count(job_id)
    assert len(_log_lines(job_writes[-1])) == 5


@async_test
async def test_log_lines_of_a_running_job_are_written_soon_but_not_replicated_alone(
    reactor, tmp_path
) -> None:
    queue, sent, _ = _replicated_queue(reactor, tmp_path)
    await queue.start()
    job_id = await queue.submit([{**DELAY, "duration": 0.5, "on_master": True, "repeat": 1}])
    await until_status(reactor, queue, job_id, "running")
    lines = ["Test delay iteration 1/2"]
    on_disk: list[str] = []
    for _ in range(100):  # the line is written within LOG_DELAY, while the job still runs
        on_disk = [entry.message for entry in queue._store.load(job_id).ops[0].log]
        if on_disk:
            break
        await task.deferLater(reactor, 0.01, lambda: None)
    assert on_disk == lines
    assert queue.query([job_id], ["status"])[0][0] == "running"
    replicated = [op for op in sent if op.get("path") == f"job-{job_id}"]
    assert all(_log_lines(op) == [] for op in replicated)  # the line alone stayed here
    assert await until_final(reactor, queue, job_id) == "success"
    await task.deferLater(reactor, 0.05, lambda: None)
    final = [op for op in sent if op.get("path") == f"job-{job_id}"][-1]
    # The final state carries both lines to the candidates.
    assert _log_lines(final) == [*lines, "Test delay iteration 2/2"]
