"""Crash safety of the job store, without killing processes.

A crash is simulated by counting calls to the filesystem primitives the
store relies on (opening for writing, file write, fsync, rename, unlink,
mkdir): the N-th call and every later one raise, so from that point on
nothing more reaches the disk, not even the clean-up a live process would
do. A write cut short leaves part of its data behind (none, half or nearly
all). After the crash a fresh store on the same directory runs
``recover()`` and must find:

* every job whose write returned with exactly its last acknowledged
  content (or the content of the write cut short, which may have landed),
  where jobs that were running are failed by recovery;
* no other job, no corrupt file, no temporary file;
* ids that were never handed out before.

Recovery itself may crash too; running it again must then finish the job.
"""

from __future__ import annotations

import builtins
import contextlib
import io
import os
import re
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING
from typing import Any

import pytest
from hypothesis import event
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from corral.jobs import RECOVERY_REASON
from corral.jobs import Job
from corral.jobs import JobStatus
from corral.jobs import JobStore
from corral.jobs import OpStatus

if TYPE_CHECKING:
    from collections.abc import Iterator

RECOVERY_NOW = 100_000.0
TEMP_RE = re.compile(r"^\..+\.tmp$")


class SimulatedCrash(BaseException):
    """The process "died": not an Exception, so no handler in the store swallows it."""


class Crasher:
    """Counts primitive calls; the ``crash_at``-th and every later one crash."""

    def __init__(self, crash_at: int | None, torn: float = 0.5) -> None:
        self.crash_at = crash_at
        #: The share of its data a write cut short by the crash leaves behind.
        self.torn = torn
        self.calls = 0
        self.crashed = False

    def due(self) -> bool:
        """True when this call must not happen (the crash is now or was earlier)."""
        if self.crashed:
            return True
        self.calls += 1
        if self.crash_at is not None and self.calls >= self.crash_at:
            self.crashed = True
        return self.crashed


class _CrashingFile:
    """A file object whose write lands only part of its data when the crash comes."""

    def __init__(self, handle: Any, crasher: Crasher) -> None:
        self._handle = handle
        self._crasher = crasher

    def write(self, data: bytes) -> int:
        if self._crasher.due():
            self._handle.write(data[: int(len(data) * self._crasher.torn)])
            self._handle.flush()
            raise SimulatedCrash("during a file write")
        written: int = self._handle.write(data)
        return written

    def __getattr__(self, name: str) -> Any:
        return getattr(self._handle, name)

    def __enter__(self) -> _CrashingFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self._handle.close()  # the kernel closes a dead process's files too


