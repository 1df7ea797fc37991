"""Submitting jobs from the ``gnt-*`` tools and following them until they end.

Every command that submits a job uses these helpers, so that all of them
take Ganeti's options and print what Ganeti prints:

* ``--submit`` sends the job and returns at once; ``JobID: N`` goes to
  standard error with exit status 0, as Ganeti reports a submitted job;
* ``--print-jobid`` prints the job ID alone on the first line of standard
  output (for scripts), then waits as usual (or returns, with ``--submit``);
* ``--priority low|normal|high`` sets every opcode's priority (10, 0, -10).

While waiting, each log message of the job is printed as Ganeti's clients
print feedback: the message's time as ``time.ctime`` gives it, a space and
the message (non-printable characters escaped, so one message is one line)::

    Sun Nov 22 06:10:00 2026 Sleeping for 2.0 seconds

A job that fails raises :class:`JobFailure`, whose text is the error of the
failed opcode, so the tool prints ``Failure: <error>`` and exits with 1.

The master daemon is polled with ``WaitForJobChange`` (at most
:data:`WFJC_TIMEOUT` seconds per call) until the job's status is final;
``"nochange"`` answers only repeat the call, a ``null`` answer means the job
is gone (archived), and the final result is read with ``QueryJobs``.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from collections.abc import Mapping
from collections.abc import Sequence
from typing import TYPE_CHECKING
from typing import Any
from typing import Final

from corral.api.errors import CorralError
from corral.luxi.client import Client
from corral.luxi.protocol import LuxiError

if TYPE_CHECKING:
    import argparse

    from corral.opcodes import OpCode


#: ``--priority`` names and their opcode values (Ganeti's OP_PRIO_LOW/NORMAL/HIGH).
PRIORITIES: Final = {"low": 10, "normal": 0, "high": -10}
#: Seconds one ``WaitForJobChange`` call may wait before answering ``"nochange"``.
WFJC_TIMEOUT: Final = 30.0
#: ``WaitForJobChange``'s answer when nothing changed in time.
JOB_NOTCHANGED: Final = "nochange"
#: Job statuses after which nothing changes (Ganeti's JOBS_FINALIZED).
FINAL_STATUSES: Final = frozenset({"canceled", "success", "error"})
#: Source of the reason trail entry a tool adds (Ganeti's ``gnt:client``).
REASON_SOURCE_CLIENT: Final = "gnt:client"
#: What Ganeti says when the queue refuses new jobs.
DRAINED_MESSAGE: Final = "the job queue is marked for drain and doesn't accept new requests"

Feedback = Callable[[Sequence[Any], str, Any], None]
"""Called with ``(timestamp, log type, message)`` for each log entry of a job."""


class JobFailure(CorralError):
    """A job that was waited for did not succeed.

    ``status`` is the job's final status; ``op_index`` the failed opcode
    (None when the job was canceled or lost); ``error_class`` the name of
    the error the opcode reported, when it reported one in Ganeti's encoded
    form (``OpExecError``, ``OpPrereqError``, ...).
    """

    def __init__(
        self,
        job_id: int,
        message: str,
        *,
        status: str | None = None,
        op_index: int | None = None,
        error_class: str | None = None,
    ) -> None:
        super().__init__(message)
        self.job_id = job_id
        self.status = status
        self.op_index = op_index
        self.error_class = error_class


# -- options --------------------------------------------------------------------


def add_priority_option(parser: argparse.ArgumentParser, help: str | None = None) -> None:
    """Ganeti's ``--priority low|normal|high`` (stored as the name, or None)."""
    parser.add_argument(
        "--priority",
        choices=list(PRIORITIES),
        metavar="|".join(PRIORITIES),
        help=help or "priority for opcode processing (low, normal or high; default normal)",
    )


def add_submit_options(parser: argparse.ArgumentParser) -> None:
    """``--submit``, ``--print-jobid`` and ``--priority`` for a job-submitting command."""
    parser.add_argument(
        "--submit",
        dest="submit_only",
        action="store_true",
        help="submit the job and print its ID (as 'JobID: N' on standard error), "
        "but do not wait for the job to finish",
    )
    parser.add_argument(
        "--print-jobid",
        action="store_true",
        help="additionally print the job ID alone as the first line on standard "
        "output (for scripting)",
    )
    add_priority_option(parser)
    parser.set_defaults(_submit_prog=parser.prog)


def priority_value(name: str | None) -> int | None:
    """The opcode priority for a ``--priority`` name (None stays None)."""
    return None if name is None else PRIORITIES[name]


# -- submitting -----------------------------------------------------------------


def _reason_entry(args: argparse.Namespace) -> list[Any] | None:
    """Ganeti's client reason: ``["gnt:client:gnt-debug", "delay", nanoseconds]``."""
    prog = getattr(args, "_submit_prog", None)
    if not isinstance(prog, str) or not prog.strip():
        return None
    words = prog.split()
    command = words[1] if len(words) > 1 else getattr(args, "command", None) or ""
    return [f"{REASON_SOURCE_CLIENT}:{words[0]}", command, time.time_ns()]


