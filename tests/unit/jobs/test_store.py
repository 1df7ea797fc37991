"""The job queue directory: ids, durable writes, archive, drain flag, start-up recovery."""

from __future__ import annotations

import json
import os

import pytest

from corral.jobs import RECOVERY_REASON
from corral.jobs import CorruptJobFileError
from corral.jobs import Job
from corral.jobs import JobNotFoundError
from corral.jobs import JobStateError
from corral.jobs import JobStatus
from corral.jobs import JobStore
from corral.jobs import JobStoreError
from corral.jobs import OpStatus


def new_job(store: JobStore, *names: str, now: float = 10.0) -> Job:
    (job_id,) = store.allocate_ids(1)
    ops = [{"OP_ID": "OP_INSTANCE_SHUTDOWN", "instance_name": n} for n in names or ("web1",)]
    job = Job.new(job_id, ops, now)
    store.write(job)
    return job


def finished(store: JobStore) -> Job:
    job = new_job(store)
    job.mark_running(0, 11)
    job.finish_op(0, True, None, 12)
    store.write(job)
    return job


def files(directory) -> list[str]:
    return sorted(str(p.relative_to(directory)) for p in directory.rglob("*") if p.is_file())


@pytest.fixture
def store(tmp_path) -> JobStore:
    return JobStore(tmp_path / "queue")


# -- ids ---------------------------------------------------------------------------------


def test_ids_increase_and_survive_a_new_store(tmp_path) -> None:
    store = JobStore(tmp_path / "q")
    assert (tmp_path / "q").stat().st_mode & 0o777 == 0o700
    assert store.allocate_ids(1) == [1]
    assert store.allocate_ids(3) == [2, 3, 4]
    assert (tmp_path / "q" / "serial").read_text() == "4\n"
    again = JobStore(tmp_path / "q")
    assert again.allocate_ids(2) == [5, 6]
    with pytest.raises(ValueError, match="positive count, not 0"):
        again.allocate_ids(0)


def test_serial_is_durable_before_ids_are_returned(store, monkeypatch) -> None:
    synced: list[int] = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(fd), real_fsync(fd))[1])
    store.allocate_ids(1)
    assert len(synced) >= 2  # the file and its directory


def test_missing_serial_continues_after_the_highest_job(store) -> None:
    for _ in range(3):
        finished(store)
    store.archive(2)
    store.serial_file.unlink()
    assert store.allocate_ids(1) == [4]


def test_unreadable_serial_is_an_error_that_says_what_to_do(store) -> None:
    store.serial_file.write_text("twelve\n")
    with pytest.raises(JobStoreError) as err:
        store.allocate_ids(1)
    assert str(err.value) == (
        f"the job queue serial file {store.serial_file} holds 'twelve\\n', not a job number: "
        "restart the master daemon so that its start-up recovery repairs it from the job files"
    )


# -- jobs ---------------------------------------------------------------------------------


def test_write_load_round_trip(store) -> None:
    job = new_job(store, "a", "b")
    job.mark_running(0, 11)
    job.add_log(0, "message", "hello", 11.5)
    store.write(job)
    loaded = JobStore(store.queue_dir).load(job.id)
    assert loaded == job
    assert loaded.status is JobStatus.RUNNING
    assert store.job_path(job.id).stat().st_mode & 0o777 == 0o600
    assert json.loads(store.job_path(job.id).read_text())["id"] == job.id
    assert files(store.queue_dir) == ["job-1", "serial"]


def test_load_unknown_job(store) -> None:
    with pytest.raises(JobNotFoundError) as err:
        store.load(42)
    assert str(err.value) == (
        f"job 42 is neither in the job queue {store.queue_dir} nor in its archive: "
        "check the job id (`gnt-job list` shows the known ones)"
    )


