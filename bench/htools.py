"""htools benchmark: corral's hbal/hail/hspace against Ganeti's on the bench clusters.

Run from the repository root: ``.venv/bin/python bench/htools.py [--quick]``.
For every case of ../shared/bench-data/htools/INDEX.json (``--quick``: up to
200 nodes) both hbals balance the same file; Ganeti's runs at the same time
under a timeout (it needs minutes from 50 nodes up), and a peer that times
out is reported as such, its time then being a lower bound. hail allocation
latency is measured the same way, and hspace capacity (standard allocation
count, tiered count) on each cluster (``--quick``: up to 20 nodes and the
200-node one). The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "bench-data" / "htools"
GANETI_BIN = Path("/work/ganeti-ref/root/usr/lib/ganeti/3.0/usr/bin")
GANETI_HAIL = GANETI_BIN.parent / "lib" / "ganeti" / "iallocators" / "hail"
VENV_BIN = Path(sys.executable).parent
SHELLTEST_RUNNER = REPO.parent / "shared" / "tools" / "htools-shelltests" / "run_shelltests.sh"
SUITE = Path("/work/ganeti-ref/root/usr/share/ganeti/testsuite")


def _parse_hbal(out: str) -> dict[str, float | int | None]:
    init = re.search(r"^Initial score: ([\d.]+)", out, re.M)
    final = re.search(r"^Cluster score improved from [\d.]+ to ([\d.]+)", out, re.M)
    length = re.search(r"^Solution length=(\d+)", out, re.M)
    initial = float(init[1]) if init else None
    return {
        "initial": initial,
        "final": float(final[1]) if final else initial,
        "moves": int(length[1]) if length else None,
    }


def _start(argv: list[str], kill_after: float | None = None) -> tuple[subprocess.Popen[str], float]:
    """Start a tool; with ``kill_after`` it is killed then even while nobody waits on it."""
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if kill_after is not None:
        timer = threading.Timer(kill_after, proc.kill)
        timer.daemon = True
        timer.start()
    return proc, time.monotonic()


def _finish(proc: subprocess.Popen[str], started: float, timeout: float) -> tuple[str, float, bool]:
    left = max(0.1, timeout - (time.monotonic() - started))
    try:
        out, _ = proc.communicate(timeout=left)
        return out, time.monotonic() - started, False
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        return "", time.monotonic() - started, True


def bench_hbal(case: dict[str, object], peer_timeout: float) -> dict[str, object]:
    """Both hbals on one case. The peer gets ``peer_timeout`` seconds, and never less
    than 1.25 times corral's own time, so a timed-out peer still bounds the ratio."""
    name = str(case["case"])
    extra = list(case.get("extra_args", {}).get("hbal", []))  # type: ignore[attr-defined]
    data = str(DATA / f"{name}.data")
    peer = None
    if (GANETI_BIN / "hbal").exists():
        peer = _start([str(GANETI_BIN / "hbal"), "-t", data, *extra])
    ours, t0 = _start([str(VENV_BIN / "hbal"), "-t", data, *extra])
    out, our_time, _ = _finish(ours, t0, 3600.0)
    row: dict[str, object] = {"case": name, "nodes": case["nodes"], "corral": _parse_hbal(out)}
    row["corral_time"] = round(our_time, 3)
    if peer is not None:
        pout, ptime, timed_out = _finish(*peer, max(peer_timeout, 1.25 * our_time))
        row["ganeti"] = None if timed_out else _parse_hbal(pout)
        row["ganeti_time"] = round(ptime, 3)
        row["ganeti_timed_out"] = timed_out
    return row


def bench_hail(name: str, kind: str, peer_timeout: float) -> dict[str, object]:
    """One request through both hails; Ganeti's (capacity checks on) is bounded too."""
    req = str(DATA / f"{name}.{kind}.json")
    row: dict[str, object] = {"case": name, "request": kind}
    for who, exe in (("corral", VENV_BIN / "hail"), ("ganeti", GANETI_HAIL)):
        if not exe.exists():
            continue
        t0 = time.monotonic()
        try:
            out = subprocess.run(
                [str(exe), req], capture_output=True, text=True, timeout=peer_timeout
            ).stdout
        except subprocess.TimeoutExpired:
            row[f"{who}_ms"] = f">{peer_timeout * 1000:.0f}"
            row[f"{who}_result"] = None
            continue
        row[f"{who}_ms"] = round((time.monotonic() - t0) * 1000, 1)
        try:
            answer = json.loads(out)
            row[f"{who}_result"] = answer.get("result")
        except ValueError:
            row[f"{who}_result"] = None
    return row