def make_opcode(op_id: str, **fields: Any) -> OpCode:
    """Build and check an opcode (``corral.opcodes.make_opcode``).

    The opcode schemas (marshmallow) load here, on first use: a command that
    only lists or shows things starts a tenth of a second sooner without them.
    """
    from corral.opcodes import make_opcode as build

    return build(op_id, **fields)


def prepare_ops(
    ops: Sequence[OpCode | Mapping[str, Any]], args: argparse.Namespace
) -> list[dict[str, Any]]:
    """The opcodes as LUXI dicts with the generic options applied.

    As Ganeti's SetGenericOpcodeOpts does: ``--priority``, and when the
    command has them ``--dry-run`` and ``--debug``; a reason trail entry
    names the tool and command.
    """
    priority = priority_value(getattr(args, "priority", None))
    dry_run = getattr(args, "dry_run", None)
    debug = getattr(args, "debug", None)
    reason = _reason_entry(args)
    from corral.opcodes import OpCode
    from corral.opcodes import dump_opcode

    prepared = []
    for op in ops:
        data = dump_opcode(op) if isinstance(op, OpCode) else dict(op)
        if priority is not None:
            data["priority"] = priority
        if dry_run:
            data["dry_run"] = True
        if isinstance(debug, int) and not isinstance(debug, bool) and debug > 0:
            data["debug_level"] = debug
        if reason is not None:
            data["reason"] = [*(data.get("reason") or []), reason]
        prepared.append(data)
    return prepared


#: Names the master's drained-queue error may travel under (corral's, Ganeti's).
_DRAINED_ERRORS: Final = ("JobQueueDrained", "JobQueueDrainError")


def is_drained_error(err: BaseException) -> bool:
    """Whether the master refused a job because the queue is drained.

    The error class is not one the LUXI client rebuilds, so it arrives as
    ``"JobQueueDrained: <message>"``; its own class or message also count.
    """
    text = str(err)
    return (
        type(err).__name__ in _DRAINED_ERRORS
        or text.startswith(_DRAINED_ERRORS)
        or "queue is drained" in text
        or "marked for drain" in text
    )


def submit_job(
    client: Client, ops: Sequence[OpCode | Mapping[str, Any]], args: argparse.Namespace
) -> int:
    """Submit one job built from ``ops`` and return its ID (no waiting, no output)."""
    try:
        return client.submit_job(prepare_ops(ops, args))
    except CorralError as err:
        if is_drained_error(err):
            raise CorralError(DRAINED_MESSAGE) from None
        raise


def submit_and_wait(
    client: Client, ops: Sequence[OpCode | Mapping[str, Any]], args: argparse.Namespace
) -> tuple[str | None, list[Any]]:
    """Submit a job as the command's options say and, unless ``--submit``, wait for it.

    Returns ``(status, results)``: ``("success", [one result per opcode])``
    once the job succeeded, or ``(None, [])`` when ``--submit`` sent it
    without waiting (the command then exits with 0). Log messages are
    printed as they arrive; a failed, canceled or lost job raises
    :class:`JobFailure`.
    """
    job_id = submit_job(client, ops, args)
    if getattr(args, "print_jobid", False):
        print(job_id, flush=True)
    if getattr(args, "submit_only", False):
        print(f"JobID: {job_id}", file=sys.stderr)
        return None, []
    results = poll_job(client, job_id)
    return "success", results


def submit(args: argparse.Namespace, *ops: OpCode) -> tuple[str | None, list[Any]]:
    """One job of ``ops`` on a connection of its own, as :func:`submit_and_wait` runs it."""
    with Client() as client:
        return submit_and_wait(client, list(ops), args)


# -- formatting -----------------------------------------------------------------


def safe_encode(text: str) -> str:
    """Ganeti's SafeEncode: one printable ASCII line (``\\n``, ``\\t``, ``\\xNN`` escapes)."""
    text = text.encode("ascii", "backslashreplace").decode("ascii")
    out = []
    for char in text:
        code = ord(char)
        if char == "\t":
            out.append(r"\t")
        elif char == "\n":
            out.append(r"\n")
        elif char == "\r":
            out.append(r"\'r")  # sic: Ganeti's own escape for a carriage return
        elif code < 32 or code >= 127:
            out.append(f"\\x{code & 0xFF:02x}")
        else:
            out.append(char)
    return "".join(out)


def format_log_message(log_type: str, message: Any) -> str:
    """A log entry's message as text: plain messages as they are, others via ``str``."""
    if log_type != "message" or not isinstance(message, str):
        message = str(message)
    return safe_encode(message)


def _seconds(timestamp: Any) -> float | None:
    if (
        isinstance(timestamp, list | tuple)
        and len(timestamp) == 2
        and all(isinstance(v, int | float) and not isinstance(v, bool) for v in timestamp)
    ):
        return float(timestamp[0]) + float(timestamp[1]) / 1_000_000
    return None


def feedback_line(timestamp: Any, log_type: str, message: Any) -> str:
    """One line of job feedback as Ganeti prints it: ``Sun Nov 22 06:10:00 2026 text``."""
    seconds = _seconds(timestamp)
    when = time.ctime(seconds) if seconds is not None else "?"
    return f"{when} {format_log_message(log_type, message)}"


