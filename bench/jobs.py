"""Job throughput of corral-masterd: no-op OP_TEST_DELAY jobs submitted over LUXI.

Starts a real master daemon in a temporary CORRAL_ROOTDIR and, per run, does
two measurements: submit latency (until the job is durable and its id is
returned) with one client submitting one job after another, and the
end-to-end rate (first submission to last job finished) with several client
threads, each its own LUXI connection, submitting at once. Under such
saturating load a submission also waits its turn, so its latency there is
printed too but is not the figure of merit. Prints medians over repeated
runs and, as its last line, one JSON object.

    .venv/bin/python bench/jobs.py            # 3 runs of 2,000 jobs
    .venv/bin/python bench/jobs.py --quick    # 3 runs of 300 jobs
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from corral.luxi.client import Client

#: Ganeti 3.0's rate for the same no-op jobs, measured on this machine (issue 3).
GANETI_JOBS_PER_S = 2.8
NOOP = [{"OP_ID": "OP_TEST_DELAY", "duration": 0.0}]


def start_master(root: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "CORRAL_ROOTDIR": str(root), "GNT_DISABLE_PLUGIN_AUTOLOAD": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "corral.masterd.daemon"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=open(root / "masterd.log", "wb"),
    )
    sock = root / "var/run/corral/socket/corral-master"
    for _ in range(400):
        try:
            with Client(sock, timeout=5) as client:
                client.query_jobs([], ["id"])
            return proc
        except Exception:
            time.sleep(0.05)
    raise SystemExit(f"corral-masterd did not start: {(root / 'masterd.log').read_text()}")


def one_run(jobs: int, clients: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="corral-bench-jobs-") as tmp:
        root = Path(tmp)
        proc = start_master(root)
        sock = root / "var/run/corral/socket/corral-master"
        latencies: list[float] = []
        ids: list[int] = []
        lock = threading.Lock()

        def submitter(count: int) -> None:
            mine_lat, mine_ids = [], []
            with Client(sock) as client:
                for _ in range(count):
                    t0 = time.perf_counter()
                    mine_ids.append(client.submit_job(NOOP))
                    mine_lat.append((time.perf_counter() - t0) * 1000)
            with lock:
                latencies.extend(mine_lat)
                ids.extend(mine_ids)

        share = [jobs // clients + (1 if i < jobs % clients else 0) for i in range(clients)]
        threads = [threading.Thread(target=submitter, args=(n,)) for n in share]
        start = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        submitted = time.perf_counter()
        unfinished, failed = sorted(ids), 0
        with Client(sock) as client:
            while unfinished:  # ask only about jobs not yet seen finished
                rows = client.query_jobs(unfinished, ["id", "status"])
                finished = [row for row in rows if row[1] in ("success", "error", "canceled")]
                failed += sum(1 for row in finished if row[1] != "success")
                done_ids = {row[0] for row in finished}
                unfinished = [i for i in unfinished if i not in done_ids]
                if unfinished:
                    time.sleep(0.05)
        done = time.perf_counter()
        proc.terminate()
        proc.wait(timeout=30)
        latencies.sort()
        return {
            "jobs_per_s": jobs / (done - start),
            "submit_per_s": jobs / (submitted - start),
            "submit_p50_ms": statistics.median(latencies),
            "submit_p99_ms": latencies[int(len(latencies) * 0.99) - 1],
            "failed": failed,
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="300 jobs per run (under a minute)")
    parser.add_argument("--jobs", type=int, help="jobs per run (default 2000, --quick 300)")
    parser.add_argument("--clients", type=int, default=4, help="client connections (default 4)")
    parser.add_argument("--runs", type=int, default=3, help="runs, medians reported (default 3)")
    args = parser.parse_args()
    jobs = args.jobs or (300 if args.quick else 2000)
    results, single = [], []
    for run in range(args.runs):
        alone = one_run(max(jobs // 4, 50), 1)
        single.append(alone)
        result = one_run(jobs, args.clients)
        results.append(result)
        print(
            f"run {run + 1}: submit alone p50 {alone['submit_p50_ms']:.2f} ms"
            f" p99 {alone['submit_p99_ms']:.2f} ms; {jobs} jobs from {args.clients} clients:"
            f" {result['jobs_per_s']:.0f} jobs/s end to end (submit p50 under that load"
            f" {result['submit_p50_ms']:.1f} ms), {result['failed'] + alone['failed']} failed"
        )
    med = {k: statistics.median(r[k] for r in results) for k in results[0]}
    lat = {k: statistics.median(r[k] for r in single) for k in single[0]}
    med["submit_p50_ms"], med["submit_p99_ms"] = lat["submit_p50_ms"], lat["submit_p99_ms"]
    print(
        f"median: {med['jobs_per_s']:.0f} jobs/s (Ganeti 3.0 here: {GANETI_JOBS_PER_S} jobs/s,"
        f" x{med['jobs_per_s'] / GANETI_JOBS_PER_S:.0f}); submit p50 {med['submit_p50_ms']:.2f} ms,"
        f" p99 {med['submit_p99_ms']:.2f} ms"
    )
    print(
        json.dumps(
            {
                "bench": "jobs",
                "jobs": jobs,
                "clients": args.clients,
                "jobs_per_s": round(med["jobs_per_s"], 1),
                "submit_p50_ms": round(med["submit_p50_ms"], 2),
                "submit_p99_ms": round(med["submit_p99_ms"], 2),
                "ganeti_jobs_per_s": GANETI_JOBS_PER_S,
                "ratio_vs_ganeti": round(med["jobs_per_s"] / GANETI_JOBS_PER_S, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