@pytest.mark.parametrize(
    ("content", "detail"),
    [
        (b"", "it is empty (an interrupted write?)"),
        (b'{"id": 1, "ops": [', "it is not valid JSON (Expecting value"),
        (b"\xff\xfe", "it is not valid JSON ("),
        (b'{"id": 2}', "corrupt: it is not a valid job:\n  end_timestamp: Missing data for"),
    ],
)
def test_corrupt_file_is_a_clear_error(store, content, detail) -> None:
    job = new_job(store)
    store.job_path(job.id).write_bytes(content)
    with pytest.raises(CorruptJobFileError) as err:
        store.load(job.id)
    message = str(err.value)
    assert message.startswith(f"job file {store.job_path(1)} is corrupt: ")
    assert detail in message
    assert f"moves the file to {store.corrupt_dir} and carries on" in message


def test_file_holding_another_job(store) -> None:
    job = new_job(store)
    store.job_path(job.id).rename(store.job_path(9))
    with pytest.raises(CorruptJobFileError, match="it holds job 1, not job 9"):
        store.load(9)


def test_list_ids_and_pending(store) -> None:
    queued = new_job(store)
    done = finished(store)
    running = new_job(store)
    running.mark_running(0, 11)
    store.write(running)
    archived = finished(store)
    store.archive(archived.id)
    (store.queue_dir / "job-x").write_text("not a job name")
    assert store.list_ids() == [1, 2, 3]
    assert store.list_ids(archived=True) == [1, 2, 3, 4]
    assert [j.id for j in store.load_all_pending()] == [queued.id, running.id]
    assert done.id not in [j.id for j in store.load_all_pending()]


# -- archive ------------------------------------------------------------------------------


def test_archive_moves_the_file_into_its_bucket(store) -> None:
    job = finished(store)
    path = store.archive(job.id)
    assert path == store.queue_dir / "archive" / "0" / "job-1"
    assert not store.job_path(job.id).exists()
    assert store.load(job.id) == job
    assert store.list_ids() == []
    with pytest.raises(JobStoreError, match="job 1 is already archived"):
        store.archive(job.id)
    with pytest.raises(JobStoreError, match="archived jobs are read-only"):
        store.write(job)


def test_archive_buckets_hold_ten_thousand_jobs(store) -> None:
    assert store.archived_path(9999).parent.name == "0"
    assert store.archived_path(10000).parent.name == "1"
    assert store.archived_path(123456).parent.name == "12"
    job = Job.new(20001, [{"OP_ID": "OP_CLUSTER_VERIFY"}], 1)
    job.cancel(2)
    store.write(job)
    assert store.archive(20001) == store.queue_dir / "archive" / "2" / "job-20001"
    assert store.list_ids(archived=True) == [20001]


def test_archive_refuses_unfinished_and_unknown_jobs(store) -> None:
    job = new_job(store)
    with pytest.raises(JobStateError) as err:
        store.archive(job.id)
    assert str(err.value) == (
        "job 1 is queued, so it cannot be archived: only finished jobs (success, error, "
        "canceled) can; wait for it to finish or cancel it"
    )
    assert store.job_path(job.id).exists()
    with pytest.raises(JobNotFoundError):
        store.archive(77)


# -- drain ---------------------------------------------------------------------------------


def test_drain_flag(store) -> None:
    assert not store.is_drained()
    store.set_drain(True)
    store.set_drain(True)
    assert store.is_drained()
    assert (store.queue_dir / "drain").exists()
    assert JobStore(store.queue_dir).is_drained()
    store.set_drain(False)
    store.set_drain(False)
    assert not store.is_drained()


# -- recovery ------------------------------------------------------------------------------


def test_recover_clean_queue(store) -> None:
    report = store.recover(100)
    assert report.messages() == []  # a new queue gets its first serial file: no repair
    assert store.serial_file.read_text() == "0\n"
    new_job(store)
    report = store.recover(100)
    assert report.pending == [1]
    assert report.messages() == []
    assert not report.serial_repaired


