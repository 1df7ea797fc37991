"""The master daemon over its real socket: jobs, order, priorities, cancel, kill, bad input."""

from __future__ import annotations

import json
import signal
import socket
import threading

from corral.luxi.protocol import EOM

FINAL = {"success", "error", "canceled"}


def delay(duration: float = 0.0, **extra) -> dict:
    return {"OP_ID": "OP_TEST_DELAY", "duration": duration, **extra}


def wait_all(client, job_ids, timeout=120.0) -> list:
    """Poll until every job is final; returns their (id, status) rows."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = client.query_jobs(job_ids, ["id", "status"])
        if all(row[1] in FINAL for row in rows):
            return rows
        time.sleep(0.05)
    raise AssertionError(f"jobs not finished: {rows}")


def test_500_jobs_submitted_concurrently_all_finish(master_factory) -> None:
    master = master_factory()
    ids: list[int] = []
    lock = threading.Lock()

    def submitter() -> None:
        with master.client() as client:
            mine = [client.submit_job([delay()]) for _ in range(50)]
        with lock:
            ids.extend(mine)

    threads = [threading.Thread(target=submitter) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(ids) == 500 and len(set(ids)) == 500
    with master.client() as client:
        rows = wait_all(client, sorted(ids))
    assert {status for _, status in rows} == {"success"}


def test_dependencies_run_in_order(master_factory) -> None:
    master = master_factory()
    with master.client() as client:
        first = client.submit_job([delay(0.3)])
        second = client.submit_job([delay(0.0, depends=[[first, ["success"]]])])
        refused = client.submit_job([delay(0.0, depends=[[first, ["error"]]])])
        wait_all(client, [first, second, refused])
        (a_end,), (b_start,) = (
            client.query_jobs([first], ["end_ts"])[0],
            client.query_jobs([second], ["start_ts"])[0],
        )
        assert tuple(b_start) >= tuple(a_end)
        status, result = client.query_jobs([refused], ["status", "opresult"])[0]
        assert status == "error" and "ended as success, not one of error" in result[0]


def test_relative_dependencies_in_submit_many(master_factory) -> None:
    master = master_factory()
    with master.client() as client:
        answers = client.submit_many_jobs([[delay(0.2)], [delay(0.0, depends=[[-1, []]])]])
        assert [ok for ok, _ in answers] == [True, True]
        first, second = (job_id for _, job_id in answers)
        wait_all(client, [first, second])
        end = client.query_jobs([first], ["end_ts"])[0][0]
        start = client.query_jobs([second], ["start_ts"])[0][0]
        assert tuple(start) >= tuple(end)


def test_priorities_reorder_waiting_jobs(master_factory) -> None:
    master = master_factory("--max-running-jobs", "1")
    with master.client() as client:
        blocker = client.submit_job([delay(0.5)])
        low = client.submit_job([delay(0.0, priority=10)])
        normal = client.submit_job([delay(0.0)])
        high = client.submit_job([delay(0.0, priority=-10)])
        wait_all(client, [blocker, low, normal, high])
        starts = {
            job: tuple(client.query_jobs([job], ["start_ts"])[0][0]) for job in (low, normal, high)
        }
        assert starts[high] < starts[normal] < starts[low]


def test_change_priority_of_a_waiting_job(master_factory) -> None:
    master = master_factory("--max-running-jobs", "1")
    with master.client() as client:
        blocker = client.submit_job([delay(0.5)])
        first = client.submit_job([delay(0.0)])
        second = client.submit_job([delay(0.0)])
        ok, message = client.change_job_priority(second, -10)
        assert ok, message
        wait_all(client, [blocker, first, second])
        start = {j: tuple(client.query_jobs([j], ["start_ts"])[0][0]) for j in (first, second)}
        assert start[second] < start[first]


def test_a_cancelled_job_never_runs_its_opcode(master_factory) -> None:
    master = master_factory("--max-running-jobs", "1")
    with master.client() as client:
        blocker = client.submit_job([delay(0.5)])
        victim = client.submit_job([delay(0.0, repeat=2)])
        ok, message = client.cancel_job(victim)
        assert ok and message == f"Job {victim} canceled"
        wait_all(client, [blocker, victim])
        status, opstatus, oplog, opexec = client.query_jobs(
            [victim], ["status", "opstatus", "oplog", "opexec"]
        )[0]
        assert status == "canceled" and opstatus == ["canceled"]
        assert oplog == [[]] and opexec == [None]
        assert client.cancel_job(victim)[0] is False


def test_kill_stops_a_running_job_at_once(master_factory) -> None:
    import time

    master = master_factory("--max-running-jobs", "1")
    with master.client() as client:
        victim = client.submit_job([delay(120.0), delay(0.0)])
        deadline = time.monotonic() + 20
        while client.query_jobs([victim], ["status"])[0][0] != "running":
            assert time.monotonic() < deadline, "the job never started"
            time.sleep(0.02)
        follower = client.submit_job([delay(0.0)])  # waits for the running slot
        started = time.monotonic()
        ok, message = client.call("CancelJob", victim, True)
        assert ok and message == f"Job {victim} killed"
        status, opstatus, opresult, end_ts = client.query_jobs(
            [victim], ["status", "opstatus", "opresult", "end_ts"]
        )[0]
        assert time.monotonic() - started < 5
        assert status == "error" and opstatus == ["error", "error"] and end_ts is not None
        assert opresult == ["Job killed by request", "Job killed by request"]
        # Same locks, same slot: the next job runs.
        assert wait_all(client, [follower], timeout=20) == [[follower, "success"]]
        ok, message = client.call("CancelJob", victim, True)
        assert not ok and message == f"Job {victim} is error and cannot be killed"
    master.kill(signal.SIGTERM)  # the kill was on disk: a restart finds the same job
    master.start()
    with master.client() as client:
        assert client.query_jobs([victim], ["status", "opresult"])[0] == [
            "error",
            ["Job killed by request", "Job killed by request"],
        ]


def test_drain_flag_refuses_new_jobs(master_factory) -> None:
    import pytest

    from corral.api import OpPrereqError

    master = master_factory()
    with master.client() as client:
        assert client.set_drain_flag(True) is True
        with pytest.raises(OpPrereqError, match="drained"):
            client.submit_job([delay()])
        job = client.call("SubmitJobToDrainedQueue", [delay()])
        client.set_drain_flag(False)
        assert wait_all(client, [job, client.submit_job([delay()])])


def test_archive_and_watch(master_factory) -> None:
    master = master_factory()
    with master.client() as client:
        job = client.submit_job([delay(0.1, repeat=1)])
        info, serial, messages = None, -1, []
        while True:
            answer = client.wait_for_job_change(job, ["status"], info, serial, 10)
            if answer == "nochange":
                continue
            info, entries = answer
            messages += [entry[3] for entry in entries]
            serial = max([serial, *(entry[0] for entry in entries)])
            if info[0] in FINAL:
                break
        assert messages == ["Test delay iteration 1/2", "Test delay iteration 2/2"]
        assert client.archive_job(job) is True
        assert client.query_jobs([job], ["id"]) == [None]
        assert client.wait_for_job_change(job, ["status"], None, -1, 1) is None


def raw(master, payload: bytes) -> dict:
    with socket.socket(socket.AF_UNIX) as sock:
        sock.settimeout(10)
        sock.connect(str(master.socket))
        try:
            sock.sendall(payload)
        except BrokenPipeError:
            pass  # an oversized request: the daemon answered and hung up mid-send
        data = b""
        while not data.endswith(EOM):
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    return json.loads(data[:-1])


def test_bad_input_gets_clear_errors_and_the_daemon_keeps_serving(master_factory) -> None:
    master = master_factory()
    cases = [
        (b"{garbage" + EOM, "ProtocolError", "not valid JSON"),
        (json.dumps({"method": "SubmitJob", "args": [[{"OP_ID": "OP_NO_SUCH"}]]}).encode() + EOM,
         "OpPrereqError", "unknown opcode 'OP_NO_SUCH'"),
        (json.dumps({"method": "SubmitJob", "args": [[delay("soon")]]}).encode() + EOM,
         "OpPrereqError", "duration: Not a valid number"),
        (json.dumps({"method": "SubmitJob", "args": []}).encode() + EOM,
         "LuxiError", "SubmitJob takes 1 argument(s) (ops), got 0"),
        (json.dumps({"method": "SubmitJobz", "args": []}).encode() + EOM,
         "LuxiError", "did you mean SubmitJob"),
        (b'{"method": "SubmitJob", "args": ["' + b"x" * (33 * 1024 * 1024),
         "ProtocolError", "request larger than"),
    ]  # fmt: skip
    for payload, kind, text in cases:
        reply = raw(master, payload)
        assert reply["success"] is False
        assert reply["result"][0] == kind and text in reply["result"][1][0], reply
    with master.client() as client:
        assert wait_all(client, [client.submit_job([delay()])])[0][1] == "success"
    assert master.proc.poll() is None
