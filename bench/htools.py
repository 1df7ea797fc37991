"""htools benchmark: corral's hbal/hail/hspace against Ganeti's on the bench clusters.

Run from the repository root: ``.venv/bin/python bench/htools.py [--quick]``.
Both sides always get the same input file. corral's runs go one after the
other in the foreground (they never wait on a peer) and always complete;
each case's row is printed as soon as both sides have finished it, so rows
come in the order they finish (hbal, hail and hspace rows interleaved, each
led by its tool's name). Ganeti's runs (it needs
minutes from 30 nodes up) are all queued at the start on a small pool of
background workers (``--peer-jobs``, default 2). Each is killed once it has
run, counted from its own start, both longer than a fixed bound and longer
than corral took on the same invocation (times 1.1; until corral's run is
over the peer is left running), so a timed-out peer still shows which side
is faster. A killed peer is reported as timed out, its time then being a
lower bound (and any time ratio against it an upper bound). Both sides
share the CPU (as does the shelltest run, started at the beginning in the
background). ``time_ratio_200plus`` is the geometric mean, over the cases
of 200 nodes and more, of corral's time over Ganeti's.

Cases: every case of ../shared/bench-data/htools/INDEX.json; ``--quick``:
every case under 100 nodes plus the first 200-node one. hail allocation
latency is measured on every case, and so is its node-evacuate answer: its
time, and whether it is Ganeti's answer (if not, both answers' scores once
applied; ``hail_evac_score_worse`` counts corral's being worse), hspace
capacity (standard allocation count, tiered count; ``hspace_worse`` counts
the cases where either is below Ganeti's, ``hspace_same_output`` those where
the whole machine-readable output is Ganeti's) on each case (``--quick``:
those under 20 nodes, where Ganeti's hspace can finish within its bound,
and the 200-node one).
Per-run peer bounds (``--peer-timeout`` sets all three): --quick hbal 5 s,
hail 2 s, hspace 30 s; full run hbal 300 s, hail 60 s, hspace 300 s. The
full run takes the cases by increasing size. The last line is one JSON
object.
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import re
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import Future
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "bench-data" / "htools"
GANETI_BIN = Path("/work/ganeti-ref/root/usr/lib/ganeti/3.0/usr/bin")
GANETI_HAIL = GANETI_BIN.parent / "lib" / "ganeti" / "iallocators" / "hail"
VENV_BIN = Path(sys.executable).parent
SHELLTEST_RUNNER = REPO.parent / "shared" / "tools" / "htools-shelltests" / "run_shelltests.sh"
SUITE = Path("/work/ganeti-ref/root/usr/share/ganeti/testsuite")

#: Wall-clock bound of one Ganeti run, per tool: (--quick, full run).
PEER_BOUNDS = {"hbal": (5.0, 300.0), "hail": (2.0, 60.0), "hspace": (30.0, 300.0)}
#: --quick: cases below this many nodes, plus the first case of QUICK_BIG nodes.
QUICK_SMALL = 100
QUICK_BIG = 200
HAIL_KINDS = ("alloc-drbd", "alloc-plain")
#: hail's node-evacuate request: answers compared exactly (or by score), and timed.
EVAC_KIND = "node-evac"

Run = tuple[str, float, bool]  # output, seconds, timed out


#: A timed-out peer has run at least this many times as long as corral did.
PEER_OVER_OURS = 1.1
#: ... but never longer than this (corral's run did not come to an end).
PEER_HARD_CAP = 7200.0


def _run(argv: list[str]) -> Run:
    """Run a tool to completion."""
    t0 = time.monotonic()
    proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    return proc.stdout, time.monotonic() - t0, False


def _run_peer(argv: list[str], bound: float, key: tuple[str, ...]) -> Run:
    """Run a Ganeti tool until it ends or has outrun both ``bound`` and corral's run ``key``."""
    t0 = time.monotonic()
    with tempfile.TemporaryFile(mode="w+") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, text=True)
        while True:
            try:
                proc.wait(timeout=0.05 if time.monotonic() - t0 < 1.0 else 0.5)
                break
            except subprocess.TimeoutExpired:
                pass
            ours = OURS.get(key)
            elapsed = time.monotonic() - t0
            if (
                ours is not None and elapsed > max(bound, PEER_OVER_OURS * ours[1])
            ) or elapsed > PEER_HARD_CAP:
                proc.kill()
                proc.wait()
                return "", elapsed, True
        elapsed = time.monotonic() - t0
        out.seek(0)
        return out.read(), elapsed, False