def _parse_hspace(out: str) -> dict[str, int] | None:
    keys = dict(re.findall(r"^HTS_(\w+)=(.*)$", out, re.M))
    if keys.get("OK") != "1":
        return None
    ini = int(keys["INI_INST_CNT"])
    return {"standard": int(keys["ALLOC_INSTANCES"]), "tiered": int(keys["TRL_INST_CNT"]) - ini}


def bench_hspace(case: dict[str, object], peer_timeout: float) -> dict[str, object]:
    """Both hspaces (capacity checks on, their default) on one case, run side by side."""
    name = str(case["case"])
    data = str(DATA / f"{name}.data")
    argv = ["-t", data, "--machine-readable"]
    peer = None
    if (GANETI_BIN / "hspace").exists():
        peer = _start([str(GANETI_BIN / "hspace"), *argv])
    ours, t0 = _start([str(VENV_BIN / "hspace"), *argv])
    out, our_time, _ = _finish(ours, t0, 3600.0)
    row: dict[str, object] = {"case": name, "nodes": case["nodes"], "corral": _parse_hspace(out)}
    row["corral_time"] = round(our_time, 3)
    if peer is not None:
        pout, ptime, timed_out = _finish(*peer, max(peer_timeout, 1.25 * our_time))
        row["ganeti"] = None if timed_out else _parse_hspace(pout)
        row["ganeti_time"] = round(ptime, 3)
        row["ganeti_timed_out"] = timed_out
    return row


def _hspace_cases(cases: list[dict[str, object]], quick: bool) -> list[dict[str, object]]:
    if not quick:
        return cases
    small = [c for c in cases if int(c["nodes"]) <= 20]  # type: ignore[call-overload]
    big = [c for c in cases if int(c["nodes"]) == 200]  # type: ignore[call-overload]
    return small + big[:1]


def _hspace_worse(row: dict[str, object]) -> bool:
    """Ganeti finished and corral's standard allocation placed fewer instances."""
    ours, theirs = row.get("corral"), row.get("ganeti")
    if not isinstance(theirs, dict):
        return False
    return not isinstance(ours, dict) or int(ours["standard"]) < int(theirs["standard"])


def _fmt_hspace(res: object) -> str:
    if not isinstance(res, dict):
        return f"{'-':>8} {'-':>6}"
    return f"{res['standard']:8d} {res['tiered']:6d}"


