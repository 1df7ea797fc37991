"""The job queue of the master daemon: accept, order, run and report jobs.

Everything here runs on the reactor thread; file I/O goes to threads as
snapshots (see :class:`_JobFiles`). A job is acknowledged (its id
returned) only after its file is durable. Jobs run when their
dependencies are met, most urgent priority first, at most
``max_running`` at a time; each opcode goes through the
:class:`~corral.cmdlib.processor.Processor`, which holds the job's locks.
"""

from __future__ import annotations

import functools
import heapq
import time
from typing import TYPE_CHECKING
from typing import Any
from typing import TypeAlias

from twisted.internet import defer
from twisted.internet import threads
from twisted.logger import Logger
from twisted.python.failure import Failure

from corral.api.errors import CorralError
from corral.api.errors import OpExecError
from corral.api.errors import OpPrereqError
from corral.cmdlib.base import LUContext
from corral.jobs.model import JOBS_FINALIZED
from corral.jobs.model import Job
from corral.jobs.model import JobStatus
from corral.jobs.model import OpStatus
from corral.jobs.replication import remove_op
from corral.jobs.replication import rename_op
from corral.jobs.replication import write_op
from corral.luxi.protocol import encode_error
from corral.opcodes import load_opcode
from corral.plugins.manager import call_impl

if TYPE_CHECKING:
    from collections.abc import Callable

    import pluggy
    from twisted.internet.interfaces import IDelayedCall
    from twisted.internet.interfaces import IReactorTime

    from corral.cmdlib.processor import Processor
    from corral.jobs.store import JobStore
    from corral.jobs.store import RecoveryReport
    from corral.locking import LockManager

    #: Sends one queue-directory operation to the candidates (see corral.jobs.replication).
    Replicate: TypeAlias = Callable[[dict[str, Any]], defer.Deferred[None]]

log = Logger()

#: WaitForJobChange's answer when nothing changed in time (Ganeti's JOB_NOTCHANGED).
NO_CHANGE = "nochange"
#: Seconds CancelJob with kill waits for the killed job to stop before answering
#: anyway (an LU that swallows the cancellation must not hang its caller).
KILL_WAIT = 30.0
#: Seconds a job's new log lines may wait to be written: a change of state
#: within that time writes them along (a short job's lines cost no write
#: of their own); watchers see a line at most this much later.
LOG_DELAY = 0.2


class JobQueueDrainError(OpPrereqError):
    """New jobs are refused while the queue is drained (Ganeti's class name)."""


def _ts(stamp: Any) -> list[int] | None:
    return None if stamp is None else [stamp[0], stamp[1]]


#: The job fields of QueryJobs / WaitForJobChange, as Ganeti names them.
JOB_FIELDS: dict[str, Callable[[Job], Any]] = {
    "id": lambda j: j.id,
    "status": lambda j: str(j.status),
    "priority": lambda j: j.priority,
    "ops": lambda j: [op.input for op in j.ops],
    "opresult": lambda j: [op.result for op in j.ops],
    "opstatus": lambda j: [str(op.status) for op in j.ops],
    "oplog": lambda j: [
        [[e.serial, _ts(e.timestamp), e.type, e.message] for e in op.log] for op in j.ops
    ],
    "opstart": lambda j: [_ts(op.start_timestamp) for op in j.ops],
    "opexec": lambda j: [_ts(op.exec_timestamp) for op in j.ops],
    "opend": lambda j: [_ts(op.end_timestamp) for op in j.ops],
    "oppriority": lambda j: [op.priority for op in j.ops],
    "received_ts": lambda j: _ts(j.received_timestamp),
    "start_ts": lambda j: _ts(j.start_timestamp),
    "end_ts": lambda j: _ts(j.end_timestamp),
    "summary": lambda j: j.summary(),
}


