"""gnt-job against a real LUXI server on a temporary socket, run in-process through ``main``.

The master daemon is played by :class:`FakeMaster`, a LUXI handler over an
in-memory dict of real :class:`corral.jobs.model.Job` objects. Each job may
carry a script: one step is applied per ``WaitForJobChange`` call (run an
opcode, log, finish, vanish, or answer ``"nochange"``), so the tools see
every answer a master gives while a job progresses. Times are fixed and the
time zone is UTC, so output is compared exactly.

test_gnt_debug.py loads this module for the same fake master.
"""

from __future__ import annotations

import re
import time
from collections import deque
from collections.abc import Callable
from collections.abc import Iterator
from collections.abc import Sequence
from typing import Any

import pytest
from twisted.internet import threads

from corral.api import OpPrereqError
from corral.api.errors import CorralError
from corral.cli import gnt_job as job_tool
from corral.jobs.model import Job
from corral.jobs.queue import JOB_FIELDS
from corral.luxi.protocol import LuxiError
from corral.luxi.server import LuxiServerFactory
from corral.testing import async_test

#: Sun Nov 22 06:10:00 2026 UTC.
T0 = 1795327800.0

Step = Callable[["FakeMaster", Job], None]


class JobQueueDrained(OpPrereqError):
    """The master's drained-queue error (its class name travels over LUXI)."""


DRAINED = "the job queue is drained, new jobs are refused: gnt-cluster queue undrain"


def run(index: int) -> Step:
    return lambda master, job: job.mark_running(index, master.now)


def wait_locks(index: int) -> Step:
    return lambda master, job: job.mark_waiting(index, master.now)


def log(index: int, message: Any, log_type: str = "message") -> Step:
    return lambda master, job: job.add_log(index, log_type, message, master.now)


def finish(index: int, success: bool = True, result: Any = None) -> Step:
    return lambda master, job: job.finish_op(index, success, result, master.now)


def vanish() -> Step:
    return lambda master, job: master.jobs.pop(job.id)


def cancel() -> Step:
    return lambda master, job: job.cancel(master.now)


def runs_ok(job: Job) -> list[Step | str]:
    """The default script: every opcode runs, logs one line and succeeds."""
    steps: list[Step | str] = []
    for index, op in enumerate(job.ops):
        steps += [run(index), log(index, f"{op.summary()} running"), finish(index, True, None)]
    return steps


# The real daemon's field definitions, so this fake answers exactly as it does.
FIELD_GETTERS = JOB_FIELDS


