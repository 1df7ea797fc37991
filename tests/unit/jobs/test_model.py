"""Jobs in memory: Ganeti's status derivation, the state machine, priority, serialisation."""

from __future__ import annotations

import copy
import json

import pytest

from corral.jobs import LOG_MESSAGE
from corral.jobs import Job
from corral.jobs import JobError
from corral.jobs import JobFormatError
from corral.jobs import JobStateError
from corral.jobs import JobStatus
from corral.jobs import LogEntry
from corral.jobs import OpStatus
from corral.jobs import QueuedOpCode
from corral.jobs import split_time
from corral.opcodes import OpcodeValidationError
from corral.opcodes import make_opcode

S = OpStatus


def shutdown(name: str = "web1", **params) -> dict:
    return {"OP_ID": "OP_INSTANCE_SHUTDOWN", "instance_name": name, **params}


def make_job(*ops: dict, job_id: int = 7, now: float = 100.0) -> Job:
    return Job.new(job_id, list(ops) or [shutdown()], now)


def job_with(*statuses: OpStatus) -> Job:
    job = make_job(*[shutdown(f"web{i}") for i in range(len(statuses))])
    for op, status in zip(job.ops, statuses, strict=True):
        op.status = status
    return job


# -- status derivation ------------------------------------------------------------


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        ((S.QUEUED,), JobStatus.QUEUED),
        ((S.QUEUED, S.QUEUED), JobStatus.QUEUED),
        ((S.SUCCESS,), JobStatus.SUCCESS),
        ((S.SUCCESS, S.SUCCESS, S.SUCCESS), JobStatus.SUCCESS),
        ((S.SUCCESS, S.QUEUED), JobStatus.QUEUED),
        ((S.WAITING, S.QUEUED), JobStatus.WAITING),
        ((S.SUCCESS, S.WAITING, S.QUEUED), JobStatus.WAITING),
        ((S.RUNNING, S.QUEUED), JobStatus.RUNNING),
        ((S.SUCCESS, S.RUNNING), JobStatus.RUNNING),
        ((S.RUNNING, S.CANCELING), JobStatus.CANCELING),
        ((S.CANCELING, S.CANCELING), JobStatus.CANCELING),
        ((S.SUCCESS, S.CANCELED, S.CANCELED), JobStatus.CANCELED),
        ((S.CANCELED,), JobStatus.CANCELED),
        ((S.ERROR,), JobStatus.ERROR),
        ((S.SUCCESS, S.ERROR, S.ERROR), JobStatus.ERROR),
        # Ganeti's rules decide even for mixes the queue never writes:
        # the first canceling/canceled/error opcode wins ...
        ((S.ERROR, S.CANCELED), JobStatus.ERROR),
        ((S.CANCELED, S.ERROR), JobStatus.CANCELED),
        ((S.RUNNING, S.ERROR), JobStatus.ERROR),
        # ... otherwise the last waiting or running one.
        ((S.RUNNING, S.WAITING), JobStatus.WAITING),
        ((S.WAITING, S.RUNNING), JobStatus.RUNNING),
    ],
)
def test_status_is_derived_as_ganeti_does(statuses, expected) -> None:
    assert job_with(*statuses).status is expected


def test_statuses_have_ganeti_values() -> None:
    assert [s.value for s in JobStatus] == [
        "queued",
        "waiting",
        "running",
        "canceling",
        "canceled",
        "success",
        "error",
    ]
    assert {s.value for s in OpStatus} == {s.value for s in JobStatus}


# -- creation ------------------------------------------------------------------------


def test_new_job_validates_and_queues_every_opcode() -> None:
    job = Job.new(3, [shutdown("a"), make_opcode("OP_INSTANCE_STARTUP", instance_name="b")], 5.25)
    assert job.id == 3
    assert job.status is JobStatus.QUEUED
    assert job.received_timestamp == (5, 250000)
    assert job.start_timestamp is None and job.end_timestamp is None
    assert [op.status for op in job.ops] == [S.QUEUED, S.QUEUED]
    # defaults are filled in, as dump_opcode gives them
    assert job.ops[0].input["timeout"] == 120
    assert job.ops[1].input["OP_ID"] == "OP_INSTANCE_STARTUP"
    assert job.summary() == ["INSTANCE_SHUTDOWN(a)", "INSTANCE_STARTUP(b)"]
    assert job.ops[0].opcode().instance_name == "a"