def print_feedback(timestamp: Sequence[Any], log_type: str, message: Any) -> None:
    """The default feedback: each log message on standard output as it arrives."""
    print(feedback_line(timestamp, log_type, message), flush=True)


def format_timestamp(timestamp: Any) -> str:
    """Ganeti's FormatTimestamp: ``2026-11-22 06:10:00.123456`` (local time), ``?`` if invalid."""
    if (
        not isinstance(timestamp, list | tuple)
        or len(timestamp) != 2
        or not all(isinstance(v, int) and not isinstance(v, bool) for v in timestamp)
    ):
        return "?"
    seconds, micros = timestamp
    return f"{time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(seconds))}.{micros:06d}"


# -- waiting --------------------------------------------------------------------


def _lost(job_id: int) -> JobFailure:
    return JobFailure(job_id, f"Error checking job status: Job with id {job_id} lost")


def _decoded_op_error(result: Any) -> tuple[str, str] | None:
    """``(class name, message)`` of an opcode result in Ganeti's encoded error form."""
    if (
        isinstance(result, list | tuple)
        and len(result) == 2
        and isinstance(result[0], str)
        and isinstance(result[1], list | tuple)
    ):
        name, error_args = result
        # OpPrereqError carries (message, error code): the message is what matters.
        message = str(error_args[0]) if error_args else name
        return name, message
    return None


def job_failure(
    job_id: int, status: str, opstatus: Sequence[Any], opresult: Sequence[Any]
) -> JobFailure:
    """The error to raise for a finished job that did not succeed (Ganeti's rules)."""
    if status in ("canceling", "canceled"):
        return JobFailure(job_id, "Job was canceled", status=status)
    has_ok = False
    for index, (op_status, result) in enumerate(zip(opstatus, opresult, strict=False)):
        if op_status == "success":
            has_ok = True
        elif op_status == "error":
            decoded = _decoded_op_error(result)
            if decoded is not None:
                name, message = decoded
                return JobFailure(job_id, message, status=status, op_index=index, error_class=name)
            if has_ok:
                return JobFailure(
                    job_id,
                    f"partial failure (opcode {index}): {result}",
                    status=status,
                    op_index=index,
                )
            return JobFailure(job_id, str(result), status=status, op_index=index)
    return JobFailure(job_id, str(list(opresult)), status=status)


def _check_change(job_id: int, answer: Any) -> tuple[list[Any], list[Any]]:
    if (
        not isinstance(answer, list)
        or len(answer) != 2
        or not isinstance(answer[0], list)
        or not answer[0]
        or not isinstance(answer[1], list | None)
    ):
        raise LuxiError(
            f"the master daemon gave an answer to WaitForJobChange for job {job_id} "
            f"that is not [job info, log entries]: {answer!r}"
        )
    return answer[0], answer[1] or []


def poll_job(
    client: Client,
    job_id: int,
    feedback: Feedback | None = print_feedback,
    *,
    report_waiting: bool = True,
) -> list[Any]:
    """Wait until job ``job_id`` ends; return its opcodes' results if it succeeded.

    Each new log entry goes to ``feedback`` (None: ignore them). With
    ``report_waiting``, a job that stays queued or waiting for locks is
    reported once on standard error, as Ganeti does. Raises
    :class:`JobFailure` when the job failed, was canceled or disappeared.
    """
    prev_info: list[Any] | None = None
    prev_serial: int | None = None
    status: str | None = None
    told_queued = told_waiting = False
    while True:
        answer = client.wait_for_job_change(
            job_id, ["status"], prev_info, prev_serial, WFJC_TIMEOUT
        )
        if answer is None:
            raise _lost(job_id)
        if answer == JOB_NOTCHANGED:
            if report_waiting and status == "queued" and not told_queued:
                print(f"Job {job_id} is waiting in queue", file=sys.stderr, flush=True)
                told_queued = True
            elif report_waiting and status == "waiting" and not told_waiting:
                print(
                    f"Job {job_id} is trying to acquire all necessary locks",
                    file=sys.stderr,
                    flush=True,
                )
                told_waiting = True
            continue
        job_info, entries = _check_change(job_id, answer)
        status = str(job_info[0])
        for entry in entries:
            if not isinstance(entry, list | tuple) or len(entry) != 4:
                raise LuxiError(f"job {job_id}: malformed log entry {entry!r}")
            serial, timestamp, log_type, message = entry
            if feedback is not None:
                feedback(timestamp, str(log_type), message)
            prev_serial = serial if prev_serial is None else max(prev_serial, serial)
        if status in FINAL_STATUSES:
            break
        prev_info = job_info
    rows = client.query_jobs([job_id], ["status", "opstatus", "opresult"])
    if not rows or rows[0] is None:
        raise _lost(job_id)
    status, opstatus, opresult = rows[0]
    if status == "success":
        return list(opresult)
    raise job_failure(job_id, str(status), opstatus or [], opresult or [])
