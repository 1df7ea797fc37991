"""The job queue directory: one JSON file per job, written so that crashes lose nothing.

Layout (Ganeti's)::

    <queue_dir>/serial                   the last job id handed out ("41\\n")
    <queue_dir>/job-<id>                 a job not yet archived
    <queue_dir>/archive/<id // 10000>/job-<id>
                                         an archived (finished) job
    <queue_dir>/drain                    present while the queue accepts no new jobs
    <queue_dir>/corrupt/                 unreadable job files set aside by recover()

Every method does blocking file I/O (reads, fsync, renames): the master
daemon calls them from a thread (``deferToThread``), never on the reactor
thread. Durability rules: :meth:`JobStore.allocate_ids` makes the new serial
durable before it returns, so an id is never handed out twice even across
a crash; :meth:`JobStore.write` returns only once the job file is durable
(temp file, fsync, rename, fsync of the directory), so a crash leaves the
old or the new content and never a mix. After a crash, :meth:`JobStore.recover`
puts the directory back in order before the queue starts.

The store does not serialise operations on one job: the queue keeps a
single in-memory :class:`~corral.jobs.model.Job` per id and writes it from
one place at a time. Id allocation is serialised here.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import threading
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path
from typing import Final

from corral.atomicfile import fsync_dir
from corral.atomicfile import write_atomically
from corral.jobs.model import Job
from corral.jobs.model import JobError
from corral.jobs.model import JobFormatError
from corral.jobs.model import JobStateError
from corral.jobs.model import JobStatus

#: Archived jobs per archive sub-directory (Ganeti's JSTORE_JOBS_PER_ARCHIVE_DIRECTORY).
JOBS_PER_ARCHIVE_DIRECTORY: Final = 10000
#: Result given by :meth:`JobStore.recover` to opcodes cut short by a master restart.
RECOVERY_REASON: Final = (
    "The master daemon stopped while this job was running, so what the running"
    " opcode did is unknown; check the objects it touched and resubmit the job"
    " if it is still needed"
)

_JOB_FILE_RE = re.compile(r"^job-(0|[1-9][0-9]*)$")
_CORRUPT_NAME_RE = re.compile(r"^job-(0|[1-9][0-9]*)(\.[0-9]+)?$")
# corral.atomicfile.write_atomically names its temporary files ".<target>.<random>.tmp".
_TEMP_FILE_RE = re.compile(r"^\..+\.tmp$")


class JobStoreError(JobError):
    """The queue directory or one of its files cannot be used."""


class JobNotFoundError(JobStoreError):
    """No job with this id exists, neither in the queue nor in its archive."""

    def __init__(self, job_id: int, queue_dir: Path) -> None:
        self.job_id = job_id
        super().__init__(
            f"job {job_id} is neither in the job queue {queue_dir} nor in its archive: "
            "check the job id (`gnt-job list` shows the known ones)"
        )


class CorruptJobFileError(JobStoreError):
    """A job file cannot be read back: not JSON, or not a valid job."""

    def __init__(self, path: Path, detail: str, corrupt_dir: Path) -> None:
        self.path = path
        self.detail = detail
        super().__init__(
            f"job file {path} is corrupt: {detail}\n"
            f"Restart the master daemon: its start-up recovery moves the file to "
            f"{corrupt_dir} and carries on; then inspect it there (a master candidate's "
            "copy of the queue may still hold a good version)."
        )


@dataclass(frozen=True)
class CorruptFile:
    """A job file :meth:`JobStore.recover` could not read and set aside."""

    path: Path
    moved_to: Path
    reason: str


@dataclass
class RecoveryReport:
    """What :meth:`JobStore.recover` found and did."""

    #: Jobs that were running or canceling: failed with :data:`RECOVERY_REASON`.
    failed: list[int] = field(default_factory=list)
    #: Queued and waiting jobs, left as they were for the queue to run.
    pending: list[int] = field(default_factory=list)
    #: Finished jobs not archived yet.
    finished: list[int] = field(default_factory=list)
    #: Unreadable job files, moved to the ``corrupt`` directory.
    corrupt: list[CorruptFile] = field(default_factory=list)
    #: Leftovers of interrupted atomic writes, removed.
    removed_temp_files: list[Path] = field(default_factory=list)
    #: The serial file's value before recovery (None: missing or unreadable).
    serial_before: int | None = None
    #: The serial file's value after recovery.
    serial_after: int = 0

    @property
    def serial_repaired(self) -> bool:
        """The serial file was wrong (a new, empty queue merely gets its first one)."""
        fresh = self.serial_before is None and self.serial_after == 0
        return self.serial_before != self.serial_after and not fresh

    def messages(self) -> list[str]:
        """One line per thing worth logging; empty when the queue was clean."""
        lines = [f"job {job_id} was running: marked as failed" for job_id in self.failed]
        lines += [
            f"corrupt job file {c.path} moved to {c.moved_to}: {c.reason}" for c in self.corrupt
        ]
        lines += [f"removed leftover temporary file {p}" for p in self.removed_temp_files]
        if self.serial_repaired:
            before = "missing or unreadable" if self.serial_before is None else self.serial_before
            lines.append(f"job serial repaired: was {before}, now {self.serial_after}")
        return lines


class JobStore:
    """The job queue directory ``queue_dir``; all methods block on disk I/O.

    Creating the store creates the directory (mode 0700) when it is missing.
    """

    def __init__(self, queue_dir: Path | str) -> None:
        self.queue_dir = Path(queue_dir)
        self.archive_dir = self.queue_dir / "archive"
        self.corrupt_dir = self.queue_dir / "corrupt"
        self.serial_file = self.queue_dir / "serial"
        self.drain_file = self.queue_dir / "drain"
        self._serial_lock = threading.Lock()
        _make_dir(self.queue_dir)

    # -- paths ----------------------------------------------------------------

    def job_path(self, job_id: int) -> Path:
        """Where job ``job_id`` lives until it is archived."""
        return self.queue_dir / f"job-{job_id}"

    def archived_path(self, job_id: int) -> Path:
        """Where job ``job_id`` lives once archived."""
        return self.archive_dir / str(job_id // JOBS_PER_ARCHIVE_DIRECTORY) / f"job-{job_id}"

    # -- ids -------------------------------------------------------------------

    def allocate_ids(self, count: int) -> list[int]:
        """Hand out ``count`` new job ids (blocking).

        The serial file records the last id before this returns, so the
        ids are never handed out again, even after a crash.
        """
        if count < 1:
            raise ValueError(f"allocate_ids needs a positive count, not {count}")
        with self._serial_lock:
            last = self._read_serial()
            if last is None:
                last = self._highest_job_id()
            new_last = last + count
            write_atomically(self.serial_file, f"{new_last}\n".encode())
        return list(range(last + 1, new_last + 1))

    def _read_serial(self) -> int | None:
        """The last id handed out, or None when the serial file does not exist."""
        try:
            text = self.serial_file.read_text(encoding="ascii")
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError) as err:
            raise self._bad_serial(f"cannot be read ({err})") from None
        value = text.strip()
        if not value.isdigit() or not value.isascii():
            raise self._bad_serial(f"holds {text!r}, not a job number")
        return int(value)

    def _bad_serial(self, detail: str) -> JobStoreError:
        return JobStoreError(
            f"the job queue serial file {self.serial_file} {detail}: restart the master "
            "daemon so that its start-up recovery repairs it from the job files"
        )

    # -- jobs ------------------------------------------------------------------

    @staticmethod
    def encode(job: Job) -> bytes:
        """The file content for ``job`` as it is now (no I/O).

        The queue encodes on the reactor thread, where jobs change, and hands
        the bytes to :meth:`write_encoded` in a thread: a snapshot, never a
        job that changes while it is written.
        """
        data = json.dumps(job.to_dict(), sort_keys=True, separators=(",", ":"), allow_nan=False)
        return data.encode() + b"\n"

    def write(self, job: Job) -> None:
        """Write ``job`` to its file (blocking); once this returns it survives a crash."""
        self.write_encoded(job.id, self.encode(job))

    def write_encoded(self, job_id: int, data: bytes) -> None:
        """Write a snapshot made by :meth:`encode` (blocking, durable on return)."""
        if self.archived_path(job_id).exists():
            raise JobStoreError(
                f"job {job_id} is archived ({self.archived_path(job_id)}) and archived jobs "
                "are read-only: this is a bug in the caller, which still holds an old copy"
            )
        write_atomically(self.job_path(job_id), data)

    def load(self, job_id: int) -> Job:
        """Read job ``job_id`` from the queue or, failing that, the archive (blocking)."""
        for path in (self.job_path(job_id), self.archived_path(job_id)):
            try:
                return self._read_job(path, job_id)
            except FileNotFoundError:
                continue
        raise JobNotFoundError(job_id, self.queue_dir)

    def load_all_pending(self) -> list[Job]:
        """Every job in the queue that has not finished, by id (blocking).

        That is the queued, waiting, running and canceling ones; after
        :meth:`recover` there are no running or canceling ones left. Call it
        after :meth:`recover`, which sets corrupt files aside: here one
        raises :class:`CorruptJobFileError`.
        """
        jobs = []
        for job_id in self.list_ids():
            try:
                job = self._read_job(self.job_path(job_id), job_id)
            except FileNotFoundError:
                continue  # archived meanwhile
            if not job.is_finalized:
                jobs.append(job)
        return jobs

    def list_ids(self, archived: bool = False) -> list[int]:
        """The ids of the jobs in the queue, with ``archived`` also those archived; sorted."""
        ids = set(_job_ids_in(self.queue_dir))
        if archived:
            for bucket in self._archive_buckets():
                ids.update(_job_ids_in(bucket))
        return sorted(ids)

    def archive(self, job_id: int) -> Path:
        """Move finished job ``job_id`` into the archive (blocking); returns its new path.

        The move is a rename, made durable in both directories before this
        returns. Unfinished jobs are refused with :class:`JobStateError`.
        """
        source = self.job_path(job_id)
        target = self.archived_path(job_id)
        try:
            job = self._read_job(source, job_id)
        except FileNotFoundError:
            if target.exists():
                raise JobStoreError(f"job {job_id} is already archived ({target})") from None
            raise JobNotFoundError(job_id, self.queue_dir) from None
        if not job.is_finalized:
            raise JobStateError(
                job_id,
                None,
                str(job.status),
                "archived",
                f"job {job_id} is {job.status}, so it cannot be archived: only finished "
                "jobs (success, error, canceled) can; wait for it to finish or cancel it",
            )
        if target.exists():
            raise JobStoreError(
                f"job {job_id} is both in the queue ({source}) and in the archive "
                f"({target}): compare the two files, keep the right one and remove the other"
            )
        _make_dir(self.archive_dir)
        _make_dir(target.parent)
        os.replace(source, target)
        fsync_dir(target.parent)
        fsync_dir(self.queue_dir)
        return target

    def _read_job(self, path: Path, job_id: int) -> Job:
        """Read and check one job file; FileNotFoundError when it does not exist."""
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            raise
        except OSError as err:
            raise JobStoreError(
                f"job file {path} cannot be read: {err}; check the disk holding the job queue"
            ) from None
        if not raw.strip():
            raise CorruptJobFileError(path, "it is empty (an interrupted write?)", self.corrupt_dir)
        try:
            data = json.loads(raw)
        except ValueError as err:
            raise CorruptJobFileError(
                path, f"it is not valid JSON ({err})", self.corrupt_dir
            ) from None
        try:
            job = Job.from_dict(data, source=str(path))
        except JobFormatError as err:
            raise CorruptJobFileError(path, f"it {err.problems}", self.corrupt_dir) from None
        if job.id != job_id:
            raise CorruptJobFileError(
                path, f"it holds job {job.id}, not job {job_id}", self.corrupt_dir
            )
        return job

    def _archive_buckets(self) -> list[Path]:
        try:
            entries = list(self.archive_dir.iterdir())
        except FileNotFoundError:
            return []
        return [p for p in entries if p.name.isdigit() and p.is_dir()]

    def _highest_job_id(self) -> int:
        """The highest job id with a file anywhere in the queue directory (0 if none)."""
        ids = self.list_ids(archived=True)
        highest = ids[-1] if ids else 0
        with contextlib.suppress(FileNotFoundError):
            for entry in self.corrupt_dir.iterdir():
                match = _CORRUPT_NAME_RE.match(entry.name)
                if match:
                    highest = max(highest, int(match.group(1)))
        return highest

    # -- drain flag ----------------------------------------------------------------

    def set_drain(self, flag: bool) -> None:
        """Make the queue refuse (True) or accept (False) new jobs; durable (blocking)."""
        if flag:
            write_atomically(self.drain_file, b"")
            return
        try:
            self.drain_file.unlink()
        except FileNotFoundError:
            return
        fsync_dir(self.queue_dir)

    def is_drained(self) -> bool:
        """True while the queue refuses new jobs (blocking)."""
        return self.drain_file.exists()

    # -- start-up recovery -----------------------------------------------------------

    def recover(self, now: float) -> RecoveryReport:
        """Put the queue directory in order after a crash; call it before the queue starts.

        Blocking. Leftover temporary files are removed; every job file in the
        queue is read: running and canceling jobs are failed with
        :data:`RECOVERY_REASON` (what they did is unknown), queued and waiting
        ones are kept, unreadable files are moved to the ``corrupt``
        directory and reported (never deleted) without stopping the rest;
        finally the serial file is rewritten if it is missing, unreadable or
        lower than the highest job id found, so that no id is reused.
        Archived jobs are not read, only their names are.
        """
        report = RecoveryReport()
        for directory in (self.queue_dir, *self._archive_buckets(), self.archive_dir):
            report.removed_temp_files += _remove_temp_files(directory)
        for job_id in self.list_ids():
            path = self.job_path(job_id)
            try:
                job = self._read_job(path, job_id)
            except CorruptJobFileError as err:
                report.corrupt.append(self._set_aside(path, err.detail))
                continue
            status = job.status
            if status in (JobStatus.RUNNING, JobStatus.CANCELING):
                job.fail_unfinished(RECOVERY_REASON, now)
                self.write(job)
                report.failed.append(job_id)
            elif status in (JobStatus.QUEUED, JobStatus.WAITING):
                report.pending.append(job_id)
            else:
                report.finished.append(job_id)
        try:
            report.serial_before = self._read_serial()
        except JobStoreError:
            report.serial_before = None
        report.serial_after = max(report.serial_before or 0, self._highest_job_id())
        if report.serial_after != report.serial_before:
            write_atomically(self.serial_file, f"{report.serial_after}\n".encode())
        return report

    def _set_aside(self, path: Path, reason: str) -> CorruptFile:
        _make_dir(self.corrupt_dir)
        target = self.corrupt_dir / path.name
        suffix = 0
        while target.exists():
            suffix += 1
            target = self.corrupt_dir / f"{path.name}.{suffix}"
        os.replace(path, target)
        fsync_dir(self.corrupt_dir)
        fsync_dir(path.parent)
        return CorruptFile(path=path, moved_to=target, reason=reason)


def _make_dir(path: Path) -> None:
    """Create directory ``path`` (mode 0700) durably, if it is missing."""
    if path.is_dir():
        return
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        path.mkdir(mode=0o700)
    except FileExistsError:
        if not path.is_dir():
            raise JobStoreError(
                f"{path} exists but is not a directory: move it away so that the job "
                "queue can use this path"
            ) from None
        return
    fsync_dir(path.parent)


def _job_ids_in(directory: Path) -> list[int]:
    try:
        names = os.listdir(directory)
    except FileNotFoundError:
        return []
    return [int(m.group(1)) for m in map(_JOB_FILE_RE.match, names) if m]


def _remove_temp_files(directory: Path) -> list[Path]:
    try:
        names = os.listdir(directory)
    except FileNotFoundError:
        return []
    removed = []
    for name in names:
        if _TEMP_FILE_RE.match(name):
            path = directory / name
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
                removed.append(path)
    if removed:
        fsync_dir(directory)
    return sorted(removed)