def test_new_job_refuses_bad_opcodes_and_empty_lists() -> None:
    with pytest.raises(OpcodeValidationError, match="instance_name"):
        Job.new(1, [{"OP_ID": "OP_INSTANCE_SHUTDOWN"}], 0)
    with pytest.raises(JobError, match="job 1: a job needs at least one opcode"):
        Job.new(1, [], 0)


def test_split_time() -> None:
    assert split_time(1.5) == (1, 500000)
    assert split_time(1700000000.123456) == (1700000000, 123456)
    assert split_time(2.9999999) == (3, 0)


# -- priority, depends ---------------------------------------------------------------------


def test_priority_is_the_lowest_among_unfinished_opcodes() -> None:
    job = make_job(shutdown(priority=10), shutdown(priority=-10), shutdown(priority=0))
    assert [op.priority for op in job.ops] == [10, -10, 0]
    assert job.priority == -10
    job.ops[1].status = S.SUCCESS
    assert job.priority == 0
    for op in job.ops:
        op.status = S.SUCCESS
    assert job.priority == 0  # Ganeti's default once everything is done


def test_change_priority_touches_only_opcodes_not_started() -> None:
    job = make_job(shutdown(), shutdown())
    job.mark_running(0, 1)
    assert job.change_priority(-5) is True
    assert [op.priority for op in job.ops] == [0, -5]
    with pytest.raises(JobError, match="priority 30 is out of range"):
        job.change_priority(30)
    job.finish_op(0, False, "boom", 2)
    with pytest.raises(JobStateError, match="job 7 is error, so its priority cannot change"):
        job.change_priority(0)


def test_depends_collected_from_the_opcodes() -> None:
    job = make_job(
        shutdown(depends=[[3, ["success"]], [-1, ["success", "error"]]]),
        shutdown(depends=[[3, ["success"]], ["5", ["canceled"]]]),
        shutdown(),
    )
    assert job.depends == [(3, ("success",)), (-1, ("success", "error")), (5, ("canceled",))]
    assert make_job().depends == []


# -- transitions ---------------------------------------------------------------------------


def test_successful_run_of_two_opcodes() -> None:
    job = make_job(shutdown("a"), shutdown("b"))
    assert job.mark_waiting(0, 101) is True
    assert job.mark_waiting(0, 102) is False  # already waiting: nothing changes
    assert job.status is JobStatus.WAITING
    assert job.start_timestamp == (101, 0)
    job.mark_running(0, 103)
    assert job.status is JobStatus.RUNNING
    op = job.ops[0]
    assert (op.start_timestamp, op.exec_timestamp) == ((101, 0), (103, 0))
    assert job.finish_op(0, True, {"ok": (1, 2)}, 104) is JobStatus.QUEUED
    assert op.result == {"ok": [1, 2]}  # stored as it reads back from JSON
    assert op.end_timestamp == (104, 0)
    assert job.end_timestamp is None
    job.mark_running(1, 105)  # straight from queued is allowed too
    assert job.ops[1].start_timestamp == (105, 0)
    assert job.finish_op(1, True, None, 106) is JobStatus.SUCCESS
    assert job.end_timestamp == (106, 0)
    assert job.is_finalized


def test_failure_fails_the_later_opcodes() -> None:
    job = make_job(shutdown("a"), shutdown("b"), shutdown("c"))
    job.mark_running(0, 1)
    job.finish_op(0, True, None, 2)
    job.mark_running(1, 3)
    assert job.finish_op(1, False, ["OpExecError", ["disk gone"]], 4) is JobStatus.ERROR
    assert [op.status for op in job.ops] == [S.SUCCESS, S.ERROR, S.ERROR]
    assert job.ops[1].result == ["OpExecError", ["disk gone"]]
    assert job.ops[2].result == ["OpExecError", ["Preceding opcode failed"]]
    assert job.ops[2].end_timestamp is None  # it never started
    assert job.end_timestamp == (4, 0)


def test_opcodes_run_in_order() -> None:
    job = make_job(shutdown("a"), shutdown("b"))
    with pytest.raises(JobStateError) as err:
        job.mark_running(1, 1)
    assert str(err.value) == (
        "job 7, opcode 1 (INSTANCE_SHUTDOWN(b)): cannot go from queued to running; "
        "opcodes run in order and opcode 0 is queued"
    )
    assert (err.value.job_id, err.value.op_index) == (7, 1)
    assert (err.value.current, err.value.requested) == ("queued", "running")