def row_getters(fields: list[str]) -> list[Callable[[Job], Any]]:
    """The getters of ``fields``, checked once for a whole query."""
    unknown = [f for f in fields if f not in JOB_FIELDS]
    if unknown:
        raise OpPrereqError(
            f"unknown job field(s) {', '.join(unknown)}; known: {', '.join(JOB_FIELDS)}"
        )
    return [JOB_FIELDS[f] for f in fields]


def job_row(job: Job, fields: list[str]) -> list[Any]:
    return [get(job) for get in row_getters(fields)]


def _no_replica(op: dict[str, Any]) -> defer.Deferred[None]:
    """A queue without candidates: nothing to copy."""
    return defer.succeed(None)


class _JobFiles:
    """Durable, ordered writes of job snapshots, coalesced per job.

    While a job's file is being written, newer snapshots of the same job
    replace each other; the next write takes the newest, and every caller
    whose snapshot it covers is told at once. So a chatty job costs few
    fsyncs, and a file never goes back to an older state.

    A snapshot taken only for new log lines is written here but not sent
    to the candidates (as Ganeti does with feedback): the next change of
    state carries the whole file, lines included, and a master failover
    loses at most some log lines of a job that was running anyway.
    """

    def __init__(self, store: JobStore, replicate: Replicate | None = None) -> None:
        self._store = store
        self._replicate: Replicate = replicate or _no_replica
        #: Per job: the newest snapshot, its waiters, and whether it must be replicated.
        self._pending: dict[int, tuple[bytes, list[defer.Deferred[None]], bool]] = {}
        self._busy: set[int] = set()

    def persist(self, job: Job, *, replicate: bool = True) -> defer.Deferred[None]:
        done: defer.Deferred[None] = defer.Deferred()
        _, waiters, earlier = self._pending.get(job.id, (b"", [], False))
        self._pending[job.id] = (self._store.encode(job), [*waiters, done], replicate or earlier)
        if job.id not in self._busy:
            self._busy.add(job.id)
            defer.Deferred.fromCoroutine(self._drain(job.id))
        return done

    async def _drain(self, job_id: int) -> None:
        try:
            while job_id in self._pending:
                data, waiters, replicate = self._pending.pop(job_id)
                try:
                    await threads.deferToThread(self._store.write_encoded, job_id, data)
                    if replicate:
                        await self._replicate(write_op(f"job-{job_id}", data))
                except Exception as err:
                    log.failure("writing job {job} failed", job=job_id)
                    for waiter in waiters:
                        waiter.errback(err)
                else:
                    for waiter in waiters:
                        waiter.callback(None)
        finally:
            self._busy.discard(job_id)


class _IdAllocator:
    """Hands out job ids from blocks reserved durably in the serial file.

    The serial file is raised by a block at a time (one fsync for many
    submissions); ids are then given from memory. After a crash the unused
    rest of a block is skipped, never reused: ids may have gaps, and only
    ever grow.
    """

    BLOCK = 64

    def __init__(self, store: JobStore, replicate: Replicate | None = None) -> None:
        self._store = store
        self._replicate: Replicate = replicate or _no_replica
        self._spare: list[int] = []
        self._waiting: list[tuple[int, defer.Deferred[list[int]]]] = []
        self._busy = False

    def allocate(self, count: int) -> defer.Deferred[list[int]]:
        # From memory only while no reservation is in flight: that one counts on
        # the spare ids it saw.
        if not self._busy and len(self._spare) >= count:
            return defer.succeed(self._take(count))
        d: defer.Deferred[list[int]] = defer.Deferred()
        self._waiting.append((count, d))
        if not self._busy:
            self._busy = True
            defer.Deferred.fromCoroutine(self._run())
        return d

    async def _run(self) -> None:
        try:
            while self._waiting:
                batch, self._waiting = self._waiting, []
                wanted = sum(n for n, _ in batch) - len(self._spare)
                try:
                    reserved = await threads.deferToThread(
                        self._store.allocate_ids, max(wanted, self.BLOCK)
                    )
                    await self._replicate(write_op("serial", f"{reserved[-1]}\n".encode()))
                except Exception as err:
                    for _, d in batch:
                        d.errback(err)
                    continue
                self._spare.extend(reserved)
                for count, d in batch:
                    d.callback(self._take(count))
        finally:
            self._busy = False

    def _take(self, count: int) -> list[int]:
        mine = self._spare[:count]
        del self._spare[:count]
        return mine