@functools.cache
def _peer_runs(tool: str) -> bool:
    """Whether Ganeti's ``tool`` is there and starts (it needs libpcre3, say); if not, why."""
    if not Path(tool).exists():
        print(f"no peer: {tool} is missing (run ../shared/tools/ganeti-reference /work/ganeti-ref)")
        return False
    proc = subprocess.run([tool, "--version"], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        why = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
        print(f"no peer: {tool} --version failed: {why[0]}")
        return False
    return True


class Peers:
    """Ganeti's runs, queued up front and executed in the background, each bounded."""

    def __init__(self, jobs: int) -> None:
        self.pool = ThreadPoolExecutor(max_workers=jobs)
        self.runs: dict[tuple[str, ...], Future[Run]] = {}

    def submit(self, key: tuple[str, ...], argv: list[str], bound: float) -> None:
        if _peer_runs(argv[0]):
            self.runs[key] = self.pool.submit(_run_peer, argv, bound, key)

    def result(self, key: tuple[str, ...]) -> Run | None:
        fut = self.runs.get(key)
        return None if fut is None else fut.result()

    def when_done(self, key: tuple[str, ...], then: Callable[[], None]) -> None:
        """Call ``then`` once the peer run ``key`` is over (now if it is, or there is none)."""
        fut = self.runs.get(key)
        if fut is None:
            then()
        else:
            fut.add_done_callback(lambda _fut: then())


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


#: corral's runs (see run_ours); they never wait on a peer.
OURS: dict[tuple[str, ...], Run] = {}


class Report:
    """Each case's row, printed (and kept) as soon as both sides have finished it."""

    def __init__(self, peers: Peers) -> None:
        self.peers = peers
        self.lock = threading.Lock()
        self.rows: dict[tuple[str, ...], dict[str, object]] = {}
        self.cases: dict[str, dict[str, object]] = {}

    def ours_done(self, key: tuple[str, ...], case: dict[str, object]) -> None:
        """corral's run ``key`` is over: print its row now or once the peer's is."""
        self.cases[str(case["case"])] = case
        self.peers.when_done(key, lambda: self._emit(key))

    def _emit(self, key: tuple[str, ...]) -> None:
        tool, name = key[0], key[1]
        case = self.cases[name]
        if tool == "hbal":
            row = bench_hbal(case, self.peers)
            line = _fmt_hbal(row)
        elif tool == "hail":
            row = bench_hail(name, key[2], self.peers)
            row["nodes"] = case["nodes"]
            line = _fmt_hail(row)
        else:
            row = bench_hspace(case, self.peers)
            line = _fmt_hspace_row(row)
        with self.lock:
            self.rows[key] = row
            print(line, flush=True)

    def ordered(self, keys: list[tuple[str, ...]]) -> list[dict[str, object]]:
        return [self.rows[k] for k in keys if k in self.rows]


def run_ours(
    cases: list[dict[str, object]], hs_cases: list[dict[str, object]], report: Report
) -> None:
    """Run every corral tool invocation to completion, one after the other.

    The quick ones (hail, hspace) go first: a peer outliving its bound waits for them.
    """
    key: tuple[str, ...]
    for case in cases:
        for kind in (*HAIL_KINDS, EVAC_KIND):
            req = str(DATA / f"{case['case']}.{kind}.json")
            key = ("hail", str(case["case"]), kind)
            OURS[key] = _run([str(VENV_BIN / "hail"), req])
            report.ours_done(key, case)
    for case in hs_cases:
        argv = ["-t", str(DATA / f"{case['case']}.data"), "--machine-readable"]
        key = ("hspace", str(case["case"]))
        OURS[key] = _run([str(VENV_BIN / "hspace"), *argv])
        report.ours_done(key, case)
    for case in cases:
        key = ("hbal", str(case["case"]))
        OURS[key] = _run([str(VENV_BIN / "hbal"), *_hbal_argv(case)])
        report.ours_done(key, case)


HBAL_HEADER = (
    f"{'hbal':<6} {'case':<18} {'nodes':>5} | {'corral init':>11} {'final':>11} {'moves':>5}"
    f" {'time':>8} | {'ganeti final':>12} {'moves':>5} {'time':>8}"
)


def _fmt_hbal(row: dict[str, object]) -> str:
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
    return (
        f"{'hbal':<6} {row['case']:<18} {row['nodes']:>5} | {ours['initial']:11.8f}"
        f" {ours['final']:11.8f} {ours['moves']:5d} {row['corral_time']:8.2f} | {peer}"
    )


def _fmt_hail(row: dict[str, object]) -> str:
    line = (
        f"{'hail':<6} {row['case']:<18} {row['request']:<12} corral {row.get('corral_ms', '-'):>8}"
        f"  ganeti {row.get('ganeti_ms', '-'):>8}"
    )
    if "same" in row:
        line += (
            "  same answer"
            if row["same"]
            else (f"  different: score {row.get('corral_score')} vs {row.get('ganeti_score')}")
        )
    return line


def _fmt_hspace_row(hs: dict[str, object]) -> str:
    peer = (
        f"{'timeout':>8} {'-':>6} {'>' + format(hs['ganeti_time'], '.1f'):>8}"
        if hs.get("ganeti_timed_out")
        else f"{_fmt_hspace(hs.get('ganeti'))} {hs.get('ganeti_time', '-'):>8}"
    )
    same = ""
    if "same_output" in hs:
        same = " | same output" if hs["same_output"] else " | output differs"
    return (
        f"{'hspace':<6} {hs['case']:<18} {hs['nodes']:>5} | corral {_fmt_hspace(hs['corral'])}"
        f" {hs['corral_time']:8.2f} | ganeti {peer}{same}"
    )


def _hbal_argv(case: dict[str, object]) -> list[str]:
    extra = list(case.get("extra_args", {}).get("hbal", []))  # type: ignore[attr-defined]
    return ["-t", str(DATA / f"{case['case']}.data"), *extra]


def bench_hbal(case: dict[str, object], peers: Peers) -> dict[str, object]:
    """corral's hbal on one case, with the (already queued) Ganeti run's outcome."""
    name = str(case["case"])
    out, our_time, _ = OURS[("hbal", name)]
    row: dict[str, object] = {"case": name, "nodes": case["nodes"], "corral": _parse_hbal(out)}
    row["corral_time"] = round(our_time, 3)
    peer = peers.result(("hbal", name))
    if peer is not None:
        pout, ptime, timed_out = peer
        row["ganeti"] = None if timed_out else _parse_hbal(pout)
        row["ganeti_time"] = round(ptime, 3)
        row["ganeti_timed_out"] = timed_out
    return row


def _hail_answer(out: str) -> object:
    try:
        return json.loads(out).get("result")
    except (ValueError, AttributeError):
        return None


def bench_hail(name: str, kind: str, peers: Peers) -> dict[str, object]:
    """One request through both hails (Ganeti's with its capacity checks on)."""
    row: dict[str, object] = {"case": name, "request": kind}
    out, secs, _ = OURS[("hail", name, kind)]
    row["corral_ms"] = round(secs * 1000, 1)
    row["corral_result"] = _hail_answer(out)
    peer = peers.result(("hail", name, kind))
    if peer is not None:
        pout, psecs, timed_out = peer
        row["ganeti_ms"] = f">{psecs * 1000:.0f}" if timed_out else round(psecs * 1000, 1)
        row["ratio"] = secs / psecs
        row["ganeti_result"] = None if timed_out else _hail_answer(pout)
    if kind == EVAC_KIND and row.get("ganeti_result") is not None:
        row["same"] = row["corral_result"] == row["ganeti_result"]
        if not row["same"]:
            row["corral_score"] = _evac_score(name, row["corral_result"])
            row["ganeti_score"] = _evac_score(name, row["ganeti_result"])
    return row


def _evac_score(name: str, result: object) -> float | None:
    """The touched groups' total score once a node-evacuate answer's moves are applied."""
    from corral_htools.evacuate import scores_after  # the bench runs in corral's venv
    from corral_htools.ialloc import parse_request

    if not isinstance(result, list) or not result:
        return None
    cluster, _req = parse_request((DATA / f"{name}.{EVAC_KIND}.json").read_text())
    return round(sum(scores_after(cluster, result[0]).values()), 8)


def _parse_hspace(out: str) -> dict[str, int] | None:
    keys = dict(re.findall(r"^HTS_(\w+)=(.*)$", out, re.M))
    if keys.get("OK") != "1":
        return None
    ini = int(keys["INI_INST_CNT"])
    return {"standard": int(keys["ALLOC_INSTANCES"]), "tiered": int(keys["TRL_INST_CNT"]) - ini}


def bench_hspace(case: dict[str, object], peers: Peers) -> dict[str, object]:
    """corral's hspace (capacity checks on, the default) and the queued Ganeti run."""
    name = str(case["case"])
    out, our_time, _ = OURS[("hspace", name)]
    row: dict[str, object] = {"case": name, "nodes": case["nodes"], "corral": _parse_hspace(out)}
    row["corral_time"] = round(our_time, 3)
    peer = peers.result(("hspace", name))
    if peer is not None:
        pout, ptime, timed_out = peer
        row["ganeti"] = None if timed_out else _parse_hspace(pout)
        row["ganeti_time"] = round(ptime, 3)
        row["ganeti_timed_out"] = timed_out
        if not timed_out:
            # every HTS_ key and value, in order: the tiered sizes included
            row["same_output"] = out == pout
    return row


def _quick_cases(cases: list[dict[str, object]]) -> list[dict[str, object]]:
    """Every small case and one 200-node case, in INDEX order."""
    big = [c for c in cases if int(c["nodes"]) == QUICK_BIG]  # type: ignore[call-overload]
    keep = {id(c) for c in cases if int(c["nodes"]) < QUICK_SMALL}  # type: ignore[call-overload]
    keep |= {id(c) for c in big[:1]}
    return [c for c in cases if id(c) in keep]


def _hspace_cases(cases: list[dict[str, object]], quick: bool) -> list[dict[str, object]]:
    if not quick:
        return cases
    small = [c for c in cases if int(c["nodes"]) < 20]  # type: ignore[call-overload]
    big = [c for c in cases if int(c["nodes"]) == QUICK_BIG]  # type: ignore[call-overload]
    return small + big[:1]


def _hspace_worse(row: dict[str, object]) -> bool:
    """Ganeti finished and corral's standard or tiered allocation placed fewer instances."""
    ours, theirs = row.get("corral"), row.get("ganeti")
    if not isinstance(theirs, dict):
        return False
    if not isinstance(ours, dict):
        return True
    return any(int(ours[k]) < int(theirs[k]) for k in ("standard", "tiered"))


def _fmt_hspace(res: object) -> str:
    if not isinstance(res, dict):
        return f"{'-':>8} {'-':>6}"
    return f"{res['standard']:8d} {res['tiered']:6d}"


def shelltests() -> tuple[int | None, int | None]:
    if not (SHELLTEST_RUNNER.exists() and SUITE.is_dir()):
        return None, None
    with_tools = Path(tempfile.mkdtemp(prefix="htools-bin-"))
    for tool in ("hbal", "hail", "hspace", "hroller", "hcheck", "hinfo", "hscan", "hsqueeze"):
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


def _queue_peers(
    peers: Peers,
    cases: list[dict[str, object]],
    hs_cases: list[dict[str, object]],
    bounds: dict[str, float],
) -> None:
    """Queue every Ganeti run, longest bounds first so the pool drains evenly."""
    for case in hs_cases:
        argv = [str(GANETI_BIN / "hspace"), "-t", str(DATA / f"{case['case']}.data")]
        peers.submit(("hspace", str(case["case"])), [*argv, "--machine-readable"], bounds["hspace"])
    for case in cases:
        argv = [str(GANETI_BIN / "hbal"), *_hbal_argv(case)]
        peers.submit(("hbal", str(case["case"])), argv, bounds["hbal"])
    for case in cases:
        for kind in (*HAIL_KINDS, EVAC_KIND):
            req = str(DATA / f"{case['case']}.{kind}.json")
            peers.submit(("hail", str(case["case"]), kind), [str(GANETI_HAIL), req], bounds["hail"])


def main() -> int:
    wall0 = time.monotonic()
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--quick",
        action="store_true",
        help=f"cases under {QUICK_SMALL} nodes plus one of {QUICK_BIG}, short peer bounds",
    )
    ap.add_argument("--peer-timeout", type=float, help="seconds any one Ganeti run may take")
    ap.add_argument("--peer-jobs", type=int, help="Ganeti runs at the same time")
    ap.add_argument("--no-shelltests", action="store_true", help="skip the shelltest pass count")
    args = ap.parse_args()
    which = 0 if args.quick else 1
    bounds = {tool: args.peer_timeout or pair[which] for tool, pair in PEER_BOUNDS.items()}
    cases = json.loads((DATA / "INDEX.json").read_text())
    cases = _quick_cases(cases) if args.quick else sorted(cases, key=lambda c: int(c["nodes"]))
    hs_cases = _hspace_cases(cases, args.quick)
    jobs = args.peer_jobs or 2
    peers = Peers(max(1, jobs))
    _queue_peers(peers, cases, hs_cases, bounds)
    side = ThreadPoolExecutor(max_workers=1)
    shelltest_run = None if args.no_shelltests else side.submit(shelltests)
    print(f"peer bounds (s): {bounds}, {jobs} peer jobs", flush=True)
    print(HBAL_HEADER)
    print(f"{'hail':<6} {'case':<18} {'request':<12} latency (ms); node-evac: Ganeti's answer?")
    print(
        f"{'hspace':<6} {'case':<18} {'nodes':>5} | standard / tiered instances allocated"
        " (capacity checks on), time",
        flush=True,
    )
    report = Report(peers)
    run_ours(cases, hs_cases, report)
    peers.pool.shutdown(wait=True)
    rows = report.ordered([("hbal", str(c["case"])) for c in cases])
    hail_rows = report.ordered(
        [("hail", str(c["case"]), kind) for c in cases for kind in HAIL_KINDS]
    )
    evac_rows = report.ordered([("hail", str(c["case"]), EVAC_KIND) for c in cases])
    alloc_ratio, evac_ratio = _hail_ratio(hail_rows), _hail_ratio(evac_rows)
    hs_rows = report.ordered([("hspace", str(c["case"])) for c in hs_cases])
    worse = len(
        [
            r
            for r in rows
            if isinstance(r.get("ganeti"), dict)
            and r["corral"]["final"] > r["ganeti"]["final"] + 1e-8  # type: ignore[index]
        ]
    )
    big = [r for r in rows if int(str(r["nodes"])) >= 200 and "ganeti_time" in r]
    ratio = _time_ratio(big)
    big_timeouts = sum(1 for r in big if r.get("ganeti_timed_out"))
    passed, total = (None, None) if shelltest_run is None else shelltest_run.result()
    side.shutdown(wait=True)
    hs_worse = sum(1 for r in hs_rows if _hspace_worse(r))
    hs_big = [r for r in hs_rows if int(r["nodes"]) >= 200 and "ganeti_time" in r]  # type: ignore[call-overload]
    hs_ratio = _time_ratio(hs_big)
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
        "peer_timeout_s": bounds["hbal"],
        "peer_bounds_s": bounds,
        "corral_hbal_s_total": round(sum(float(str(r["corral_time"])) for r in rows), 2),
        "hail_alloc_ms_median_corral": _median([h.get("corral_ms") for h in hail_rows]),
        "hail_alloc_ms_median_ganeti": _median([h.get("ganeti_ms") for h in hail_rows]),
        "hail_time_ratio_200plus": alloc_ratio[0],
        "hail_time_ratio_200plus_is_upper_bound": alloc_ratio[1],
        "hail_requests_peer_timed_out": sum(
            1 for h in hail_rows if str(h.get("ganeti_ms", "")).startswith(">")
        ),
        "hail_evac_compared": sum(1 for h in evac_rows if "same" in h),
        "hail_evac_same_answer": sum(1 for h in evac_rows if h.get("same")),
        "hail_evac_score_worse": sum(1 for h in evac_rows if _evac_worse(h)),
        "hail_evac_time_ratio_200plus": evac_ratio[0],
        "hail_evac_time_ratio_200plus_is_upper_bound": evac_ratio[1],
        "hspace_cases": len(hs_rows),
        "hspace_cases_compared": sum(1 for r in hs_rows if isinstance(r.get("ganeti"), dict)),
        "hspace_worse": hs_worse,
        "hspace_same_output": sum(1 for r in hs_rows if r.get("same_output")),
        "hspace_time_ratio_200plus": hs_ratio,
        "hspace_time_ratio_200plus_is_upper_bound": any(r.get("ganeti_timed_out") for r in hs_big),
        "shelltests_passed": passed,
        "shelltests_total": total,
        "wall_s": round(time.monotonic() - wall0, 1),
    }
    print(json.dumps(summary))
    return 0


