"""Carrying out hbal's solution through the master daemon (``hbal -L -X``).

Each move becomes one job (one to three opcodes, as ``-C`` lists them as
commands); the moves of one jobset touch disjoint nodes, so their jobs are
submitted together and run in parallel. The jobsets run one after the
other: the next is submitted only when every job of the current one has
ended, and execution stops at the first jobset with a job that did not
succeed.

Interrupting: the first SIGINT (^C) asks hbal to stop once the running
jobset has ended; a second SIGINT, or a SIGTERM, makes it exit at once with
status 2 (the jobs already submitted go on in the master daemon).
"""

from __future__ import annotations

import contextlib
import signal
import sys
import time
from dataclasses import dataclass
from dataclasses import field
from typing import TYPE_CHECKING
from typing import Any
from typing import Final

from corral_htools.moves import opcodes

if TYPE_CHECKING:
    from collections.abc import Callable
    from collections.abc import Iterator
    from types import FrameType

    from corral.luxi.client import Client
    from corral_htools.moves import Move
    from corral_htools.state import GroupState

#: ``--priority`` names and the opcode priorities they stand for (Ganeti's OP_PRIO_*).
PRIORITIES: Final = {"low": 10, "normal": 0, "high": -10}
#: Where the reason trail says the jobs come from.
REASON_SOURCE: Final = "gnt:client:hbal"
#: Job statuses after which nothing changes.
FINAL: Final = frozenset({"success", "error", "canceled"})
#: Seconds one WaitForJobChange call may block before answering "nochange".
WAIT_TIMEOUT: Final = 30.0
#: Exit status when the user asked to stop at once (Ganeti's hbal uses 2 as well).
EXIT_ABORTED: Final = 2


@dataclass
class Job:
    """The job that carries out one move."""

    instance: str
    ops: list[dict[str, Any]]


@dataclass
class Outcome:
    """How one job ended."""

    job_id: int | None
    instance: str
    status: str
    error: str = ""


def jobs_for(st: GroupState, jobsets: list[list[Move]]) -> list[list[Job]]:
    """The jobs for each jobset, opcodes as hail's evacuation answers give them."""
    out = []
    for jobset in jobsets:
        jobs = []
        for move in jobset:
            inst = st.instances[move.inst]
            target = st.nodes[move.target].name if move.target >= 0 else ""
            jobs.append(Job(inst.name, opcodes(move.kind, inst.name, target, inst.running)))
        out.append(jobs)
    return out


def annotate(
    ops: list[dict[str, Any]], priority: str, reason: str | None, now_ns: int
) -> list[dict[str, Any]]:
    """The opcodes with the job priority and a reason trail entry naming hbal."""
    entry = [REASON_SOURCE, reason or "", now_ns]
    return [
        {**op, "priority": PRIORITIES[priority], "reason": [*(op.get("reason") or []), entry]}
        for op in ops
    ]


def error_text(result: Any) -> str:
    """An opcode's error result as one line (Ganeti encodes it ``[class, [message, ...]]``)."""
    if (
        isinstance(result, list)
        and len(result) == 2
        and isinstance(result[0], str)
        and isinstance(result[1], list)
    ):
        message = str(result[1][0]) if result[1] else ""
        return f"{result[0]}: {message}" if message else result[0]
    return str(result)


@dataclass
class _Stop:
    """The state of the user's interruption requests."""

    requested: bool = False
    previous: dict[int, Any] = field(default_factory=dict)


