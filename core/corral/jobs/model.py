"""Jobs and their opcodes in memory: statuses, the state machine, serialisation.

A :class:`Job` is an ordered list of :class:`QueuedOpCode`; each carries the
submitted opcode (the dict :func:`corral.opcodes.dump_opcode` gives), its
own status, result, log and timestamps. The job's status is never stored:
it is derived from its opcodes with Ganeti's rules (:attr:`Job.status`).

Every change goes through a method of :class:`Job` that checks the
transition first and raises :class:`JobStateError` when it is not allowed,
so a bug in the queue cannot produce a job Ganeti's clients would not
understand. The opcode statuses move like this::

    queued            -> waiting, running   its turn comes (mark_waiting, mark_running)
    waiting           -> running
    running           -> success, error     it ends (finish_op)
    queued, waiting   -> canceled           cancel() of a queued or waiting job
    running, queued   -> canceling          cancel() of a running job
    canceling         -> success, error     the opcode that was running ends
    canceling         -> canceled           the later ones, once it has ended
    any unfinished    -> error              an earlier opcode failed, or
                                            fail_unfinished() (master restart),
                                            or kill() of a running job

Timestamps are Ganeti's ``(seconds, microseconds)`` pairs; methods take
``now`` as seconds since the epoch (``time.time()``) and convert it. Log
entries are Ganeti's ``(serial, timestamp, type, message)`` tuples with a
serial that grows across the whole job.

:meth:`Job.to_dict` gives the JSON document the job store writes (Ganeti's
key names); :meth:`Job.from_dict` checks such a document with a marshmallow
schema that refuses unknown keys, wrong types and opcode status sequences
the state machine cannot produce.
"""

from __future__ import annotations

import enum
import json
import re
from collections.abc import Iterable
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from typing import Any
from typing import Final
from typing import NamedTuple

from marshmallow import RAISE
from marshmallow import Schema
from marshmallow import ValidationError
from marshmallow import fields
from marshmallow import post_load
from marshmallow import validate
from marshmallow import validates_schema

from corral.api.errors import CorralError
from corral.api.params import flatten_messages
from corral.opcodes import OpCode
from corral.opcodes import dump_opcode
from corral.opcodes import load_opcode
from corral.opcodes.values import PRIORITY_DEFAULT
from corral.opcodes.values import PRIORITY_HIGHEST
from corral.opcodes.values import PRIORITY_LOWEST


class JobStatus(enum.StrEnum):
    """The status of a job, derived from its opcodes (Ganeti's values)."""

    QUEUED = "queued"
    WAITING = "waiting"
    RUNNING = "running"
    CANCELING = "canceling"
    CANCELED = "canceled"
    SUCCESS = "success"
    ERROR = "error"


class OpStatus(enum.StrEnum):
    """The status of one opcode of a job (Ganeti's values)."""

    QUEUED = "queued"
    WAITING = "waiting"
    RUNNING = "running"
    CANCELING = "canceling"
    CANCELED = "canceled"
    SUCCESS = "success"
    ERROR = "error"


#: Job statuses after which nothing changes any more.
JOBS_FINALIZED: Final = frozenset({JobStatus.CANCELED, JobStatus.ERROR, JobStatus.SUCCESS})
#: Job statuses of jobs still waiting for the queue (Ganeti's JOBS_PENDING).
JOBS_PENDING: Final = frozenset({JobStatus.QUEUED, JobStatus.WAITING, JobStatus.CANCELING})
#: Opcode statuses after which nothing changes any more.
OPS_FINALIZED: Final = frozenset({OpStatus.CANCELED, OpStatus.ERROR, OpStatus.SUCCESS})

#: Log entry types (Ganeti's ELOG_* values).
LOG_MESSAGE: Final = "message"
LOG_MESSAGE_LIST: Final = "message-list"
LOG_REMOTE_IMPORT: Final = "remote-import"
LOG_JQUEUE_TEST: Final = "jqueue-test"
LOG_DELAY_TEST: Final = "delay-test"
LOG_TYPES: Final = frozenset(
    {LOG_MESSAGE, LOG_MESSAGE_LIST, LOG_REMOTE_IMPORT, LOG_JQUEUE_TEST, LOG_DELAY_TEST}
)