@contextlib.contextmanager
def crash_at(crasher: Crasher) -> Iterator[None]:
    """Route the store's filesystem primitives through ``crasher``."""

    def guarded(name: str, real: Any) -> Any:
        def call(*args: Any, **kwargs: Any) -> Any:
            if crasher.due():
                raise SimulatedCrash(f"at os.{name}")
            return real(*args, **kwargs)

        return call

    real_fdopen = os.fdopen
    real_open = io.open

    def fdopen(*args: Any, **kwargs: Any) -> Any:
        return _CrashingFile(real_fdopen(*args, **kwargs), crasher)

    def open_(file: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        if not set(mode) & set("wax+"):
            return real_open(file, mode, *args, **kwargs)  # reading is harmless
        if crasher.due():
            raise SimulatedCrash("at open for writing")
        return _CrashingFile(real_open(file, mode, *args, **kwargs), crasher)

    with pytest.MonkeyPatch.context() as patch:
        for name in ("replace", "rename", "fsync", "unlink", "mkdir"):
            patch.setattr(os, name, guarded(name, getattr(os, name)))
        patch.setattr(os, "fdopen", fdopen)
        # Writes that bypass os.fdopen (Path.write_bytes, open()) crash as well.
        patch.setattr(io, "open", open_)
        patch.setattr(builtins, "open", open_)
        yield


def after_recovery(document: dict[str, Any]) -> dict[str, Any]:
    """What recovery turns a job document into: running jobs fail, others stay."""
    job = Job.from_dict(document)
    if job.status in (JobStatus.RUNNING, JobStatus.CANCELING):
        job.fail_unfinished(RECOVERY_REASON, RECOVERY_NOW)
    return job.to_dict()


def advance(job: Job, pick: int, now: float) -> None:
    """Move ``job`` one step along its life; ``pick`` chooses among the possible steps."""
    index = next(i for i, op in enumerate(job.ops) if not op.is_finalized)
    status = job.ops[index].status
    if status is OpStatus.QUEUED:
        if pick % 2:
            job.mark_waiting(index, now)
        else:
            job.mark_running(index, now)
    elif status is OpStatus.WAITING:
        if pick % 4 == 0:
            job.cancel(now)
        else:
            job.mark_running(index, now)
    elif status is OpStatus.RUNNING:
        choice = pick % 5
        if choice == 0:
            job.cancel(now)
        elif choice == 1:
            job.add_log(index, "message", f"step {pick}", now)
        else:
            job.finish_op(index, choice != 4, {"pick": pick}, now)
    else:
        assert status is OpStatus.CANCELING
        job.finish_op(index, pick % 2 == 0, None, now)


class History:
    """What the client side was told: acknowledged contents and ids handed out."""

    def __init__(self) -> None:
        self.jobs: dict[int, Job] = {}
        self.acked: dict[int, dict[str, Any]] = {}
        self.archived: set[int] = set()
        self.handed_out: list[int] = []
        # The store call the crash may have cut short: ("allocate", 0, None),
        # ("write", id, document) or ("archive", id, None).
        self.inflight: tuple[str, int, dict[str, Any] | None] | None = None

    def run(self, store: JobStore, steps: list[tuple[str, int]]) -> None:
        now = 1000.0
        for kind, pick in steps:
            now += 1.5
            self.inflight = None
            if kind == "new":
                self.inflight = ("allocate", 0, None)
                ids = store.allocate_ids(1 + pick % 3)  # unused ids leave gaps
                self.handed_out += ids
                names = [f"vm{pick}-{i}" for i in range(1 + pick % 3)]
                ops = [{"OP_ID": "OP_INSTANCE_SHUTDOWN", "instance_name": n} for n in names]
                job = Job.new(ids[0], ops, now)
                self._write(store, job)
            elif kind in ("advance", "complete"):
                active = sorted(i for i, j in self.jobs.items() if not j.is_finalized)
                if active:
                    job = self.jobs[active[pick % len(active)]]
                    advance(job, pick, now)
                    while kind == "complete" and not job.is_finalized:
                        pick = pick * 7 + 3
                        advance(job, pick, now)
                    self._write(store, job)
            else:
                done = sorted(
                    i for i, j in self.jobs.items() if j.is_finalized and i not in self.archived
                )
                if done:
                    job_id = done[pick % len(done)]
                    self.inflight = ("archive", job_id, None)
                    store.archive(job_id)
                    self.archived.add(job_id)
        self.inflight = None

    def _write(self, store: JobStore, job: Job) -> None:
        document = job.to_dict()
        self.inflight = ("write", job.id, document)
        store.write(job)
        self.acked[job.id] = document
        self.jobs[job.id] = job

    def check(self, store: JobStore) -> None:
        """The queue directory after recovery matches what was acknowledged."""
        inflight_kind, inflight_id, inflight_doc = self.inflight or ("", -1, None)
        on_disk = set(store.list_ids(archived=True))
        assert on_disk <= set(self.acked) | {inflight_id}, "a job appeared from nowhere"
        for job_id in set(self.acked) | ({inflight_id} & on_disk):
            allowed = []
            if job_id in self.acked:
                allowed.append(after_recovery(self.acked[job_id]))
            if inflight_kind == "write" and inflight_id == job_id:
                assert inflight_doc is not None
                allowed.append(after_recovery(inflight_doc))
            loaded = store.load(job_id).to_dict()
            assert loaded in allowed, f"job {job_id} lost its acknowledged content"
            pending = store.job_path(job_id).exists()
            archived = store.archived_path(job_id).exists()
            assert pending != archived, f"job {job_id} must be in exactly one place"
            if job_id in self.archived:
                assert archived, f"archived job {job_id} came back to the queue"
            elif not (inflight_kind == "archive" and inflight_id == job_id):
                assert pending, f"job {job_id} was archived without being asked"


def temp_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if TEMP_RE.match(p.name)]


STEP = st.tuples(
    st.sampled_from(["new", "advance", "advance", "complete", "archive", "archive"]),
    st.integers(0, 99),
)
# Always start with a job, so that no example is an empty run.
STEPS = st.builds(
    lambda first, rest: [first, *rest],
    st.tuples(st.just("new"), st.integers(0, 99)),
    st.lists(STEP, min_size=2, max_size=20),
)


@settings(max_examples=300, deadline=None)
@given(steps=STEPS, data=st.data())
def test_acknowledged_jobs_survive_a_crash_at_any_point(
    steps: list[tuple[str, int]], data: st.DataObject
) -> None:
    with tempfile.TemporaryDirectory(prefix="corral-jobs-") as tmp:
        # A dry run counts the primitive calls, so that the crash can be put
        # at any of them. (Runs without a crash are the unit tests' business.)
        counter = Crasher(None)
        dry_run = JobStore(Path(tmp) / "dry-run")
        with crash_at(counter):
            History().run(dry_run, steps)
        crash_point = data.draw(st.integers(1, max(1, counter.calls)), label="crash_point")

        queue_dir = Path(tmp) / "queue"
        history = History()
        store = JobStore(queue_dir)
        crasher = Crasher(crash_point, data.draw(st.sampled_from([0.0, 0.5, 0.9]), label="torn"))
        with crash_at(crasher), contextlib.suppress(SimulatedCrash):
            history.run(store, steps)
        event(f"crash during {history.inflight[0]}" if history.inflight else "no crash")

        recovery_crash_point = data.draw(st.none() | st.integers(1, 12), label="recovery crash")
        if recovery_crash_point is not None:
            with crash_at(Crasher(recovery_crash_point)), contextlib.suppress(SimulatedCrash):
                JobStore(queue_dir).recover(RECOVERY_NOW)

        fresh = JobStore(queue_dir)
        report = fresh.recover(RECOVERY_NOW)
        assert report.corrupt == [], report.messages()
        assert temp_files(queue_dir) == []
        history.check(fresh)

        # A second recovery finds nothing left to do.
        again = fresh.recover(RECOVERY_NOW)
        assert again.messages() == []

        # Ids handed out before the crash are never handed out again.
        new_ids = fresh.allocate_ids(2)
        assert min(new_ids) > max([0, *history.handed_out, *fresh.list_ids(archived=True)])