class Executor:
    """Runs jobsets over one LUXI connection, printing hbal's progress lines."""

    def __init__(
        self,
        client: Client,
        *,
        priority: str = "normal",
        reason: str | None = None,
        out: Callable[[str], None] | None = None,
        clock: Callable[[], int] = time.time_ns,
    ) -> None:
        self.client = client
        self.priority = priority
        self.reason = reason
        self.out = out or _print
        self.clock = clock
        self.stop = _Stop()

    # -- signals ----------------------------------------------------------------

    def _on_sigint(self, signum: int, frame: FrameType | None) -> None:
        if self.stop.requested:
            self._on_sigterm(signum, frame)
        self.stop.requested = True
        self._say("Stop requested: hbal will exit once the current jobset has finished...")

    def _on_sigterm(self, signum: int, frame: FrameType | None) -> None:
        self._say("Exiting at once: the jobs already submitted go on in the master daemon.")
        raise SystemExit(EXIT_ABORTED)

    def _say(self, line: str) -> None:
        with contextlib.suppress(RuntimeError):  # a handler may interrupt a print
            self.out(line)

    def _install(self) -> None:
        for sig, handler in ((signal.SIGINT, self._on_sigint), (signal.SIGTERM, self._on_sigterm)):
            try:
                self.stop.previous[sig] = signal.signal(sig, handler)
            except ValueError:  # not the main thread (tests): no handlers
                return

    def _restore(self) -> None:
        for sig, handler in self.stop.previous.items():
            signal.signal(sig, handler)
        self.stop.previous.clear()

    # -- running ----------------------------------------------------------------

    def run(self, jobsets: list[list[Job]], first_only: bool = False) -> int:
        """Execute the jobsets in order; the exit status hbal should end with."""
        self._install()
        try:
            for k, jobset in enumerate(jobsets):
                if k and self.stop.requested:
                    self.out(
                        "Stopping early at the user's request; the cluster is in a stable state."
                    )
                    return 0
                if k and first_only:
                    return 0
                failed = [o for o in self.run_jobset(jobset) if o.status != "success"]
                if failed:
                    details = "; ".join(_describe(o) for o in failed)
                    print(
                        f"Error: not all jobs of the jobset succeeded: {details}\n"
                        "Aborting: later jobsets were not submitted.",
                        file=sys.stderr,
                        flush=True,
                    )
                    return 1
            return 0
        finally:
            self._restore()

    def run_jobset(self, jobset: list[Job]) -> list[Outcome]:
        """Submit the jobs of one jobset together and wait until all have ended."""
        self.out("Executing jobset for instances " + ", ".join(j.instance for j in jobset))
        now = self.clock()
        answers = self.client.submit_many_jobs(
            [annotate(j.ops, self.priority, self.reason, now) for j in jobset]
        )
        outcomes: list[Outcome] = []
        submitted: list[tuple[int, Job]] = []
        for job, answer in zip(jobset, _answers(answers, len(jobset)), strict=True):
            ok, value = answer
            if ok:
                submitted.append((int(value), job))
            else:
                outcomes.append(Outcome(None, job.instance, "not submitted", str(value)))
        if submitted:
            self.out("Got job IDs " + ", ".join(str(jid) for jid, _ in submitted))
        for jid, _job in submitted:
            self.wait(jid)
        if submitted:
            rows = self.client.query_jobs(
                [jid for jid, _ in submitted], ["status", "opstatus", "opresult"]
            )
            for (jid, job), row in zip(submitted, rows, strict=True):
                outcomes.append(_outcome(jid, job, row))
        return outcomes

    def wait(self, job_id: int) -> None:
        """Block until the job's status is final (or the job is gone)."""
        prev_info: list[Any] | None = None
        prev_serial: int | None = None
        while True:
            answer = self.client.wait_for_job_change(
                job_id, ["status"], prev_info, prev_serial, WAIT_TIMEOUT
            )
            if answer is None:
                return
            if answer == "nochange":
                continue
            info, entries = answer
            for entry in entries or []:
                serial = entry[0]
                prev_serial = serial if prev_serial is None else max(prev_serial, serial)
            if info and info[0] in FINAL:
                return
            prev_info = info


def _answers(answers: Any, count: int) -> Iterator[tuple[bool, Any]]:
    if not isinstance(answers, list) or len(answers) != count:
        raise ValueError(f"the master answered SubmitManyJobs with {answers!r}")
    for answer in answers:
        if not isinstance(answer, list | tuple) or len(answer) != 2:
            raise ValueError(f"the master answered SubmitManyJobs with {answers!r}")
        yield bool(answer[0]), answer[1]


def _outcome(job_id: int, job: Job, row: Any) -> Outcome:
    if not isinstance(row, list | tuple) or len(row) != 3:
        return Outcome(job_id, job.instance, "lost", "the job is no longer known to the master")
    status, opstatus, opresult = row
    error = ""
    if status != "success":
        failed = [
            error_text(result)
            for op_status, result in zip(opstatus or [], opresult or [], strict=False)
            if op_status == "error" and result is not None
        ]
        error = failed[0] if failed else ""
    return Outcome(job_id, job.instance, str(status), error)


def _describe(outcome: Outcome) -> str:
    who = f"job {outcome.job_id}" if outcome.job_id is not None else "a job"
    text = f"{who} ({outcome.instance}) {outcome.status}"
    return f"{text}: {outcome.error}" if outcome.error else text


def _print(line: str) -> None:
    print(line, flush=True)