#: Result given to opcodes canceled by request (Ganeti's text).
CANCELED_RESULT: Final = "Job canceled by request"
#: Result given to the running opcode of a killed job and to those after it.
KILLED_RESULT: Final = "Job killed by request"
#: Result given to the opcodes after one that failed: an encoded OpExecError,
#: as Ganeti stores it.
PRECEDING_FAILED_RESULT: Final = ("OpExecError", ("Preceding opcode failed",))

Timestamp = tuple[int, int]
"""Ganeti's timestamp: ``(seconds, microseconds)`` since the epoch."""


def split_time(now: float) -> Timestamp:
    """``time.time()`` as a Ganeti ``(seconds, microseconds)`` pair."""
    seconds, micros = divmod(round(now * 1_000_000), 1_000_000)
    return (int(seconds), int(micros))


class LogEntry(NamedTuple):
    """One feedback message of an opcode, as Ganeti's oplog shows it."""

    serial: int
    timestamp: Timestamp
    type: str
    message: Any


class JobError(CorralError):
    """Base of the job queue's errors."""


class JobStateError(JobError):
    """A job or opcode was asked to make a transition its status does not allow.

    ``op_index`` is None when the job as a whole was asked (cancel, archive).
    """

    def __init__(
        self,
        job_id: int,
        op_index: int | None,
        current: str,
        requested: str,
        message: str,
    ) -> None:
        self.job_id = job_id
        self.op_index = op_index
        self.current = current
        self.requested = requested
        super().__init__(message)


class JobFormatError(JobError):
    """A serialised job does not match the job schema.

    ``errors`` maps dotted field paths (``ops[1].status``) to messages.
    """

    def __init__(self, source: str, errors: dict[str, list[str]]) -> None:
        self.source = source
        self.errors = errors
        super().__init__(f"{source} {self.problems}")

    @property
    def problems(self) -> str:
        """``is not a valid job:`` and one indented line per problem."""
        lines = "".join(
            f"\n  {path}: {msg}" for path, msgs in sorted(self.errors.items()) for msg in msgs
        )
        return f"is not a valid job:{lines}"


def _json_value(value: Any, what: str) -> Any:
    """``value`` as it reads back from JSON (tuples become lists), or JobError."""
    try:
        return json.loads(json.dumps(value, allow_nan=False))
    except (TypeError, ValueError) as err:
        raise JobError(
            f"{what} must be a JSON value (strings, numbers, lists, dicts): {err}"
        ) from None


@dataclass
class QueuedOpCode:
    """One opcode of a job with its execution state.

    ``input`` is the opcode as submitted, in :func:`corral.opcodes.dump_opcode`
    form (``{"OP_ID": ..., parameters}``); ``priority`` starts as the
    opcode's own and may be changed while the opcode has not started.
    """

    input: dict[str, Any]
    status: OpStatus = OpStatus.QUEUED
    result: Any = None
    log: list[LogEntry] = field(default_factory=list)
    start_timestamp: Timestamp | None = None
    exec_timestamp: Timestamp | None = None
    end_timestamp: Timestamp | None = None
    priority: int = PRIORITY_DEFAULT
    #: The validated opcode when this process built it (not stored).
    _loaded: OpCode | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.status = OpStatus(self.status)
        # Normalised once: the input never changes, and the job file is written
        # several times over a job's life.
        self.input = _json_value(self.input, "an opcode")

    @classmethod
    def from_opcode(cls, op: OpCode | Mapping[str, Any]) -> QueuedOpCode:
        """Queue an opcode: an :class:`OpCode` (already validated) or a dict to validate.

        Raises :class:`corral.opcodes.OpcodeValidationError` naming the bad fields.
        """
        loaded = op if isinstance(op, OpCode) else load_opcode(op)
        return cls(input=dump_opcode(loaded), priority=loaded.priority, _loaded=loaded)

    @property
    def op_id(self) -> str:
        return str(self.input.get("OP_ID", "?"))

    @property
    def is_finalized(self) -> bool:
        return self.status in OPS_FINALIZED

    def opcode(self) -> OpCode:
        """The opcode for the logical unit that runs it (validated again if read from disk)."""
        if self._loaded is None:
            self._loaded = load_opcode(self.input)
        return self._loaded

    def summary(self) -> str:
        """Ganeti's short description, such as ``INSTANCE_SHUTDOWN(web1)``."""
        params = {k: v for k, v in self.input.items() if k != "OP_ID"}
        return OpCode(self.op_id, params).summary()

    def to_dict(self) -> dict[str, Any]:
        return {
            "input": self.input,
            "status": str(self.status),
            "result": self.result,
            "log": [[e.serial, list(e.timestamp), e.type, e.message] for e in self.log],
            "start_timestamp": _ts_out(self.start_timestamp),
            "exec_timestamp": _ts_out(self.exec_timestamp),
            "end_timestamp": _ts_out(self.end_timestamp),
            "priority": self.priority,
        }