@pytest.mark.parametrize(
    ("prepare", "action", "message"),
    [
        (
            [],
            lambda job: job.finish_op(0, True, None, 9),
            "job 7, opcode 0 (INSTANCE_SHUTDOWN(web1)): cannot go from queued to success; "
            "only a running or canceling opcode can finish",
        ),
        (
            ["run"],
            lambda job: job.mark_running(0, 9),
            "job 7, opcode 0 (INSTANCE_SHUTDOWN(web1)): cannot go from running to running; "
            "only a queued or waiting opcode can start",
        ),
        (
            ["run"],
            lambda job: job.mark_waiting(0, 9),
            "job 7, opcode 0 (INSTANCE_SHUTDOWN(web1)): cannot go from running to waiting; "
            "only a queued or waiting opcode can start",
        ),
        (
            ["run", "ok"],
            lambda job: job.finish_op(0, False, None, 9),
            "job 7, opcode 0 (INSTANCE_SHUTDOWN(web1)): cannot go from success to error; "
            "only a running or canceling opcode can finish",
        ),
        (
            ["cancel"],
            lambda job: job.mark_running(0, 9),
            "job 7, opcode 0 (INSTANCE_SHUTDOWN(web1)): cannot go from canceled to running; "
            "only a queued or waiting opcode can start",
        ),
        (
            ["run", "ok"],
            lambda job: job.cancel(9),
            "job 7 is success, so it cannot be canceled: it has already finished; "
            "only queued, waiting or running jobs can be canceled",
        ),
        (
            ["run", "cancel"],
            lambda job: job.cancel(9),
            "job 7 is canceling, so it cannot be canceled: it is already being canceled; "
            "wait for its running opcode to finish",
        ),
        (
            ["cancel"],
            lambda job: job.fail_unfinished("x", 9),
            "job 7 is canceled, so it cannot be failed: it has already finished and its "
            "opcodes keep their results",
        ),
        (
            ["run", "ok"],
            lambda job: job.add_log(0, "message", "late", 9),
            "job 7, opcode 0 (INSTANCE_SHUTDOWN(web1)) is success: a finished opcode takes "
            "no more log messages",
        ),
    ],
)
def test_refused_transitions_name_job_opcode_and_states(prepare, action, message) -> None:
    job = make_job()
    steps = {
        "run": lambda: job.mark_running(0, 1),
        "ok": lambda: job.finish_op(0, True, None, 2),
        "cancel": lambda: job.cancel(3),
    }
    for step in prepare:
        steps[step]()
    before = job.to_dict()
    with pytest.raises(JobStateError) as err:
        action(job)
    assert str(err.value) == message
    assert job.to_dict() == before  # a refused transition changes nothing


def test_unknown_opcode_index() -> None:
    with pytest.raises(
        JobError, match="job 7 has 1 opcode\\(s\\), numbered from 0; there is no opcode 3"
    ):
        make_job().mark_running(3, 0)
    with pytest.raises(JobError, match="there is no opcode -1"):
        make_job().mark_running(-1, 0)


def test_cancel_queued_job() -> None:
    job = make_job(shutdown("a"), shutdown("b"))
    assert job.cancel(50) is JobStatus.CANCELED
    assert [op.status for op in job.ops] == [S.CANCELED, S.CANCELED]
    assert job.ops[0].result == "Job canceled by request"
    assert job.end_timestamp == (50, 0)


def test_cancel_waiting_job_keeps_the_opcodes_that_succeeded() -> None:
    job = make_job(shutdown("a"), shutdown("b"), shutdown("c"))
    job.mark_running(0, 1)
    job.finish_op(0, True, "done", 2)
    job.mark_waiting(1, 3)
    assert job.cancel(4) is JobStatus.CANCELED
    assert [op.status for op in job.ops] == [S.SUCCESS, S.CANCELED, S.CANCELED]
    assert job.ops[0].result == "done"
    assert job.ops[1].end_timestamp == (4, 0)  # it had started waiting
    assert job.ops[2].end_timestamp is None


def test_cancel_running_job_then_the_opcode_succeeds() -> None:
    job = make_job(shutdown("a"), shutdown("b"))
    job.mark_running(0, 1)
    assert job.cancel(2) is JobStatus.CANCELING
    assert [op.status for op in job.ops] == [S.CANCELING, S.CANCELING]
    assert job.end_timestamp is None
    job.add_log(0, LOG_MESSAGE, "still working", 3)  # the running opcode may still talk
    assert job.finish_op(0, True, "stopped", 4) is JobStatus.CANCELED
    assert [op.status for op in job.ops] == [S.SUCCESS, S.CANCELED]
    assert job.ops[1].result == "Job canceled by request"
    assert job.end_timestamp == (4, 0)


