"""gnt-debug delay and submit-job, and the job helpers every submitting command uses.

The fake master (a LUXI server over real Job objects on a temporary socket)
comes from test_gnt_job.py, loaded by path since the test folders are not
packages.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from collections import deque
from pathlib import Path
from typing import TYPE_CHECKING
from typing import Any

import pytest

from corral.cli import gnt_debug
from corral.testing import async_test

if TYPE_CHECKING:
    from types import ModuleType


def _shared() -> ModuleType:
    path = Path(__file__).with_name("test_gnt_job.py")
    spec = importlib.util.spec_from_file_location("_corral_cli_fake_master", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


_fake = _shared()
master = _fake.master  # the fixture
run, log, finish, vanish, wait_locks = (
    _fake.run,
    _fake.log,
    _fake.finish,
    _fake.vanish,
    _fake.wait_locks,
)
STAMP = "Sun Nov 22 06:10:0"


async def gnt_debug_main(*argv: str) -> int:
    status: int = await _fake.cli(gnt_debug.main, *argv)
    return status


def submitted_op(master: Any, job: int = 0, op: int = 0) -> dict[str, Any]:
    return master.submitted[job][op]  # type: ignore[no-any-return]


# -- delay --------------------------------------------------------------------


@async_test
async def test_delay_waits_and_prints_feedback(master, capsys) -> None:
    assert await gnt_debug_main("delay", "2") == 0
    captured = capsys.readouterr()
    assert captured.out == "Sun Nov 22 06:10:02 2026 TEST_DELAY(2.0) running\n"
    assert captured.err == ""
    op = submitted_op(master)
    assert op["OP_ID"] == "OP_TEST_DELAY"
    assert (op["duration"], op["on_master"], op["on_nodes"], op["repeat"]) == (2.0, True, [], 0)
    assert (op["interruptible"], op["no_locks"], op["priority"]) == (False, False, 0)
    assert "dry_run" not in op or not op["dry_run"]
    [(source, command, stamp)] = op["reason"]
    assert (source, command) == ("gnt:client:gnt-debug", "delay")
    assert isinstance(stamp, int) and stamp > 1_600_000_000 * 10**9
    assert [m for m, _ in master.calls][:2] == ["SubmitJob", "WaitForJobChange"]


@async_test
async def test_delay_options_reach_the_opcode(master, capsys) -> None:
    argv = ["delay", "--no-master", "-n", "node1", "-n", "node2", "-r", "3", "-i", "-l"]
    argv += ["--priority", "high", "--dry-run", "-d", "-d", "0.5"]
    assert await gnt_debug_main(*argv) == 0
    op = submitted_op(master)
    assert op["on_master"] is False and op["on_nodes"] == ["node1", "node2"]
    assert (op["repeat"], op["interruptible"], op["no_locks"]) == (3, True, True)
    assert (op["priority"], op["dry_run"], op["debug_level"], op["duration"]) == (-10, True, 2, 0.5)
    assert await gnt_debug_main("delay", "--priority", "low", "1") == 0
    assert submitted_op(master, 1)["priority"] == 10


@async_test
async def test_delay_submit_only_prints_the_job_id(master, capsys) -> None:
    assert await gnt_debug_main("delay", "--submit", "5") == 0
    assert capsys.readouterr() == ("", "JobID: 1\n")
    assert [m for m, _ in master.calls] == ["SubmitJob"]


@async_test
async def test_delay_print_jobid_then_waits(master, capsys) -> None:
    assert await gnt_debug_main("delay", "--print-jobid", "1") == 0
    assert capsys.readouterr().out.splitlines() == [
        "1",
        "Sun Nov 22 06:10:02 2026 TEST_DELAY(1.0) running",
    ]
    assert await gnt_debug_main("delay", "--print-jobid", "--submit", "1") == 0
    assert capsys.readouterr() == ("2\n", "JobID: 2\n")


@async_test
async def test_delay_reports_waiting_and_escapes_messages(master, capsys) -> None:
    master.script_for = lambda job: [
        lambda m, j: None,
        "nochange",
        wait_locks(0),
        "nochange",
        run(0),
        log(0, "line one\nline two\t\x07 caf\u00e9"),
        log(0, {"progress": 50}, "remote-import"),
        "nochange",
        finish(0, True, {"slept": 1.0}),
    ]
    assert await gnt_debug_main("delay", "1") == 0
    captured = capsys.readouterr()
    assert captured.out.splitlines() == [
        "Sun Nov 22 06:10:04 2026 line one\\nline two\\t\\x07 caf\\xe9",
        "Sun Nov 22 06:10:05 2026 {'progress': 50}",
    ]
    assert captured.err == (
        "Job 1 is waiting in queue\nJob 1 is trying to acquire all necessary locks\n"
    )


@pytest.mark.parametrize(
    ("result", "second", "message"),
    [
        (["OpExecError", ["sleep failed on node2"]], False, "sleep failed on node2"),
        (["OpPrereqError", ["node3 is offline", "wrong_state"]], False, "node3 is offline"),
        (["HypervisorError", []], False, "HypervisorError"),
        ("plain text", False, "plain text"),
        ("plain text", True, "partial failure (opcode 1): plain text"),
    ],
)
@async_test
async def test_delay_failure_prints_the_opcode_error(
    master, tmp_path, capsys, result, second, message
) -> None:
    if second:  # a failure after a success needs two opcodes: submit them from a file
        master.script_for = lambda job: [run(0), finish(0), run(1), finish(1, False, result)]
        path = tmp_path / "two.json"
        path.write_text(json.dumps([{"OP_ID": "OP_TEST_DELAY", "duration": 0}] * 2))
        assert await gnt_debug_main("submit-job", str(path)) == 1
        err = capsys.readouterr().err
        assert err == f"Job 1 for file {path}/0 has failed: {message}\n"
        return
    master.script_for = lambda job: [run(0), log(0, "trying"), finish(0, False, result)]
    assert await gnt_debug_main("delay", "1") == 1
    captured = capsys.readouterr()
    assert captured.out == "Sun Nov 22 06:10:02 2026 trying\n"
    assert captured.err == f"Failure: {message}\n"


@async_test
async def test_delay_canceled_or_lost_job(master, capsys) -> None:
    master.script_for = lambda job: ["nochange", _fake.cancel()]
    assert await gnt_debug_main("delay", "1") == 1
    assert capsys.readouterr() == ("", "Failure: Job was canceled\n")
    master.script_for = lambda job: [run(0), vanish()]
    assert await gnt_debug_main("delay", "1") == 1
    assert capsys.readouterr().err == "Failure: Error checking job status: Job with id 2 lost\n"


@async_test
async def test_delay_on_a_drained_queue(master, capsys) -> None:
    master.drained = True
    assert await gnt_debug_main("delay", "1") == 1
    assert capsys.readouterr() == (
        "",
        "Failure: the job queue is marked for drain and doesn't accept new requests\n",
    )


@async_test
async def test_delay_refused_by_the_master(master, capsys) -> None:
    master.refuse = "OP_TEST_DELAY: duration: Not a valid number."
    assert await gnt_debug_main("delay", "1") == 1
    assert capsys.readouterr().err == "Failure: OP_TEST_DELAY: duration: Not a valid number.\n"


@async_test
async def test_delay_bad_arguments(master, capsys) -> None:
    with pytest.raises(SystemExit) as exc:
        await gnt_debug_main("delay", "soon")
    assert exc.value.code == 2
    assert "argument DURATION: invalid float value: 'soon'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        await gnt_debug_main("delay", "--priority", "urgent", "1")
    assert "invalid choice: 'urgent'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        await gnt_debug_main("delay", "-r", "-1", "1")
    assert "-1 is negative" in capsys.readouterr().err
    assert master.calls == []


# -- submit-job ---------------------------------------------------------------


@pytest.fixture
def opfiles(tmp_path) -> tuple[Path, Path]:
    one = tmp_path / "one.json"
    one.write_text(json.dumps([{"OP_ID": "OP_TEST_DELAY", "duration": 1}]))
    two = tmp_path / "two.json"
    two.write_text(
        json.dumps(
            [
                {"OP_ID": "OP_TEST_DELAY", "duration": 2, "priority": 10},
                {"OP_ID": "OP_TEST_JQUEUE", "log_messages": ["hello"]},
            ]
        )
    )
    return one, two


@async_test
async def test_submit_job_one_job_per_file(master, opfiles, capsys) -> None:
    one, two = opfiles
    assert await gnt_debug_main("submit-job", "-v", str(one), str(two)) == 0
    assert capsys.readouterr().out.splitlines() == [
        "Submitted jobs 1, 2",
        f"Waiting for job 1 for file {one}/0 ...",
        "Sun Nov 22 06:10:02 2026 TEST_DELAY(1.0) running",
        f"Waiting for job 2 for file {two}/0 ...",
        "Sun Nov 22 06:10:05 2026 TEST_DELAY(2.0) running",
        "Sun Nov 22 06:10:08 2026 TEST_JQUEUE running",
    ]
    assert master.calls[0][0] == "SubmitManyJobs"
    assert [op["OP_ID"] for op in master.submitted[1]] == ["OP_TEST_DELAY", "OP_TEST_JQUEUE"]
    assert master.submitted[1][0]["priority"] == 10  # the file's own priority stays
    assert master.submitted[1][1]["log_messages"] == ["hello"]


@async_test
async def test_submit_job_repeats_each_priority_and_timing(master, opfiles, capsys) -> None:
    one, _ = opfiles
    argv = ["submit-job", "--each", "--job-repeat", "2", "--op-repeat", "3"]
    argv += ["--priority", "high", "--timing-stats", str(one)]
    assert await gnt_debug_main(*argv) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[:3] == ["Loading...", "Submitting...", "Executing..."]
    assert out[3] == f"Waiting for job 1 for file {one}/0 ..."
    assert f"Waiting for job 2 for file {one}/1 ..." in out
    assert out[-5:-3] == ["C:op        6", "C:job       2"]
    assert [line.split()[0] for line in out[-3:]] == ["T:submit", "T:exec", "T:total"]
    assert [m for m, _ in master.calls].count("SubmitJob") == 2
    assert [len(ops) for ops in master.submitted] == [3, 3]
    assert {op["priority"] for ops in master.submitted for op in ops} == {-10}


@async_test
async def test_submit_job_failures(master, opfiles, capsys) -> None:
    one, two = opfiles
    results = iter([[run(0), finish(0, False, ["OpExecError", ["boom"]])]])
    master.script_for = lambda job: next(results, None) or _fake.runs_ok(job)
    assert await gnt_debug_main("submit-job", str(one), str(two)) == 1
    captured = capsys.readouterr()
    assert captured.err == f"Job 1 for file {one}/0 has failed: boom\n"
    assert f"Waiting for job 2 for file {two}/0 ..." in captured.out
    master.answers["SubmitManyJobs"] = [[False, "job queue is full"], [True, 2]]
    assert await gnt_debug_main("submit-job", str(one), str(two)) == 1
    captured = capsys.readouterr()
    assert captured.err == f"Failed to submit job for file {one}/0: job queue is full\n"
    # job 2 has already run: waiting for it shows its whole log again
    assert captured.out.splitlines() == [
        f"Waiting for job 2 for file {two}/0 ...",
        "Sun Nov 22 06:10:04 2026 TEST_DELAY(2.0) running",
        "Sun Nov 22 06:10:07 2026 TEST_JQUEUE running",
    ]


@async_test
async def test_submit_job_drained_queue(master, opfiles, capsys) -> None:
    master.drained = True
    # SubmitManyJobs refuses job by job; SubmitJob (--each) refuses the call
    assert await gnt_debug_main("submit-job", str(opfiles[0])) == 1
    assert capsys.readouterr() == (
        "",
        f"Failed to submit job for file {opfiles[0]}/0: {_fake.DRAINED}\n",
    )
    assert await gnt_debug_main("submit-job", "--each", str(opfiles[0])) == 1
    assert capsys.readouterr().err == (
        "Failure: the job queue is marked for drain and doesn't accept new requests\n"
    )


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "is not valid JSON"),
        ('{"OP_ID": "OP_TEST_DELAY"}', "must hold a JSON list of opcodes, not dict"),
        ("[]", "holds no opcodes; a job needs at least one"),
        ('[{"OP_ID": "OP_TEST_DELAY", "duration": "long"}]', "opcode 0: OP_TEST_DELAY: duration:"),
        ('[{"OP_ID": "OP_NO_SUCH_THING"}]', "opcode 0: "),
    ],
)
@async_test
async def test_submit_job_bad_files_submit_nothing(
    master, tmp_path, capsys, content, message
) -> None:
    good = tmp_path / "good.json"
    good.write_text('[{"OP_ID": "OP_TEST_DELAY", "duration": 1}]')
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    assert await gnt_debug_main("submit-job", str(good), str(bad)) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"Failure: opcodes file {bad}") and message in err
    assert master.calls == []


@async_test
async def test_submit_job_missing_file(master, tmp_path, capsys) -> None:
    assert await gnt_debug_main("submit-job", str(tmp_path / "nope.json")) == 1
    assert capsys.readouterr().err == (
        f"Failure: cannot read opcodes file {tmp_path}/nope.json: No such file or directory\n"
    )


@async_test
async def test_malformed_submit_many_answer(master, opfiles, capsys) -> None:
    master.answers["SubmitManyJobs"] = [5]
    assert await gnt_debug_main("submit-job", str(opfiles[0])) == 1
    assert capsys.readouterr().err == (
        "Failure: malformed SubmitManyJobs entry 5: not [ok, job ID or error]\n"
    )


def test_submit_and_wait_returns_results(capsys) -> None:
    """The helper's contract for other tools: (status, results) or (None, []) with --submit."""
    import argparse

    from corral.cli import jobs

    parser = argparse.ArgumentParser(prog="gnt-instance startup")
    jobs.add_submit_options(parser)

    class Client:
        def __init__(self, answers: list[Any]) -> None:
            self.answers = deque(answers)
            self.sent: list[Any] = []

        def submit_job(self, ops: list[dict[str, Any]]) -> int:
            self.sent.append(ops)
            return 9

        def wait_for_job_change(self, *args: Any) -> Any:
            return self.answers.popleft()

        def query_jobs(self, ids: list[int], fields: list[str]) -> list[Any]:
            return [["success", ["success"], [{"ok": True}]]]

    client = Client([[["success"], []]])
    status, results = jobs.submit_and_wait(
        client,  # type: ignore[arg-type]
        [{"OP_ID": "OP_TEST_DELAY", "duration": 0}],
        parser.parse_args([]),
    )
    assert (status, results) == ("success", [{"ok": True}])
    assert client.sent[0][0]["reason"][0][:2] == ["gnt:client:gnt-instance", "startup"]
    args = parser.parse_args(["--submit", "--print-jobid", "--priority", "low"])
    client = Client([])
    assert jobs.submit_and_wait(client, [{"OP_ID": "OP_TEST_DELAY"}], args) == (None, [])  # type: ignore[arg-type]
    assert client.sent[0][0]["priority"] == 10
    assert capsys.readouterr() == ("9\n", "JobID: 9\n")
