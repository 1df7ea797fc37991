"""kill -9 of corral-masterd at random moments loses no acknowledged job.

A stream of jobs is submitted from a client while the daemon is killed
with SIGKILL at random points; the daemon is restarted each time. Every
job id the daemon acknowledged must still exist afterwards with a sound
status (queued jobs run to success; jobs that were running end as error
with the recovery reason), ids are never handed out twice, and the queue
holds no corrupt or temporary file.
"""

from __future__ import annotations

import random
import signal
import threading
import time

from corral.luxi.protocol import LuxiError

FINAL = {"success", "error", "canceled"}
RECOVERY = "master daemon"  # the recovery reason names it


def test_sigkill_during_a_stream_of_jobs_loses_nothing(master_factory) -> None:
    master = master_factory()
    rng = random.Random(20261122)
    acknowledged: list[int] = []
    stop = threading.Event()

    def stream() -> None:
        while not stop.is_set():
            try:
                with master.client() as client:
                    while not stop.is_set():
                        ops = [{"OP_ID": "OP_TEST_DELAY", "duration": rng.choice([0.0, 0.0, 0.05])}]
                        acknowledged.append(client.submit_job(ops))
            except LuxiError:
                time.sleep(0.02)  # the daemon is down: retry until it is back

    submitter = threading.Thread(target=stream)
    submitter.start()
    try:
        for _ in range(8):
            # Some jobs acknowledged by each daemon before it is killed, however slow
            # the machine is, then a random moment within the stream.
            before, deadline = len(acknowledged), time.monotonic() + 60
            while len(acknowledged) < before + 8 and time.monotonic() < deadline:
                time.sleep(0.01)
            time.sleep(rng.uniform(0.05, 0.4))
            master.kill()
            master.start()
    finally:
        stop.set()
        submitter.join(timeout=60)
    assert len(acknowledged) > 50, "too few jobs to say anything"
    assert len(set(acknowledged)) == len(acknowledged), "a job id was handed out twice"

    with master.client() as client:
        deadline = time.monotonic() + 120
        while True:
            rows = client.query_jobs(sorted(acknowledged), ["id", "status", "opresult"])
            assert None not in rows, "an acknowledged job was lost"
            if all(row[1] in FINAL for row in rows) or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        # Jobs persisted but never acknowledged (their submitter was cut off) run
        # too; let them finish, then stop the daemon cleanly before looking at files.
        while any(row[0] not in FINAL for row in client.query_jobs(None, ["status"])):
            time.sleep(0.1)
    master.kill(signal.SIGTERM)
    statuses = {row[1] for row in rows}
    assert statuses <= {"success", "error"}, statuses
    for job_id, status, result in rows:
        if status == "error":
            assert RECOVERY in str(result[0]), (job_id, result)
    queue = master.root / "var/lib/corral/queue"
    temporary = [p.name for p in queue.iterdir() if p.name.startswith(".")]
    corrupt = list((queue / "corrupt").iterdir()) if (queue / "corrupt").exists() else []
    assert temporary == [] and corrupt == [], (temporary, corrupt)
    recovered = sum(1 for row in rows if row[1] == "error")
    print(f"{len(rows)} acknowledged jobs survived 8 kills; {recovered} were caught running")