def test_cancel_running_job_then_the_opcode_fails() -> None:
    job = make_job(shutdown("a"), shutdown("b"))
    job.mark_running(0, 1)
    job.cancel(2)
    assert job.finish_op(0, False, "broken", 3) is JobStatus.ERROR
    assert [op.status for op in job.ops] == [S.ERROR, S.ERROR]


def test_cancel_running_last_opcode_that_succeeds_is_success() -> None:
    job = make_job()
    job.mark_running(0, 1)
    job.cancel(2)
    assert job.finish_op(0, True, None, 3) is JobStatus.SUCCESS


@pytest.mark.parametrize("first", [S.RUNNING, S.CANCELING, S.WAITING, S.QUEUED])
def test_fail_unfinished(first) -> None:
    job = make_job(shutdown("a"), shutdown("b"), shutdown("c"))
    job.mark_running(0, 1)
    job.finish_op(0, True, "done", 2)
    if first is S.QUEUED:
        pass
    elif first is S.WAITING:
        job.mark_waiting(1, 3)
    else:
        job.mark_running(1, 3)
        if first is S.CANCELING:
            job.cancel(4)
    assert job.fail_unfinished("master restarted", 10) == [1, 2]
    assert [op.status for op in job.ops] == [S.SUCCESS, S.ERROR, S.ERROR]
    assert [op.result for op in job.ops] == ["done", "master restarted", "master restarted"]
    assert job.ops[0].end_timestamp == (2, 0)
    assert job.ops[1].end_timestamp == (None if first is S.QUEUED else (10, 0))
    assert job.ops[2].end_timestamp is None
    assert job.end_timestamp == (10, 0)
    assert job.status is JobStatus.ERROR


# -- logs -------------------------------------------------------------------------------------


def test_log_entries_have_a_job_wide_serial() -> None:
    job = make_job(shutdown("a"), shutdown("b"))
    job.mark_running(0, 1)
    first = job.add_log(0, "message", "one", 1.5)
    assert first == LogEntry(1, (1, 500000), "message", "one")
    assert first == (1, (1, 500000), "message", "one")  # Ganeti's oplog tuple
    job.finish_op(0, True, None, 2)
    job.mark_running(1, 3)
    job.add_log(1, "remote-import", {"x": (1,)}, 4)
    assert job.log_serial == 2
    assert job.ops[1].log == [(2, (4, 0), "remote-import", {"x": [1]})]
    assert [e.serial for e in job.log_entries()] == [1, 2]
    assert [e.serial for e in job.log_entries(newer_than=1)] == [2]
    restored = Job.from_dict(json.loads(json.dumps(job.to_dict())))
    assert restored.log_serial == 2
    restored.add_log(1, "message", "three", 5)
    assert restored.ops[1].log[-1].serial == 3


def test_log_refuses_unknown_types_and_non_text_messages() -> None:
    job = make_job()
    with pytest.raises(JobError, match="unknown log type 'debug'; use one of delay-test, "):
        job.add_log(0, "debug", "x", 1)
    with pytest.raises(JobError, match="a 'message' log entry needs a string, not int"):
        job.add_log(0, "message", 5, 1)
    with pytest.raises(JobError, match="must be a JSON value"):
        job.add_log(0, "message-list", {1, 2}, 1)
    assert job.log_serial == 0


def test_result_must_be_json() -> None:
    job = make_job()
    job.mark_running(0, 1)
    with pytest.raises(JobError, match="job 7: the result of opcode 0 must be a JSON value"):
        job.finish_op(0, True, object(), 2)
    assert job.ops[0].status is S.RUNNING


# -- serialisation ------------------------------------------------------------------------


def busy_job() -> Job:
    job = make_job(shutdown("a", priority=-10), shutdown("b"), shutdown("c", priority=10))
    job.mark_waiting(0, 1)
    job.mark_running(0, 2)
    job.add_log(0, "message", "stopping a", 2.5)
    job.finish_op(0, True, {"a": [1, None]}, 3)
    job.mark_running(1, 4)
    job.add_log(1, "message-list", ["x", "y"], 4.25)
    return job


def test_round_trip_through_json() -> None:
    job = busy_job()
    data = json.loads(json.dumps(job.to_dict()))
    assert data["ops"][0]["log"] == [[1, [2, 500000], "message", "stopping a"]]
    assert data["received_timestamp"] == [100, 0]
    restored = Job.from_dict(data)
    assert restored == job
    assert restored.status is JobStatus.RUNNING
    assert restored.ops[0].status is S.SUCCESS
    assert isinstance(restored.ops[0].log[0], LogEntry)
    assert restored.to_dict() == data