def _hail_ratio(rows: list[dict[str, object]]) -> tuple[float | None, bool]:
    """hail rows of 200 nodes and more: geometric mean time ratio, and whether a peer timed out."""
    big = [h for h in rows if int(str(h["nodes"])) >= 200]
    ratio = _geomean([float(str(h["ratio"])) for h in big if "ratio" in h])
    return ratio, any(str(h.get("ganeti_ms", "")).startswith(">") for h in big)


def _evac_worse(row: dict[str, object]) -> bool:
    """A node-evacuate answer that differs from Ganeti's and scores worse."""
    ours, theirs = row.get("corral_score"), row.get("ganeti_score")
    if row.get("same", True) or not isinstance(theirs, float):
        return False
    return not isinstance(ours, float) or ours > theirs + 1e-8


def _time_ratio(rows: list[dict[str, object]]) -> float | None:
    """Geometric mean of corral's time over Ganeti's across ``rows``."""
    return _geomean([float(str(r["corral_time"])) / float(str(r["ganeti_time"])) for r in rows])


def _geomean(ratios: list[float]) -> float | None:
    """Geometric mean of time ratios (None for none)."""
    if not ratios:
        return None
    return round(math.exp(sum(math.log(r) for r in ratios) / len(ratios)), 4)


def _median(values: list[object]) -> float | None:
    nums = sorted(float(v) for v in values if isinstance(v, int | float))
    return nums[len(nums) // 2] if nums else None


if __name__ == "__main__":
    raise SystemExit(main())