class FakeMaster:
    """Answers the job LUXI methods with Ganeti's semantics over in-memory jobs."""

    def __init__(self) -> None:
        self.now = T0
        self.jobs: dict[int, Job] = {}
        self.scripts: dict[int, deque[Step | str]] = {}
        self.next_id = 1
        self.drained = False
        self.refuse: str | None = None  # SubmitJob raises OpPrereqError with this text
        self.script_for: Callable[[Job], list[Step | str]] = runs_ok
        self.calls: list[tuple[str, list[Any]]] = []
        self.submitted: list[list[dict[str, Any]]] = []
        self.answers: dict[str, Any] = {}  # canned answers that override the real ones

    # -- building jobs for a test ------------------------------------------------

    def add_job(self, ops: list[dict[str, Any]], steps: Sequence[Step] = ()) -> Job:
        job = Job.new(self.next_id, ops, self.now)
        self.next_id += 1
        self.jobs[job.id] = job
        for step in steps:
            self.apply(job, step)
        return job

    def apply(self, job: Job, step: Step) -> None:
        self.now += 1.0
        step(self, job)

    # -- LUXI -------------------------------------------------------------------

    async def call(self, method: str, args: list[Any]) -> Any:
        self.calls.append((method, args))
        if method in self.answers:
            return self.answers[method]
        handler = getattr(self, f"luxi_{method}", None)
        if handler is None:
            raise LuxiError(f"unknown method {method!r}")
        return handler(*args)

    def _submit(self, ops: list[dict[str, Any]]) -> int:
        if self.drained:
            raise JobQueueDrained(DRAINED)
        if self.refuse:
            raise OpPrereqError(self.refuse)
        self.submitted.append(ops)
        job = self.add_job(ops)
        self.scripts[job.id] = deque(self.script_for(job))
        return job.id

    def luxi_SubmitJob(self, ops: list[dict[str, Any]]) -> int:
        return self._submit(ops)

    def luxi_SubmitManyJobs(self, jobs: list[list[dict[str, Any]]]) -> list[Any]:
        answer: list[Any] = []
        for ops in jobs:
            try:
                answer.append([True, self._submit(ops)])
            except CorralError as err:
                answer.append([False, str(err)])
        return answer

    def row(self, job: Job, fields: list[str]) -> list[Any]:
        return [FIELD_GETTERS[f](job) for f in fields]

    def luxi_QueryJobs(self, job_ids: list[int] | None, fields: list[str]) -> list[Any]:
        if job_ids is None:
            return [self.row(self.jobs[i], fields) for i in sorted(self.jobs)]
        return [self.row(self.jobs[i], fields) if i in self.jobs else None for i in job_ids]

    def luxi_WaitForJobChange(
        self, job_id: int, fields: list[str], prev_info: Any, prev_serial: Any, timeout: float
    ) -> Any:
        job = self.jobs.get(job_id)
        if job is None:
            return None
        script = self.scripts.get(job_id)
        if script:
            step = script.popleft()
            if step == "nochange":
                return "nochange"
            assert callable(step)
            self.apply(job, step)
            if job_id not in self.jobs:
                return None
        info = self.row(job, fields)
        entries = job.log_entries(prev_serial)
        if info == prev_info and not entries:
            if not script and not job.is_finalized:
                raise LuxiError(f"test script of job {job_id} ran out before the job ended")
            return "nochange"
        return [info, [[e.serial, list(e.timestamp), e.type, e.message] for e in entries]]

    def luxi_CancelJob(self, job_id: int, kill: bool = False) -> list[Any]:
        job = self.jobs.get(job_id)
        if job is None:
            return [False, f"Job {job_id} not found"]
        if job.is_finalized:
            return [False, f"Job {job_id} is no longer waiting in the queue"]
        if kill and str(job.status) in ("running", "canceling"):
            job.kill(self.now)
            return [True, f"Job {job_id} killed"]
        status = job.cancel(self.now)
        if str(status) == "canceled":
            return [True, f"Job {job_id} canceled"]
        return [True, f"Job {job_id} will be canceled"]

    def luxi_ArchiveJob(self, job_id: int) -> bool:
        job = self.jobs.get(job_id)
        if job is None or not job.is_finalized:
            return False
        del self.jobs[job_id]
        return True

    def luxi_AutoArchiveJobs(self, age: int, timeout: float) -> list[int]:
        old = [
            i
            for i, j in self.jobs.items()
            if j.is_finalized and (age < 0 or self.now - j.end_timestamp[0] > age)  # type: ignore[index]
        ]
        for i in old:
            del self.jobs[i]
        return [len(old), 0]

    def luxi_ChangeJobPriority(self, job_id: int, priority: int) -> list[Any]:
        job = self.jobs.get(job_id)
        if job is None:
            return [False, f"Job {job_id} not found"]
        if job.is_finalized:
            return [False, f"Job {job_id} is finished"]
        job.change_priority(priority)
        return [
            True,
            f"Priorities of pending opcodes for job {job_id} have been changed to {priority}",
        ]


def delay_op(duration: float = 2.0, **params: Any) -> dict[str, Any]:
    return {"OP_ID": "OP_TEST_DELAY", "duration": duration, **params}


@pytest.fixture
def master(reactor, tmp_path, monkeypatch) -> Iterator[FakeMaster]:
    """A FakeMaster listening where ``luxi_socket()`` points, with TZ=UTC."""
    monkeypatch.setenv("CORRAL_ROOTDIR", str(tmp_path))
    monkeypatch.setenv("GNT_DISABLE_PLUGIN_AUTOLOAD", "1")
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    path = tmp_path / "var/run/corral/socket/corral-master"
    path.parent.mkdir(parents=True)
    fake = FakeMaster()
    port = reactor.listenUNIX(str(path), LuxiServerFactory(fake))
    yield fake
    port.stopListening()
    monkeypatch.undo()
    time.tzset()