def test_recover_fails_running_jobs_and_keeps_queued_ones(store) -> None:
    queued = new_job(store)
    waiting = new_job(store)
    waiting.mark_waiting(0, 11)
    store.write(waiting)
    running = new_job(store, "a", "b")
    running.mark_running(0, 11)
    running.add_log(0, "message", "working", 12)
    store.write(running)
    canceling = new_job(store)
    canceling.mark_running(0, 11)
    canceling.cancel(12)
    store.write(canceling)
    done = finished(store)

    report = JobStore(store.queue_dir).recover(1000)

    assert report.failed == [running.id, canceling.id]
    assert report.pending == [queued.id, waiting.id]
    assert report.finished == [done.id]
    assert report.corrupt == [] and report.removed_temp_files == []
    assert store.load(queued.id) == queued
    assert store.load(waiting.id) == waiting
    assert store.load(done.id) == done
    failed = store.load(running.id)
    assert failed.status is JobStatus.ERROR
    assert [op.status for op in failed.ops] == [OpStatus.ERROR, OpStatus.ERROR]
    assert [op.result for op in failed.ops] == [RECOVERY_REASON, RECOVERY_REASON]
    assert failed.ops[0].log == running.ops[0].log
    assert failed.end_timestamp == (1000, 0)
    assert store.load(canceling.id).status is JobStatus.ERROR
    assert "master daemon stopped while this job was running" in RECOVERY_REASON
    assert report.messages() == [
        f"job {running.id} was running: marked as failed",
        f"job {canceling.id} was running: marked as failed",
    ]
    assert [j.id for j in store.load_all_pending()] == [queued.id, waiting.id]


def test_recover_moves_corrupt_files_aside_and_carries_on(store) -> None:
    first = new_job(store)
    broken = new_job(store)
    last = new_job(store)
    last.mark_running(0, 11)
    store.write(last)
    store.job_path(broken.id).write_bytes(b'{"id": 2, "ops": [{"inp')
    (store.corrupt_dir).mkdir()
    (store.corrupt_dir / "job-2").write_text("an earlier casualty")

    report = store.recover(50)

    assert report.pending == [first.id]
    assert report.failed == [last.id]
    assert len(report.corrupt) == 1
    (bad,) = report.corrupt
    assert bad.path == store.job_path(2)
    assert bad.moved_to == store.corrupt_dir / "job-2.1"
    assert bad.reason.startswith("it is not valid JSON")
    assert bad.moved_to.read_bytes() == b'{"id": 2, "ops": [{"inp'
    assert (store.corrupt_dir / "job-2").read_text() == "an earlier casualty"
    assert not store.job_path(2).exists()
    assert store.list_ids() == [1, 3]
    assert (
        f"corrupt job file {store.job_path(2)} moved to {bad.moved_to}: it is not valid JSON"
        in (report.messages()[1])
    )


def test_recover_removes_leftover_temp_files(store) -> None:
    job = finished(store)
    store.archive(job.id)
    leftovers = [
        store.queue_dir / ".job-7.abc123.tmp",
        store.queue_dir / ".serial.x.tmp",
        store.queue_dir / "archive" / "0" / ".job-1.zz.tmp",
    ]
    for path in leftovers:
        path.write_bytes(b'{"half": ')
    keep = store.queue_dir / "notes.tmp"  # not one of ours
    keep.write_text("mine")
    report = store.recover(5)
    assert sorted(report.removed_temp_files) == sorted(leftovers)
    assert not any(p.exists() for p in leftovers)
    assert keep.exists()
    assert files(store.queue_dir) == ["archive/0/job-1", "notes.tmp", "serial"]


@pytest.mark.parametrize("serial", [None, "1\n", "garbage", ""])
def test_recover_repairs_the_serial(store, serial) -> None:
    for _ in range(3):
        finished(store)
    store.archive(3)
    (store.corrupt_dir).mkdir()
    (store.corrupt_dir / "job-5.2").write_text("")
    if serial is None:
        store.serial_file.unlink()
    else:
        store.serial_file.write_text(serial)
    report = store.recover(5)
    assert report.serial_before == (1 if serial == "1\n" else None)
    assert report.serial_after == 5  # the corrupt job-5 counts too
    assert report.serial_repaired
    assert store.serial_file.read_text() == "5\n"
    assert store.allocate_ids(1) == [6]


def test_recover_keeps_a_higher_serial(store) -> None:
    new_job(store)
    store.allocate_ids(10)
    report = store.recover(5)
    assert (report.serial_before, report.serial_after) == (11, 11)
    assert not report.serial_repaired
    assert store.allocate_ids(1) == [12]