def shelltests() -> tuple[int | None, int | None]:
    if not (SHELLTEST_RUNNER.exists() and SUITE.is_dir()):
        return None, None
    with_tools = Path(tempfile.mkdtemp(prefix="htools-bin-"))
    for tool in ("hbal", "hail", "hspace", "hroller", "hcheck", "hinfo"):
        link = with_tools / tool
        if not link.exists():
            link.symlink_to(VENV_BIN / tool)
    proc = subprocess.run(
        [str(SHELLTEST_RUNNER), "-b", str(with_tools), "-s", str(SUITE)],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    m = re.search(r"^(\d+) passed, (\d+) failed$", proc.stdout, re.M)
    if not m:
        return None, None
    return int(m[1]), int(m[1]) + int(m[2])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--quick", action="store_true", help="cases up to 200 nodes, short peer timeout"
    )
    ap.add_argument("--peer-timeout", type=float, help="seconds Ganeti's hbal may run per case")
    ap.add_argument("--no-shelltests", action="store_true", help="skip the shelltest pass count")
    args = ap.parse_args()
    peer_timeout = args.peer_timeout or (15.0 if args.quick else 300.0)
    cases = json.loads((DATA / "INDEX.json").read_text())
    if args.quick:
        cases = [c for c in cases if c["nodes"] <= 200]
    rows = []
    print(
        f"{'case':<18} {'nodes':>5} | {'corral init':>11} {'final':>11} {'moves':>5} {'time':>8} |"
        f" {'ganeti final':>12} {'moves':>5} {'time':>8}"
    )
    for case in cases:
        row = bench_hbal(case, peer_timeout)
        rows.append(row)
        ours = row["corral"]
        theirs = row.get("ganeti")
        assert isinstance(ours, dict)
        peer = (
            f"{'timeout':>12} {'-':>5} {'>' + format(row['ganeti_time'], '.1f'):>8}"
            if row.get("ganeti_timed_out")
            else f"{theirs['final']:12.8f} {theirs['moves']:5d} {row['ganeti_time']:8.2f}"
            if isinstance(theirs, dict)
            else "no peer"
        )
        print(
            f"{row['case']:<18} {row['nodes']:>5} | {ours['initial']:11.8f} {ours['final']:11.8f}"
            f" {ours['moves']:5d} {row['corral_time']:8.2f} | {peer}",
            flush=True,
        )
    worse = sum(
        1
        for r in rows
        if isinstance(r.get("ganeti"), dict) and r["corral"]["final"] > r["ganeti"]["final"] + 1e-8  # type: ignore[index]
    )
    big = [r for r in rows if int(r["nodes"]) >= 200 and "ganeti_time" in r]
    ratio = (
        round(sum(r["corral_time"] for r in big) / sum(r["ganeti_time"] for r in big), 4)  # type: ignore[misc]
        if big
        else None
    )
    big_timeouts = sum(1 for r in big if r.get("ganeti_timed_out"))
    print("\nhail allocate latency (ms):")
    hail_rows = []
    for case in cases:
        for kind in ("alloc-drbd", "alloc-plain"):
            hrow = bench_hail(str(case["case"]), kind, peer_timeout)
            hail_rows.append(hrow)
            print(
                f"  {hrow['case']:<18} {kind:<12} corral {hrow.get('corral_ms', '-'):>8}"
                f"  ganeti {hrow.get('ganeti_ms', '-'):>8}"
            )
    print("\nhspace (standard / tiered instances allocated, capacity checks on):")
    hspace_timeout = max(peer_timeout, 60.0)
    hs_rows = []
    for case in _hspace_cases(cases, args.quick):
        hs = bench_hspace(case, hspace_timeout)
        hs_rows.append(hs)
        peer = (
            f"{'timeout':>8} {'-':>6} {'>' + format(hs['ganeti_time'], '.1f'):>8}"
            if hs.get("ganeti_timed_out")
            else f"{_fmt_hspace(hs.get('ganeti'))} {hs.get('ganeti_time', '-'):>8}"
        )
        print(
            f"  {hs['case']:<18} {hs['nodes']:>5} | corral {_fmt_hspace(hs['corral'])}"
            f" {hs['corral_time']:8.2f} | ganeti {peer}",
            flush=True,
        )
    hs_worse = sum(1 for r in hs_rows if _hspace_worse(r))
    hs_big = [r for r in hs_rows if int(r["nodes"]) >= 200 and "ganeti_time" in r]  # type: ignore[call-overload]
    hs_ratio = (
        round(sum(r["corral_time"] for r in hs_big) / sum(r["ganeti_time"] for r in hs_big), 4)  # type: ignore[misc]
        if hs_big
        else None
    )
    passed, total = (None, None) if args.no_shelltests else shelltests()
    if passed is not None:
        print(f"\nshelltests: {passed} of {total} passed")
    summary = {
        "bench": "htools",
        "quick": args.quick,
        "cases": len(rows),
        "cases_compared": sum(1 for r in rows if isinstance(r.get("ganeti"), dict)),
        "cases_peer_timed_out": sum(1 for r in rows if r.get("ganeti_timed_out")),
        "cases_score_worse": worse,
        "time_ratio_200plus": ratio,
        "time_ratio_200plus_is_upper_bound": big_timeouts > 0,
        "peer_timeout_s": peer_timeout,
        "corral_hbal_s_total": round(sum(float(r["corral_time"]) for r in rows), 2),  # type: ignore[arg-type]
        "hail_alloc_ms_median_corral": _median([h.get("corral_ms") for h in hail_rows]),
        "hail_alloc_ms_median_ganeti": _median([h.get("ganeti_ms") for h in hail_rows]),
        "hspace_cases": len(hs_rows),
        "hspace_cases_compared": sum(1 for r in hs_rows if isinstance(r.get("ganeti"), dict)),
        "hspace_worse": hs_worse,
        "hspace_time_ratio_200plus": hs_ratio,
        "hspace_time_ratio_200plus_is_upper_bound": any(r.get("ganeti_timed_out") for r in hs_big),
        "shelltests_passed": passed,
        "shelltests_total": total,
    }
    print(json.dumps(summary))
    return 0


def _median(values: list[object]) -> float | None:
    nums = sorted(float(v) for v in values if isinstance(v, int | float))
    return nums[len(nums) // 2] if nums else None


if __name__ == "__main__":
    raise SystemExit(main())