def cli(main: Callable[[list[str]], int], *argv: str) -> Any:
    """Run a tool's ``main`` in a thread (the blocking client must not block the reactor)."""
    return threads.deferToThread(main, list(argv))


async def gnt_job(*argv: str) -> int:
    status: int = await cli(job_tool.main, *argv)
    return status


@pytest.fixture
def queue(master: FakeMaster) -> FakeMaster:
    """Four jobs: 1 succeeded (with a log line), 2 failed, 3 is running, 4 is queued."""
    master.add_job([delay_op(2.0)], [run(0), log(0, "Sleeping for 2.0 seconds"), finish(0)])
    master.add_job(
        [delay_op(1.0), delay_op(-1.0)],
        [run(0), finish(0), run(1), finish(1, False, ["OpExecError", ["negative delay"]])],
    )
    master.add_job([delay_op(30.0)], [run(0)])
    master.add_job([{"OP_ID": "OP_CLUSTER_VERIFY_CONFIG"}])
    return master


# -- list ---------------------------------------------------------------------


@async_test
async def test_list_default_fields_aligned_with_headers(queue, capsys) -> None:
    assert await gnt_job("list") == 0
    assert capsys.readouterr().out.splitlines() == [
        "ID Status  Summary",
        " 1 success TEST_DELAY(2.0)",
        " 2 error   TEST_DELAY(1.0),TEST_DELAY(-1.0)",
        " 3 running TEST_DELAY(30.0)",
        " 4 queued  CLUSTER_VERIFY_CONFIG",
    ]
    assert queue.calls == [("QueryJobs", [None, ["id", "status", "summary"]])]


@async_test
async def test_list_separator_no_headers_and_added_fields(queue, capsys) -> None:
    args = ["list", "--no-headers", "--separator", "|", "-o", "+priority,received_ts,end_ts"]
    assert await gnt_job(*args) == 0
    assert capsys.readouterr().out.splitlines() == [
        "1|success|TEST_DELAY(2.0)|0|2026-11-22 06:10:00.000000|2026-11-22 06:10:03.000000",
        "2|error|TEST_DELAY(1.0),TEST_DELAY(-1.0)|0|2026-11-22 06:10:03.000000|2026-11-22 06:10:07.000000",
        "3|running|TEST_DELAY(30.0)|0|2026-11-22 06:10:07.000000|-",
        "4|queued|CLUSTER_VERIFY_CONFIG|0|2026-11-22 06:10:08.000000|-",
    ]


@async_test
async def test_list_per_opcode_fields(queue, capsys) -> None:
    assert await gnt_job("list", "--separator", ";", "-o", "id,opstatus,opstart,opresult", "2") == 0
    assert capsys.readouterr().out.splitlines() == [
        "ID;OpCode_status;OpCode_start;OpCode_result",
        '2;success,error;2026-11-22 06:10:04.000000,2026-11-22 06:10:06.000000;[null,["OpExecError",["negative delay"]]]',
    ]


@pytest.mark.parametrize(
    ("option", "ids"),
    [("--finished", ["1", "2"]), ("--pending", ["4"]), ("--running", ["3"]), ("--error", ["2"])],
)
@async_test
async def test_list_status_filters(queue, capsys, option, ids) -> None:
    assert await gnt_job("list", option, "--no-headers", "-o", "id") == 0
    assert capsys.readouterr().out.split() == ids
    # the filter needs the status even when it is not shown
    assert queue.calls[-1] == ("QueryJobs", [None, ["id", "status"]])


@async_test
async def test_list_given_ids_and_an_unknown_one(queue, capsys) -> None:
    assert await gnt_job("list", "3", "99") == 0
    assert capsys.readouterr().out.splitlines() == [
        "ID Status  Summary",
        " 3 running TEST_DELAY(30.0)",
        "99 -       -",
    ]
    assert queue.calls[-1] == ("QueryJobs", [[3, 99], ["id", "status", "summary"]])
    assert await gnt_job("list", "-v", "--separator", ",", "--no-headers", "99") == 0
    assert capsys.readouterr().out == "99,(unavail),(unavail)\n"
    assert await gnt_job("list", "--error", "99") == 0
    assert capsys.readouterr().out == "ID Status Summary\n"