def test_round_trip_of_every_final_state() -> None:
    for finish in ("ok", "fail", "cancel"):
        job = make_job(shutdown("a"), shutdown("b"))
        job.mark_running(0, 1)
        if finish == "ok":
            job.finish_op(0, True, None, 2)
            job.mark_running(1, 3)
            job.finish_op(1, True, None, 4)
        elif finish == "fail":
            job.finish_op(0, False, None, 2)
        else:
            job.cancel(2)
            job.finish_op(0, True, None, 3)
        assert Job.from_dict(json.loads(json.dumps(job.to_dict()))) == job


def corrupt(path: str, value) -> dict:
    """busy_job's document with the value at dotted ``path`` replaced (or removed: ...)."""
    data = copy.deepcopy(busy_job().to_dict())
    keys = path.split(".")
    target = data
    for key in keys[:-1]:
        target = target[int(key)] if isinstance(target, list) else target[key]
    last = keys[-1]
    if value is ...:
        del target[last]
    elif isinstance(target, list):
        target[int(last)] = value
    else:
        target[last] = value
    return data


@pytest.mark.parametrize(
    ("path", "value", "field", "message"),
    [
        ("id", "7", "id", "Not a valid integer."),
        ("id", True, "id", "Not a valid integer."),
        ("id", -1, "id", "Must be greater than or equal to 0."),
        ("ops", [], "ops", "A job needs at least one opcode."),
        ("ops", ..., "ops", "Missing data for required field."),
        ("received_timestamp", [1], "received_timestamp", "A timestamp must be"),
        ("received_timestamp", None, "received_timestamp", "Field may not be null."),
        ("end_timestamp", [1, 1000000], "end_timestamp", "A timestamp must be"),
        ("ops.0.status", "done", "ops[0].status", "Must be one of: queued, waiting"),
        ("ops.0.priority", 20, "ops[0].priority", "Must be greater than or equal to -20"),
        ("ops.0.priority", "0", "ops[0].priority", "Not a valid integer."),
        ("ops.0.input", {"instance_name": "a"}, "ops[0].input", "non-empty string OP_ID"),
        ("ops.0.input", "OP_X", "ops[0].input", "An opcode must be a JSON object."),
        ("ops.0.log", {}, "ops[0].log", "Not a valid list."),
        ("ops.0.log.0", [1, [2, 0], "message"], "ops[0].log[0]", "A log entry must be"),
        ("ops.0.log.0", [0, [2, 0], "message", ""], "ops[0].log[0][0]", "positive integer"),
        ("ops.0.log.0", [1, 2, "message", ""], "ops[0].log[0][1]", "A timestamp must be"),
        ("ops.0.log.0", [1, [2, 0], "chat", ""], "ops[0].log[0][2]", "Must be one of:"),
        ("ops.1.log.0", [1, [2, 0], "message", ""], "ops", "log entry serials repeat"),
        ("ops.1.exec_timestamp", ..., "ops[1].exec_timestamp", "Missing data for required"),
        ("ops.1.extra", 1, "ops[1].extra", "Unknown field."),
        ("owner", "me", "owner", "Unknown field."),
        (
            "ops.2.status",
            "running",
            "ops",
            "opcode statuses [success, running, running] are not a sequence the job queue produces",
        ),
        ("ops.0.status", "queued", "ops", "[queued, running, queued] are not a sequence"),
        ("ops.2.status", "success", "ops", "[success, running, success] are not a sequence"),
    ],
)
def test_corrupt_documents_are_refused_naming_the_field(path, value, field, message) -> None:
    with pytest.raises(JobFormatError) as err:
        Job.from_dict(corrupt(path, value), source="/q/job-7")
    assert field in err.value.errors, err.value.errors
    assert any(message in m for m in err.value.errors[field]), err.value.errors
    assert str(err.value).startswith("/q/job-7 is not a valid job:\n  ")
    assert f"\n  {field}: " in str(err.value)


def test_non_object_document() -> None:
    with pytest.raises(
        JobFormatError,
        match="job-3 is not a valid job:\n  \\(document\\): must be a JSON object, not list",
    ):
        Job.from_dict([1, 2], source="job-3")


def test_queued_opcode_status_is_always_the_enum() -> None:
    op = QueuedOpCode(input=shutdown(), status="running")  # type: ignore[arg-type]
    assert op.status is S.RUNNING
    with pytest.raises(ValueError, match="'nope' is not a valid OpStatus"):
        QueuedOpCode(input=shutdown(), status="nope")  # type: ignore[arg-type]