def _ts_out(stamp: Timestamp | None) -> list[int] | None:
    return None if stamp is None else [stamp[0], stamp[1]]


@dataclass
class Job:
    """A job: its id, its opcodes and when it was received, started and ended.

    Change it only through its methods; each checks that the transition is
    allowed and raises :class:`JobStateError` (naming the job, the opcode and
    both statuses) when it is not. Opcodes run in order: one starts only
    after every earlier one succeeded.
    """

    id: int
    ops: list[QueuedOpCode]
    received_timestamp: Timestamp
    start_timestamp: Timestamp | None = None
    end_timestamp: Timestamp | None = None
    _log_serial: int = field(default=0, init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        if not self.ops:
            raise JobError(f"job {self.id}: a job needs at least one opcode")
        serials = [entry.serial for op in self.ops for entry in op.log]
        self._log_serial = max([self._log_serial, *serials])

    @classmethod
    def new(cls, job_id: int, ops: Sequence[OpCode | Mapping[str, Any]], now: float) -> Job:
        """A freshly submitted job: every opcode validated and queued.

        Raises :class:`corral.opcodes.OpcodeValidationError` for a bad opcode
        and :class:`JobError` for an empty list.
        """
        if not ops:
            raise JobError(
                f"job {job_id}: a job needs at least one opcode; submit a non-empty list"
            )
        queued = [QueuedOpCode.from_opcode(op) for op in ops]
        return cls(id=job_id, ops=queued, received_timestamp=split_time(now))

    # -- derived values ---------------------------------------------------

    @property
    def status(self) -> JobStatus:
        """The job's status, computed from its opcodes exactly as Ganeti does.

        An opcode that is canceling, canceled or failed decides the status
        (the first one found); otherwise the last waiting or running opcode
        does; otherwise the job is queued, or success when every opcode
        succeeded.
        """
        status = JobStatus.QUEUED
        all_success = True
        for op in self.ops:
            if op.status is OpStatus.SUCCESS:
                continue
            all_success = False
            if op.status is OpStatus.WAITING:
                status = JobStatus.WAITING
            elif op.status is OpStatus.RUNNING:
                status = JobStatus.RUNNING
            elif op.status is OpStatus.CANCELING:
                status = JobStatus.CANCELING
                break
            elif op.status is OpStatus.ERROR:
                status = JobStatus.ERROR
                break
            elif op.status is OpStatus.CANCELED:
                status = JobStatus.CANCELED
                break
        return JobStatus.SUCCESS if all_success else status

    @property
    def is_finalized(self) -> bool:
        """True once the job succeeded, failed or was canceled."""
        return self.status in JOBS_FINALIZED

    @property
    def priority(self) -> int:
        """The most urgent (lowest) priority among unfinished opcodes, else the default."""
        pending = [op.priority for op in self.ops if not op.is_finalized]
        return min(pending) if pending else PRIORITY_DEFAULT

    @property
    def depends(self) -> list[tuple[int, tuple[str, ...]]]:
        """The opcodes' dependencies, ``(job_id, final statuses)``, in order, without repeats."""
        seen: list[tuple[int, tuple[str, ...]]] = []
        for op in self.ops:
            for dep in op.input.get("depends") or ():
                item = (int(dep[0]), tuple(dep[1]))
                if item not in seen:
                    seen.append(item)
        return seen

    @property
    def log_serial(self) -> int:
        """The serial of the newest log entry (0 when there is none)."""
        return self._log_serial

    def summary(self) -> list[str]:
        """One short description per opcode (the ``summary`` job field)."""
        return [op.summary() for op in self.ops]

    def log_entries(self, newer_than: int | None = None) -> list[LogEntry]:
        """Every log entry of the job, or those with a serial above ``newer_than``."""
        floor = -1 if newer_than is None else newer_than
        return [entry for op in self.ops for entry in op.log if entry.serial > floor]

    # -- transitions --------------------------------------------------------

    def mark_waiting(self, op_index: int, now: float) -> bool:
        """Opcode ``op_index`` waits for its dependencies and locks.

        Returns False when it was already waiting (nothing changed).
        """
        op = self._op(op_index)
        if op.status is OpStatus.WAITING:
            return False
        self._check_can_start(op_index, op, OpStatus.WAITING)
        op.status = OpStatus.WAITING
        op.result = None
        self._stamp_start(op, now)
        return True

    def mark_running(self, op_index: int, now: float) -> None:
        """Opcode ``op_index`` holds its locks and its logical unit executes."""
        op = self._op(op_index)
        self._check_can_start(op_index, op, OpStatus.RUNNING)
        op.status = OpStatus.RUNNING
        op.result = None
        self._stamp_start(op, now)
        op.exec_timestamp = split_time(now)

    def finish_op(self, op_index: int, success: bool, result: Any, now: float) -> JobStatus:
        """Opcode ``op_index`` (running or canceling) ended with ``result``.

        After a failure the later opcodes fail too ("Preceding opcode
        failed"); after a success, a cancel requested meanwhile cancels the
        later opcodes. Returns the job's new status.
        """
        op = self._op(op_index)
        new = OpStatus.SUCCESS if success else OpStatus.ERROR
        if op.status not in (OpStatus.RUNNING, OpStatus.CANCELING):
            raise self._op_error(op_index, op, new, "only a running or canceling opcode can finish")
        result = _json_value(result, f"job {self.id}: the result of opcode {op_index}")
        op.status = new
        op.result = result
        op.end_timestamp = split_time(now)
        rest = self.ops[op_index + 1 :]
        if not success:
            self._mark(rest, OpStatus.ERROR, _json_value(PRECEDING_FAILED_RESULT, ""), now)
        elif any(o.status is OpStatus.CANCELING for o in rest):
            self._mark(rest, OpStatus.CANCELED, CANCELED_RESULT, now)
        if self.is_finalized:
            self.end_timestamp = split_time(now)
        return self.status

    def cancel(self, now: float) -> JobStatus:
        """Cancel the job; returns its new status.

        A queued or waiting job is canceled at once: every unfinished opcode
        becomes canceled. A running job becomes canceling: its running
        opcode finishes, and the later ones are then canceled. Finished and
        already-canceling jobs are refused.
        """
        status = self.status
        if status in (JobStatus.QUEUED, JobStatus.WAITING):
            self._mark(self.ops, OpStatus.CANCELED, CANCELED_RESULT, now)
            self.end_timestamp = split_time(now)
            return JobStatus.CANCELED
        if status is JobStatus.RUNNING:
            for op in self.ops:
                if not op.is_finalized:
                    op.status = OpStatus.CANCELING
            return JobStatus.CANCELING
        if status is JobStatus.CANCELING:
            hint = "it is already being canceled; wait for its running opcode to finish"
        else:
            hint = "it has already finished; only queued, waiting or running jobs can be canceled"
        raise JobStateError(
            self.id,
            None,
            str(status),
            str(JobStatus.CANCELED),
            f"job {self.id} is {status}, so it cannot be canceled: {hint}",
        )

    def kill(self, now: float) -> list[int]:
        """Record a forced cancel: every unfinished opcode fails with :data:`KILLED_RESULT`.

        Only for a running or canceling job, whose running opcode was
        stopped where it stood: its effect is unknown, so, as Ganeti does
        for a killed job, it ends as error, not canceled. Returns the
        indexes of the opcodes changed.
        """
        status = self.status
        if status not in (JobStatus.RUNNING, JobStatus.CANCELING):
            raise JobStateError(
                self.id,
                None,
                str(status),
                str(JobStatus.ERROR),
                f"job {self.id} is {status}, so it cannot be killed: only a running or "
                "canceling job is killed; cancel a queued or waiting one",
            )
        return self.fail_unfinished(KILLED_RESULT, now)

    def fail_unfinished(self, reason: str, now: float) -> list[int]:
        """Fail every unfinished opcode with ``reason`` as its result.

        Used at start-up for jobs that were running when the master daemon
        stopped (their effect is unknown), and for jobs that can never run.
        Returns the indexes of the opcodes changed.
        """
        if self.is_finalized:
            raise JobStateError(
                self.id,
                None,
                str(self.status),
                str(JobStatus.ERROR),
                f"job {self.id} is {self.status}, so it cannot be failed: it has already "
                "finished and its opcodes keep their results",
            )
        changed = [i for i, op in enumerate(self.ops) if not op.is_finalized]
        self._mark(self.ops, OpStatus.ERROR, reason, now)
        self.end_timestamp = split_time(now)
        return changed

    def add_log(self, op_index: int, log_type: str, message: Any, now: float) -> LogEntry:
        """Append a feedback message to opcode ``op_index``'s log and return it.

        ``log_type`` is one of :data:`LOG_TYPES`; a ``"message"`` is a string,
        the other types carry any JSON value.
        """
        op = self._op(op_index)
        if op.is_finalized:
            raise JobStateError(
                self.id,
                op_index,
                str(op.status),
                str(op.status),
                f"job {self.id}, opcode {op_index} ({op.summary()}) is {op.status}: "
                "a finished opcode takes no more log messages",
            )
        if log_type not in LOG_TYPES:
            raise JobError(
                f"job {self.id}, opcode {op_index}: unknown log type {log_type!r}; "
                f"use one of {', '.join(sorted(LOG_TYPES))}"
            )
        if log_type == LOG_MESSAGE and not isinstance(message, str):
            raise JobError(
                f"job {self.id}, opcode {op_index}: a {LOG_MESSAGE!r} log entry needs a "
                f"string, not {type(message).__name__}"
            )
        value = _json_value(message, f"job {self.id}, opcode {op_index}: a log message")
        self._log_serial += 1
        entry = LogEntry(self._log_serial, split_time(now), log_type, value)
        op.log.append(entry)
        return entry

    def change_priority(self, priority: int) -> bool:
        """Give every opcode that has not started yet a new priority.

        Refused for finished and canceling jobs. Returns False when no
        opcode was waiting to start (nothing changed).
        """
        if not PRIORITY_HIGHEST <= priority <= PRIORITY_LOWEST:
            raise JobError(
                f"job {self.id}: priority {priority} is out of range; use a value from "
                f"{PRIORITY_HIGHEST} to {PRIORITY_LOWEST}"
            )
        status = self.status
        if status in JOBS_FINALIZED or status is JobStatus.CANCELING:
            raise JobStateError(
                self.id,
                None,
                str(status),
                str(status),
                f"job {self.id} is {status}, so its priority cannot change any more",
            )
        changed = False
        for op in self.ops:
            if op.status in (OpStatus.QUEUED, OpStatus.WAITING):
                op.priority = priority
                changed = True
        return changed

    # -- helpers ------------------------------------------------------------

    def _op(self, op_index: int) -> QueuedOpCode:
        if not 0 <= op_index < len(self.ops):
            raise JobError(
                f"job {self.id} has {len(self.ops)} opcode(s), numbered from 0; "
                f"there is no opcode {op_index}"
            )
        return self.ops[op_index]

    def _op_error(self, op_index: int, op: QueuedOpCode, new: OpStatus, hint: str) -> JobStateError:
        return JobStateError(
            self.id,
            op_index,
            str(op.status),
            str(new),
            f"job {self.id}, opcode {op_index} ({op.summary()}): cannot go from "
            f"{op.status} to {new}; {hint}",
        )

    def _check_can_start(self, op_index: int, op: QueuedOpCode, new: OpStatus) -> None:
        if op.status not in (OpStatus.QUEUED, OpStatus.WAITING):
            raise self._op_error(op_index, op, new, "only a queued or waiting opcode can start")
        for index, earlier in enumerate(self.ops[:op_index]):
            if earlier.status is not OpStatus.SUCCESS:
                raise self._op_error(
                    op_index,
                    op,
                    new,
                    f"opcodes run in order and opcode {index} is {earlier.status}",
                )

    def _stamp_start(self, op: QueuedOpCode, now: float) -> None:
        stamp = split_time(now)
        if op.start_timestamp is None:
            op.start_timestamp = stamp
        if self.start_timestamp is None:
            self.start_timestamp = stamp

    @staticmethod
    def _mark(ops: Iterable[QueuedOpCode], status: OpStatus, result: Any, now: float) -> None:
        """Give every unfinished opcode of ``ops`` a final ``status`` and ``result``."""
        stamp = split_time(now)
        for op in ops:
            if op.is_finalized:
                continue
            op.status = status
            op.result = result
            if op.start_timestamp is not None and op.end_timestamp is None:
                op.end_timestamp = stamp

    # -- serialisation ------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """The JSON-ready document the job store writes (Ganeti's key names)."""
        return {
            "id": self.id,
            "ops": [op.to_dict() for op in self.ops],
            "received_timestamp": _ts_out(self.received_timestamp),
            "start_timestamp": _ts_out(self.start_timestamp),
            "end_timestamp": _ts_out(self.end_timestamp),
        }

    @classmethod
    def from_dict(cls, data: Any, source: str = "job") -> Job:
        """Check a document written by :meth:`to_dict` and rebuild the job.

        Raises :class:`JobFormatError` naming ``source`` and every bad field.
        """
        if not isinstance(data, Mapping):
            raise JobFormatError(
                source, {"(document)": [f"must be a JSON object, not {type(data).__name__}"]}
            )
        try:
            job: Job = _JOB_SCHEMA.load(data)
        except ValidationError as err:
            raise JobFormatError(source, flatten_messages(err.messages)) from None
        return job


# -- the schema ---------------------------------------------------------------


def _strict_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


_TIMESTAMP_ERROR = "A timestamp must be [seconds, microseconds] with 0 <= microseconds < 1000000."


def _parse_timestamp(value: Any) -> Timestamp | None:
    """``value`` as a timestamp, or None when it is not ``[seconds, microseconds]``."""
    if (
        not isinstance(value, list | tuple)
        or len(value) != 2
        or not all(_strict_int(v) for v in value)
        or value[0] < 0
        or not 0 <= value[1] < 1_000_000
    ):
        return None
    return (value[0], value[1])


class _TimestampField(fields.Field[Timestamp]):
    """A ``[seconds, microseconds]`` pair of non-negative integers."""

    default_error_messages = {"invalid": _TIMESTAMP_ERROR}

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> Timestamp:
        stamp = _parse_timestamp(value)
        if stamp is None:
            raise self.make_error("invalid")
        return stamp


def _timestamp(required: bool = False) -> _TimestampField:
    if required:
        return _TimestampField(required=True)
    return _TimestampField(required=True, allow_none=True)


class _LogEntryField(fields.Field[LogEntry]):
    """A ``[serial, timestamp, type, message]`` log entry."""

    default_error_messages = {"invalid": "A log entry must be [serial, timestamp, type, message]."}

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> LogEntry:
        if not isinstance(value, list | tuple) or len(value) != 4:
            raise self.make_error("invalid")
        serial, stamp, log_type, message = value
        errors: dict[int, list[str]] = {}
        if not _strict_int(serial) or serial < 1:
            errors[0] = ["The serial must be a positive integer."]
        parsed = _parse_timestamp(stamp)
        if parsed is None:
            errors[1] = [_TIMESTAMP_ERROR]
        if log_type not in LOG_TYPES:
            errors[2] = [f"Must be one of: {', '.join(sorted(LOG_TYPES))}."]
        if errors or parsed is None:
            raise ValidationError(errors)
        return LogEntry(serial, parsed, log_type, message)


class _OpInputField(fields.Field[dict[str, Any]]):
    """The submitted opcode: a JSON object with a non-empty string ``OP_ID``.

    Its parameters are checked when the opcode runs (with the schemas of the
    corral version running it), so that a stored job stays readable across
    upgrades.
    """

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> dict[str, Any]:
        if not isinstance(value, Mapping):
            raise ValidationError("An opcode must be a JSON object.")
        op_id = value.get("OP_ID")
        if not isinstance(op_id, str) or not op_id:
            raise ValidationError("An opcode needs a non-empty string OP_ID.")
        return dict(value)


_SEQUENCE_CODE = {
    OpStatus.SUCCESS: "S",
    OpStatus.QUEUED: "Q",
    OpStatus.WAITING: "W",
    OpStatus.RUNNING: "R",
    OpStatus.CANCELING: "C",
    OpStatus.CANCELED: "X",
    OpStatus.ERROR: "E",
}
#: The opcode status sequences the state machine can produce: successes,
#: then either nothing started, one opcode waiting or running before queued
#: ones, or a tail that is all canceling, all canceled or all failed.
_SEQUENCE_RE = re.compile(r"^S*(Q*|WQ*|RQ*|C+|X+|E+)$")


class _QueuedOpCodeSchema(Schema):
    class Meta:
        unknown = RAISE

    input = _OpInputField(required=True)
    status = fields.Enum(OpStatus, by_value=True, required=True)
    result = fields.Raw(required=True, allow_none=True)
    log = fields.List(_LogEntryField(), required=True)
    start_timestamp = _timestamp()
    exec_timestamp = _timestamp()
    end_timestamp = _timestamp()
    priority = fields.Integer(
        strict=True,
        required=True,
        validate=validate.Range(min=PRIORITY_HIGHEST, max=PRIORITY_LOWEST),
    )

    @post_load
    def _make(self, data: dict[str, Any], **kwargs: Any) -> QueuedOpCode:
        return QueuedOpCode(**data)


class _JobSchema(Schema):
    class Meta:
        unknown = RAISE

    id = fields.Integer(strict=True, required=True, validate=validate.Range(min=0))
    ops = fields.List(
        fields.Nested(_QueuedOpCodeSchema),
        required=True,
        validate=validate.Length(min=1, error="A job needs at least one opcode."),
    )
    received_timestamp = _timestamp(required=True)
    start_timestamp = _timestamp()
    end_timestamp = _timestamp()

    @validates_schema(skip_on_field_errors=True)
    def _check_ops(self, data: dict[str, Any], **kwargs: Any) -> None:
        ops: list[QueuedOpCode] = data["ops"]
        statuses = [op.status for op in ops]
        if not _SEQUENCE_RE.match("".join(_SEQUENCE_CODE[s] for s in statuses)):
            shown = ", ".join(str(s) for s in statuses)
            raise ValidationError(
                f"opcode statuses [{shown}] are not a sequence the job queue produces",
                field_name="ops",
            )
        serials = [entry.serial for op in ops for entry in op.log]
        if len(set(serials)) != len(serials):
            raise ValidationError("log entry serials repeat within the job", field_name="ops")

    @post_load
    def _make(self, data: dict[str, Any], **kwargs: Any) -> Job:
        return Job(**data)


_JOB_SCHEMA = _JobSchema()