@async_test
async def test_list_unknown_field_is_refused(queue, capsys) -> None:
    assert await gnt_job("list", "-o", "id,colour") == 14
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("Failure: unknown field(s) colour; known fields: id, status,")
    assert queue.calls == []


@async_test
async def test_list_bad_job_id_is_a_usage_error(master, capsys) -> None:
    with pytest.raises(SystemExit) as exc:
        await gnt_job("list", "three")
    assert exc.value.code == 2
    assert "invalid job ID 'three': not an integer" in capsys.readouterr().err


@async_test
async def test_list_malformed_answer_is_reported(queue, capsys) -> None:
    queue.answers["QueryJobs"] = [[1, "success"]]
    assert await gnt_job("list") == 1
    assert capsys.readouterr().err == (
        "Failure: the master daemon answered QueryJobs with a malformed row: [1, 'success']\n"
    )


@async_test
async def test_without_master_the_tool_says_so(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("CORRAL_ROOTDIR", str(tmp_path))
    monkeypatch.setenv("GNT_DISABLE_PLUGIN_AUTOLOAD", "1")
    assert await gnt_job("list") == 1
    err = capsys.readouterr().err
    assert err.startswith(f"Failure: cannot reach the master daemon at {tmp_path}/var/run/")


# -- list-fields --------------------------------------------------------------


@async_test
async def test_list_fields_all_sorted_with_titles(master, capsys) -> None:
    assert await gnt_job("list-fields") == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["Name", "Type", "Title", "Description"]
    names = [line.split()[0] for line in lines[1:]]
    assert names == sorted(names) and len(names) == 15
    assert "id          Number ID            Job ID" in lines
    assert (
        "received_ts Custom Received      Timestamp of when job was received"
        " (tuple containing seconds and microseconds)"
    ) in lines
    assert master.calls == []  # answered by the tool itself


@async_test
async def test_list_fields_selected_and_unknown(master, capsys) -> None:
    assert await gnt_job("list-fields", "--separator", "|", "status", "summary") == 0
    assert capsys.readouterr().out.splitlines() == [
        "Name|Type|Title|Description",
        "status|Text|Status|Job status",
        "summary|Custom|Summary|List of per-opcode summaries",
    ]
    assert await gnt_job("list-fields", "--no-headers", "id", "nope") == 14
    captured = capsys.readouterr()
    assert captured.out == "id Number ID Job ID\n"
    assert captured.err == "Warning: Queried for unknown fields nope\n"


# -- info ---------------------------------------------------------------------


@async_test
async def test_info_layout_as_ganeti(queue, capsys) -> None:
    assert await gnt_job("info", "1", "42") == 0
    out = capsys.readouterr().out
    assert out.splitlines() == [
        "- Job ID: 1",
        "  Status: success",
        "  Received:         2026-11-22 06:10:00.000000",
        "  Processing start: 2026-11-22 06:10:01.000000 (delta 1.000000s)",
        "  Processing end:   2026-11-22 06:10:03.000000 (delta 2.000000s)",
        "  Total processing time: 3.000000 seconds",
        "  Opcodes: ",
        "    - Opcode: OP_TEST_DELAY",
        "      Status: success",
        "      Processing start: 2026-11-22 06:10:01.000000",
        "      Execution start:  2026-11-22 06:10:01.000000",
        "      Processing end:   2026-11-22 06:10:03.000000",
        "      Input fields: ",
        "        OP_ID: OP_TEST_DELAY",
        "        comment: None",
        "        debug_level: None",
        "        depends: None",
        "        dry_run: None",
        "        duration: 2.0",
        "        interruptible: False",
        "        no_locks: True",
        "        on_master: True",
        "        on_node_uuids: None",
        "        on_nodes: ",
        "        priority: 0",
        "        reason: ",
        "        repeat: 0",
        "      Result: None",
        "      Execution log: ",
        "        - Time: 2026-11-22 06:10:02.000000",
        "          Content: [1, message, Sleeping for 2.0 seconds]",
        "- Job ID 42 not found",
    ]
    assert queue.calls[-1] == ("QueryJobs", [[1, 42], list(job_tool.INFO_FIELDS)])


@async_test
async def test_info_of_unfinished_and_failed_jobs(queue, capsys) -> None:
    assert await gnt_job("show", "2", "4") == 0
    lines = capsys.readouterr().out.splitlines()
    assert "      Result: " in lines  # failed opcode: its encoded error, as a list
    start = lines.index("      Result: ")
    assert lines[start + 1 : start + 4] == [
        "        - OpExecError",
        "        - - negative delay",
        "      Execution log: ",
    ]
    job4 = lines[lines.index("- Job ID: 4") :]
    assert job4[:8] == [
        "- Job ID: 4",
        "  Status: queued",
        "  Received:         2026-11-22 06:10:08.000000",
        "  Processing start: unknown (None)",
        "  Processing end:   unknown (None)",
        "  Total processing time: N/A",
        "  Opcodes: ",
        "    - Opcode: OP_CLUSTER_VERIFY_CONFIG",
    ]
    assert job4[9:12] == [
        "      Processing start: N/A",
        "      Execution start:  N/A",
        "      Processing end:   N/A",
    ]


@async_test
async def test_info_without_ids_shows_every_job(queue, capsys) -> None:
    assert await gnt_job("info") == 0
    ids = re.findall(r"^- Job ID: (\d+)$", capsys.readouterr().out, re.MULTILINE)
    assert ids == ["1", "2", "3", "4"]
    assert queue.calls[-1][1][0] is None


def test_generic_info_inline_tuples_and_alignment() -> None:
    data = [
        [("a", 1, "g"), ("long key", {"z": [], "y": (1, "x")}, "g"), ("n", [])],
        "plain",
    ]
    assert job_tool.format_generic_info(data).split("\n") == [
        "- a:        1",
        "  long key: ",
        "    y: [1, x]",
        "    z: ",
        "  n: ",
        "- plain",
    ]


# -- watch, wait --------------------------------------------------------------


@async_test
async def test_watch_prints_the_log_until_the_job_ends(master, capsys) -> None:
    job = master.add_job([delay_op(2.0), delay_op(1.0)])
    master.scripts[job.id] = deque(
        [
            "nochange",
            run(0),
            log(0, "first line"),
            "nochange",
            log(0, "tab\there\nnewline"),
            finish(0),
            run(1),
            log(1, ["a", "b"], "message-list"),
            finish(1, True, 42),
        ]
    )
    assert await gnt_job("watch", str(job.id)) == 0
    captured = capsys.readouterr()
    assert captured.out.splitlines() == [
        "Output from job 1 follows",
        "-------------------------",
        "Sun Nov 22 06:10:02 2026 first line",
        "Sun Nov 22 06:10:03 2026 tab\\there\\nnewline",
        "Sun Nov 22 06:10:06 2026 ['a', 'b']",
    ]
    assert captured.err == ""
    waits = [args for method, args in master.calls if method == "WaitForJobChange"]
    # Ganeti's protocol: fields ["status"], no previous info or serial at first,
    # then the last job info and the highest log serial seen.
    assert waits[0] == [1, ["status"], None, None, 30.0]
    assert waits[3] == [1, ["status"], ["running"], 1, 30.0]
    assert waits[-1][3] == 3
    assert master.calls[-1] == ("QueryJobs", [[1], ["status", "opstatus", "opresult"]])


@async_test
async def test_watch_reports_a_job_waiting_in_the_queue_once(master, capsys) -> None:
    job = master.add_job([delay_op(1.0)])
    master.scripts[job.id] = deque(
        [
            lambda m, j: None,  # first answer: the job is still queued
            "nochange",
            "nochange",
            wait_locks(0),
            "nochange",
            "nochange",
            run(0),
            finish(0),
        ]
    )
    assert await gnt_job("watch", "1") == 0
    assert capsys.readouterr().err == (
        "Job 1 is waiting in queue\nJob 1 is trying to acquire all necessary locks\n"
    )


@async_test
async def test_watch_failed_job(master, capsys) -> None:
    job = master.add_job([delay_op(1.0)])
    master.scripts[job.id] = deque(
        [
            run(0),
            log(0, "about to fail"),
            finish(0, False, ["OpPrereqError", ["no such node", "wrong_input"]]),
        ]
    )
    assert await gnt_job("watch", "1") == 1
    captured = capsys.readouterr()
    assert captured.out.splitlines()[-1] == "Sun Nov 22 06:10:02 2026 about to fail"
    assert captured.err == "Job 1 failed: no such node\n"


@async_test
async def test_watch_job_that_disappears_or_never_existed(master, capsys) -> None:
    job = master.add_job([delay_op(1.0)])
    master.scripts[job.id] = deque([run(0), vanish()])
    assert await gnt_job("watch", "1") == 1
    assert capsys.readouterr().err == (
        "Job 1 failed: Error checking job status: Job with id 1 lost\n"
    )
    assert await gnt_job("watch", "7") == 1
    assert capsys.readouterr().err == (
        "Job 7 failed: Error checking job status: Job with id 7 lost\n"
    )


@async_test
async def test_wait_prints_nothing_and_gives_the_outcome(master, capsys) -> None:
    ok = master.add_job([delay_op(1.0)])
    master.scripts[ok.id] = deque([run(0), "nochange", log(0, "quiet"), finish(0)])
    assert await gnt_job("wait", "1") == 0
    assert capsys.readouterr() == ("", "")
    canceled = master.add_job([delay_op(1.0)])
    master.scripts[canceled.id] = deque(["nochange", cancel()])
    assert await gnt_job("wait", "2") == 1
    assert capsys.readouterr() == ("", "Job 2 failed: Job was canceled\n")


@async_test
async def test_wait_rejects_a_malformed_answer(master, capsys) -> None:
    master.add_job([delay_op(1.0)])
    master.answers["WaitForJobChange"] = {"status": "running"}
    assert await gnt_job("wait", "1") == 1
    assert capsys.readouterr().err == (
        "Failure: the master daemon gave an answer to WaitForJobChange for job 1 that is not"
        " [job info, log entries]: {'status': 'running'}\n"
    )


# -- cancel, change-priority ----------------------------------------------------


@async_test
async def test_cancel_given_jobs_prints_each_answer(queue, capsys) -> None:
    assert await gnt_job("cancel", "4", "3") == 0
    assert capsys.readouterr().out == "Job 4 canceled\nJob 3 will be canceled\n"
    assert await gnt_job("cancel", "1", "4") == 1
    assert capsys.readouterr().out == (
        "Job 1 is no longer waiting in the queue\nJob 4 is no longer waiting in the queue\n"
    )
    assert ("CancelJob", [4]) in queue.calls


@async_test
async def test_cancel_needs_ids_or_a_filter_but_not_both(queue, capsys) -> None:
    message = "Failure: Either a status filter or job ID(s) must be specified and never both\n"
    assert await gnt_job("cancel") == 1
    assert capsys.readouterr().err == message
    assert await gnt_job("cancel", "--pending", "4") == 1
    assert capsys.readouterr().err == message


@async_test
async def test_cancel_by_status_with_force(queue, capsys) -> None:
    assert await gnt_job("cancel", "--pending", "--force") == 0
    assert capsys.readouterr().out == "Job 4 canceled\n"
    assert await gnt_job("cancel", "--queued", "-f") == 1
    assert capsys.readouterr().err == (
        "Failure: No jobs with the requested status have been found\n"
    )


@async_test
async def test_cancel_by_status_asks_first(queue, capsys, monkeypatch) -> None:
    asked: list[str] = []

    def no(question: str) -> bool:
        asked.append(question)
        return False

    monkeypatch.setattr(job_tool, "ask_user", no)
    assert await gnt_job("cancel", "--pending") == 13
    assert capsys.readouterr().out == "ID Status Summary\n 4 queued CLUSTER_VERIFY_CONFIG\n"
    assert asked == ["Cancel job(s) listed above?"]
    assert not any(method == "CancelJob" for method, _ in queue.calls)
    monkeypatch.setattr(job_tool, "ask_user", lambda question: True)
    assert await gnt_job("cancel", "--pending") == 0
    assert capsys.readouterr().out.splitlines()[-1] == "Job 4 canceled"


@async_test
async def test_cancel_kill_needs_confirmation(queue, capsys) -> None:
    assert await gnt_job("cancel", "--kill", "3") == 1
    assert capsys.readouterr().err == (
        "Failure: The --kill option must be confirmed with --yes-do-it\n"
    )
    assert await gnt_job("cancel", "--kill", "--yes-do-it", "3") == 0
    assert ("CancelJob", [3, True]) in queue.calls
    assert capsys.readouterr().out == "Job 3 killed\n"
    assert queue.jobs[3].ops[0].result == "Job killed by request"
    assert await gnt_job("cancel", "--kill", "--ya-rly", "3") == 1
    assert capsys.readouterr().out == "Job 3 is no longer waiting in the queue\n"


@async_test
async def test_cancel_kill_by_status_asks_to_kill(queue, capsys, monkeypatch) -> None:
    asked: list[str] = []

    def yes(question: str) -> bool:
        asked.append(question)
        return True

    monkeypatch.setattr(job_tool, "ask_user", yes)
    assert await gnt_job("cancel", "--kill", "--yes-do-it", "--pending") == 0
    assert asked == ["KILL job(s) listed above?"]
    assert capsys.readouterr().out.splitlines()[-1] == "Job 4 canceled"
    assert ("CancelJob", [4, True]) in queue.calls


def test_cancel_help_explains_kill(capsys) -> None:
    with pytest.raises(SystemExit):
        job_tool.main(["cancel", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "--kill also stop running jobs at once" in out
    assert "--yes-do-it, --ya-rly confirm --kill" in out
    assert "end as error with the result 'Job killed by request'" in out


@async_test
async def test_change_priority(queue, capsys) -> None:
    assert await gnt_job("change-priority", "4") == 1
    assert capsys.readouterr().err == "--priority option must be given.\n"
    assert await gnt_job("change-priority", "--priority", "low", "4", "1") == 1
    assert capsys.readouterr().out == (
        "Priorities of pending opcodes for job 4 have been changed to 10\nJob 1 is finished\n"
    )
    assert queue.jobs[4].ops[0].priority == 10
    assert await gnt_job("change-priority", "--priority", "high", "--waiting", "-f") == 1
    assert "No jobs with the requested status" in capsys.readouterr().err


@async_test
async def test_unexpected_cancel_answer(queue, capsys) -> None:
    queue.answers["CancelJob"] = True
    assert await gnt_job("cancel", "4") == 1
    assert capsys.readouterr().err == (
        "Failure: the master daemon answered CancelJob with True, not [ok, message]\n"
    )


# -- archive, autoarchive -------------------------------------------------------


@async_test
async def test_archive(queue, capsys) -> None:
    assert await gnt_job("archive", "1", "3", "2") == 1
    assert capsys.readouterr() == ("", "Failed to archive job with ID '3'\n")
    assert sorted(queue.jobs) == [3, 4]


@pytest.mark.parametrize(
    ("age", "seconds"), [("all", -1), ("1d", 86400), ("2h", 7200), ("90", 90), ("3w", 1814400)]
)
@async_test
async def test_autoarchive_ages(queue, capsys, age, seconds) -> None:
    assert await gnt_job("autoarchive", age) == 0
    assert queue.calls[-1] == ("AutoArchiveJobs", [seconds, 89])
    archived = 2 if seconds == -1 else 0
    assert capsys.readouterr().out == f"Archived {archived} jobs, 0 unchecked left\n"


@pytest.mark.parametrize(
    ("age", "message"),
    [
        ("soon", "Invalid time specification 'soon'"),
        ("d", "Invalid time specification (only suffix passed)"),
        ("1x", "Invalid time specification '1x'"),
    ],
)
@async_test
async def test_autoarchive_bad_age(master, capsys, age, message) -> None:
    assert await gnt_job("autoarchive", age) == 1
    assert capsys.readouterr().err == f"Failure: {message}\n"
    assert master.calls == []