class JobQueue:
    """Accepts jobs, runs them in order, and answers questions about them."""

    def __init__(
        self,
        clock: IReactorTime,
        store: JobStore,
        processor: Processor,
        locks: LockManager,
        pm: pluggy.PluginManager,
        max_running: int = 20,
        now: Callable[[], float] = time.time,
        replicate: Replicate | None = None,
    ) -> None:
        self._clock = clock
        self._store = store
        self._processor = processor
        self._locks = locks
        self._pm = pm
        self.max_running = max_running
        self._now = now
        #: Copies each change of the queue directory to the master candidates
        #: (see corral.jobs.replication); a queue without candidates skips it.
        self._replicate: Replicate = replicate or _no_replica
        self._files = _JobFiles(store, self._replicate)
        self._ids = _IdAllocator(store, self._replicate)
        self._jobs: dict[int, Job] = {}
        #: Jobs that may be ready, as (priority, id): a heap, so the most urgent
        #: is found in O(log n). Stale entries are skipped when popped.
        self._ready: list[tuple[int, int]] = []
        #: Jobs whose dependencies have not finished; looked at again when a job ends.
        self._blocked: set[int] = set()
        self._running: dict[int, defer.Deferred[None]] = {}
        self._in_lock_wait: set[int] = set()
        #: Running jobs a kill was asked for: whatever their opcode does now, it is killed.
        self._killing: set[int] = set()
        self._watchers: dict[int, list[defer.Deferred[None]]] = {}
        #: The status each job was last announced with (hooks see each change once).
        self._announced: dict[int, JobStatus] = {}
        #: Jobs with log lines not yet written: the call that writes them.
        self._log_writes: dict[int, IDelayedCall] = {}
        self._drained = False

    # -- start-up ----------------------------------------------------------------

    async def start(self) -> RecoveryReport:
        """Recover the queue directory after a stop or crash, then run what is pending."""
        report = await threads.deferToThread(self._store.recover, self._now())
        ids = await threads.deferToThread(self._store.list_ids)
        jobs = await threads.deferToThread(lambda: [self._store.load(i) for i in ids])
        self._jobs = {job.id: job for job in jobs}
        for job in jobs:
            if not job.is_finalized:
                heapq.heappush(self._ready, (job.priority, job.id))
        self._drained = await threads.deferToThread(self._store.is_drained)
        for line in report.messages():
            log.info("job queue recovery: {line}", line=line)
        self._schedule()
        return report

    # -- submission --------------------------------------------------------------

    def _check_submittable(self, ops: Any, ignore_drain: bool = False) -> list[Any]:
        if self._drained and not ignore_drain:
            raise JobQueueDrainError(
                "the job queue is drained, new jobs are refused: gnt-cluster queue undrain"
            )
        if not isinstance(ops, list) or not ops:
            raise OpPrereqError("a job is a non-empty list of opcodes")
        return [load_opcode(op) for op in ops]

    async def submit(self, ops: Any, *, ignore_drain: bool = False) -> int:
        """Validate, persist and enqueue one job; returns its id once it is durable."""
        opcodes = self._check_submittable(ops, ignore_drain)
        [job_id] = await self._ids.allocate(1)
        return await self._accept(job_id, opcodes)

    async def submit_many(self, jobs: Any) -> list[list[Any]]:
        """Submit several jobs; a negative dependency refers back within this call."""
        if not isinstance(jobs, list):
            raise OpPrereqError("SubmitManyJobs takes a list of jobs")
        checked: list[list[Any] | CorralError] = []
        for ops in jobs:
            try:
                checked.append(self._check_submittable(ops))
            except CorralError as err:
                checked.append(err)
        ids = await self._ids.allocate(len(jobs))
        answers: list[list[Any]] = []
        accepted: list[tuple[int, Job]] = []
        for index, (job_id, opcodes) in enumerate(zip(ids, checked, strict=True)):
            if isinstance(opcodes, CorralError):
                answers.append([False, str(opcodes)])
                continue
            try:
                resolved = [self._resolve_relative(op, ids, index) for op in opcodes]
                accepted.append((index, self._new_job(job_id, resolved)))
                answers.append([True, job_id])
            except CorralError as err:
                answers.append([False, str(err)])
        # All written at once: their fsyncs overlap and the candidates get one batch,
        # where one after the other cost a disk sync and a round trip each.
        written = await defer.DeferredList(
            [self._files.persist(job) for _, job in accepted], consumeErrors=True
        )
        for (index, job), (ok, outcome) in zip(accepted, written, strict=True):
            if ok:
                self._enqueue(job)
            else:
                why = getattr(outcome, "value", outcome)
                answers[index] = [False, f"job {job.id} could not be stored: {why}"]
        return answers

    @staticmethod
    def _resolve_relative(op: Any, ids: list[int], index: int) -> Any:
        depends = op.depends
        if not depends:
            return op
        resolved = []
        for dep_id, statuses in depends:
            if dep_id < 0:
                if index + dep_id < 0:
                    raise OpPrereqError(f"relative dependency {dep_id} points before the first job")
                dep_id = ids[index + dep_id]
            resolved.append([dep_id, statuses])
        op.depends = resolved
        return op

    async def _accept(self, job_id: int, opcodes: list[Any]) -> int:
        job = self._new_job(job_id, opcodes)
        await self._files.persist(job)
        self._enqueue(job)
        return job_id

    def _new_job(self, job_id: int, opcodes: list[Any]) -> Job:
        for op in opcodes:
            for dep_id, _ in op.depends or ():
                if dep_id < 0:
                    raise OpPrereqError("relative job dependencies need SubmitManyJobs")
        return Job.new(job_id, opcodes, self._now())

    def _enqueue(self, job: Job) -> None:
        """A durable job joins the queue and may run."""
        job_id = job.id
        self._jobs[job_id] = job
        heapq.heappush(self._ready, (job.priority, job_id))
        self._notify(job)
        self._schedule()

    # -- scheduling --------------------------------------------------------------

    def set_max_running(self, limit: int) -> None:
        """Change how many jobs may run at once; a higher limit starts waiting jobs now."""
        self.max_running = max(1, int(limit))
        self._schedule()

    def _dependency_state(self, job: Job) -> str | None:
        """None if the job may run now, "wait" if not yet, or why it never can."""
        for dep_id, statuses in job.depends:
            dep = self._jobs.get(dep_id)
            if dep is None:
                if dep_id >= job.id:
                    return f"job {job.id} depends on job {dep_id}, which does not exist"
                continue  # archived long ago: it finished, and Ganeti treats it as done
            if not dep.is_finalized:
                return "wait"
            if statuses and str(dep.status) not in statuses:
                return (
                    f"dependency job {dep_id} ended as {dep.status}, not one of"
                    f" {', '.join(statuses)}"
                )
        return None

    def _schedule(self) -> None:
        """Start the most urgent ready jobs while there is room."""
        while len(self._running) < self.max_running and self._ready:
            priority, job_id = heapq.heappop(self._ready)
            job = self._jobs.get(job_id)
            if job is None or job.is_finalized or job_id in self._running:
                continue  # a stale entry
            if job.priority != priority:
                heapq.heappush(self._ready, (job.priority, job_id))  # reprioritised
                continue
            blocker = self._dependency_state(job)
            if blocker == "wait":
                self._blocked.add(job_id)
                continue
            if blocker is not None:
                job.fail_unfinished(blocker, self._now())
                self._changed(job)
                continue
            running = defer.Deferred.fromCoroutine(self._run(job))
            self._running[job.id] = running
            running.addBoth(self._finished, job.id)

    def _finished(self, result: object, job_id: int) -> None:
        del self._running[job_id]
        self._in_lock_wait.discard(job_id)
        if job_id in self._killing:
            self._killing.discard(job_id)
            job = self._jobs[job_id]
            if not job.is_finalized:  # _run died before recording the kill
                job.kill(self._now())
                self._changed(job)
        for blocked in self._blocked:  # their dependency may be this job
            heapq.heappush(self._ready, (self._jobs[blocked].priority, blocked))
        self._blocked.clear()
        if isinstance(result, Failure) and not isinstance(result.value, defer.CancelledError):
            log.failure("job {job} stopped unexpectedly", result, job=job_id)
        self._schedule()

    async def _run(self, job: Job) -> None:
        for index, queued in enumerate(job.ops):
            if job.is_finalized:
                return
            if queued.status is OpStatus.SUCCESS:
                continue
            job.mark_waiting(index, self._now())
            # Not written on its own: after a crash a waiting job is simply pending
            # again, and the next durable write (running) carries this state too.
            self._notify(job)
            ctx = LUContext(
                self._clock,
                self._locks,
                job.id,
                feedback=functools.partial(self._feedback, job, index),
                locked=functools.partial(self._locked, job, index),
            )
            self._in_lock_wait.add(job.id)
            try:
                result = await self._processor.run(ctx, queued.opcode(), queued.priority)
                success = True
            except defer.CancelledError:
                if job.id not in self._killing:
                    return  # canceled while waiting for locks: cancel() recorded it
                result, success = None, False
            except CorralError as err:
                result, success = encode_error(err), False
            except Exception as err:
                log.failure("opcode {index} of job {job} crashed", index=index, job=job.id)
                result, success = encode_error(OpExecError(f"internal error: {err}")), False
            finally:
                self._in_lock_wait.discard(job.id)
            killed = job.id in self._killing
            if killed and not success:
                # Stopped where it stood (or failed of it): its effect is unknown.
                job.kill(self._now())
                await self._changed(job)
                return
            if job.ops[index].status is OpStatus.WAITING:
                job.mark_running(index, self._now())  # failed before it held its locks
            job.finish_op(index, success, result, self._now())
            if killed and not job.is_finalized:
                job.kill(self._now())  # it ended before the kill reached it; the rest not
            await self._changed(job)
            if not success or killed:
                return

    def _locked(self, job: Job, index: int) -> defer.Deferred[None]:
        """The opcode holds its locks: record it running, durably, before it executes.

        Were the opcode to run first, a crash could leave a file saying
        "waiting" for work that was half done, and the restarted master
        would run it again; recorded as running, it is failed instead.
        """
        self._in_lock_wait.discard(job.id)
        job.mark_running(index, self._now())
        if job.start_timestamp is None:
            job.start_timestamp = job.ops[index].start_timestamp
        # The opcode waits on a Deferred of its own: a kill cancels what the opcode
        # awaits, and cancelling the write itself would be swallowed by its error
        # handler, letting the opcode go on as if nothing had happened.
        recorded: defer.Deferred[None] = defer.Deferred()
        self._changed(job).chainDeferred(recorded)
        return recorded

    def _feedback(self, job: Job, index: int, message: str) -> None:
        job.add_log(index, "message", message, self._now())
        if job.id not in self._log_writes:
            self._log_writes[job.id] = self._clock.callLater(LOG_DELAY, self._write_log, job)

    def _write_log(self, job: Job) -> None:
        del self._log_writes[job.id]
        self._changed(job, replicate=False)

    def _changed(self, job: Job, *, replicate: bool = True) -> defer.Deferred[None]:
        """Persist the job; once that is durable, wake its watchers and tell the hooks.

        Nobody learns of a state (a final status, a log line) that a crash
        could still take back. Log lines waiting for their own write go
        along with this one. ``replicate=False`` (log lines only) writes
        the file here without sending it to the candidates.
        """
        waiting = self._log_writes.pop(job.id, None)
        if waiting is not None:
            waiting.cancel()
        written = self._files.persist(job, replicate=replicate)

        def saved(result: object) -> object:
            if isinstance(result, Failure):
                log.failure("job {job} could not be saved", result, job=job.id)
            self._notify(job)
            return None

        written.addBoth(saved)
        return written

    def _notify(self, job: Job) -> None:
        """Wake the job's watchers and tell the hooks its status, if it changed.

        The change reported is from the status last announced, so hooks see
        each transition once and in order, even when several writes were
        coalesced into one (a quick opcode's "running" may then never be
        reported on its own: it was never on disk on its own).
        """
        for watcher in self._watchers.pop(job.id, []):
            watcher.callback(None)
        old, new = self._announced.get(job.id), job.status
        if old != new:
            self._announced[job.id] = new
            before = None if old is None else str(old)
            for impl in self._pm.hook.corral_job_state_changed.get_hookimpls():
                try:
                    call_impl(impl, job=job.id, old=before, new=str(new))
                except Exception:
                    log.failure("job state hook of {plugin} failed", plugin=impl.plugin_name)

    # -- operator requests ---------------------------------------------------------

    def _job(self, job_id: Any) -> Job | None:
        if not isinstance(job_id, int) or isinstance(job_id, bool):
            try:
                job_id = int(job_id)
            except (TypeError, ValueError):
                raise OpPrereqError(f"invalid job id {job_id!r}") from None
        return self._jobs.get(job_id)

    async def cancel(self, job_id: Any, kill: Any = False) -> list[Any]:
        """Cancel a job; with ``kill`` (Ganeti's forced cancel) a running one too.

        Without ``kill`` a running job only becomes canceling: its opcode is
        left to finish, so that nothing is half done. A kill stops it at
        once, for an opcode that hangs or must not go on.
        """
        if not isinstance(kill, bool):
            raise OpPrereqError(f"kill must be true or false, not {kill!r}")
        job = self._job(job_id)
        if job is None:
            return [False, f"Job {job_id} not found"]
        status = job.status
        if kill and status in (JobStatus.RUNNING, JobStatus.CANCELING):
            return await self._kill(job)
        if status in JOBS_FINALIZED or status is JobStatus.CANCELING:
            verb = "killed" if kill else "canceled"
            return [False, f"Job {job.id} is {status} and cannot be {verb}"]
        new = job.cancel(self._now())
        if new is JobStatus.CANCELED and job.id in self._in_lock_wait:
            self._running[job.id].cancel()  # gives back the locks it holds or waits for
        await self._changed(job)
        if new is JobStatus.CANCELED:
            return [True, f"Job {job.id} canceled"]
        return [True, f"Job {job.id} will be canceled when its running opcode ends"]

    async def _kill(self, job: Job) -> list[Any]:
        """Stop a running job's opcode where it stands; answer once the job is final.

        Cancelling the job's coroutine raises CancelledError at the
        opcode's current await point: timers are cancelled, child processes
        are terminated (see :class:`~corral.api.process.ProcessRunner`), the
        processor gives back every lock, and :meth:`_run` records the kill.
        """
        running = self._running.get(job.id)
        if running is None:  # not executing here (cannot happen after recovery)
            job.kill(self._now())
            await self._changed(job)
            return [True, f"Job {job.id} killed"]
        first = job.id not in self._killing
        self._killing.add(job.id)
        stopped: defer.Deferred[None] = defer.Deferred()
        # After _finished; by then the wait may have timed out (stopped is called).
        running.addBoth(lambda _: None if stopped.called else stopped.callback(None))
        stopped.addTimeout(KILL_WAIT, self._clock)
        if first:  # a second kill waits for the first: once stopping, it only records
            running.cancel()
        try:
            await stopped
        except defer.TimeoutError:
            return [True, f"Job {job.id} is being killed; its opcode has not stopped yet"]
        return [True, f"Job {job.id} killed"]

    async def change_priority(self, job_id: Any, priority: Any) -> list[Any]:
        job = self._job(job_id)
        if job is None:
            return [False, f"Job {job_id} not found"]
        if not isinstance(priority, int):
            raise OpPrereqError(f"priority must be an integer, not {priority!r}")
        try:
            changed = job.change_priority(priority)
        except CorralError as err:
            return [False, str(err)]
        await self._changed(job)
        heapq.heappush(self._ready, (job.priority, job.id))
        self._schedule()
        if not changed:
            return [True, f"Job {job.id} has no opcode left to reprioritise"]
        return [True, f"Job {job.id} priority changed to {priority}"]

    async def archive(self, job_id: Any) -> bool:
        job = self._job(job_id)
        if job is None or not job.is_finalized:
            return False
        await self._files.persist(job)  # the file must hold the final state first
        target = await threads.deferToThread(self._store.archive, job.id)
        relative = target.relative_to(self._store.queue_dir).as_posix()
        await self._replicate(rename_op(f"job-{job.id}", relative))
        del self._jobs[job.id]
        self._announced.pop(job.id, None)
        return True

    async def auto_archive(self, age: Any, timeout: Any) -> list[int]:
        now = self._now()
        old = [
            j.id for j in sorted(self._jobs.values(), key=lambda j: j.id)
            if j.is_finalized and (age < 0 or (j.end_timestamp and now - j.end_timestamp[0] >= age))
        ]  # fmt: skip
        archived = 0
        for job_id in old:
            if await self.archive(job_id):
                archived += 1
        return [archived, 0]  # everything old enough was checked: none left over

    async def set_drain(self, flag: Any) -> bool:
        if not isinstance(flag, bool):
            raise OpPrereqError(f"the drain flag must be true or false, not {flag!r}")
        await threads.deferToThread(self._store.set_drain, flag)
        await self._replicate(write_op("drain", b"") if flag else remove_op("drain"))
        self._drained = flag
        return True

    @property
    def drained(self) -> bool:
        return self._drained

    # -- queries -------------------------------------------------------------------

    def query(self, job_ids: Any, fields: Any) -> list[Any]:
        if not isinstance(fields, list) or not all(isinstance(f, str) for f in fields):
            raise OpPrereqError("fields must be a list of field names")
        getters = row_getters(fields)
        if job_ids is None:
            jobs = sorted(self._jobs.values(), key=lambda j: j.id)
            return [[get(job) for get in getters] for job in jobs]
        if not isinstance(job_ids, list):
            raise OpPrereqError("job ids must be a list (or null for all jobs)")
        rows: list[Any] = []
        for job_id in job_ids:
            job = self._job(job_id)
            rows.append(None if job is None else [get(job) for get in getters])
        return rows

    async def wait_for_change(
        self, job_id: Any, fields: Any, prev_info: Any, prev_serial: Any, timeout: Any
    ) -> Any:
        job = self._job(job_id)
        if job is None:
            return None
        serial = prev_serial if isinstance(prev_serial, int) else -1
        wait = min(float(timeout), 60.0) if isinstance(timeout, int | float) else 10.0
        deadline = self._clock.seconds() + wait
        while True:
            info = job_row(job, fields)
            entries = job.log_entries(serial)
            if info != prev_info or entries or job.is_finalized:
                return [info, [[e.serial, _ts(e.timestamp), e.type, e.message] for e in entries]]
            remaining = deadline - self._clock.seconds()
            if remaining <= 0:
                return NO_CHANGE
            changed: defer.Deferred[None] = defer.Deferred()
            self._watchers.setdefault(job.id, []).append(changed)
            changed.addTimeout(remaining, self._clock)
            try:
                await changed
            except defer.TimeoutError:
                return NO_CHANGE
