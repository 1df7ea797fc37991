"""Ganeti's own htools shelltests, run against corral's hbal/hail/hcheck/hinfo/...

The runner (``../shared/tools/htools-shelltests/run_shelltests.sh``) sets up
Ganeti's test tree and fixtures and calls ``shelltest`` once per test file.
A shim ``shelltest`` first on PATH keeps the runner's full output, so every
failing case can be named. Each failure must be listed in ``EXPECTED_FAILURES``
with the reason it cannot apply yet; anything else fails this test.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared"
RUNNER = SHARED / "tools" / "htools-shelltests" / "run_shelltests.sh"
FETCH = SHARED / "tools" / "ganeti-reference"
TOOLS = ("hbal", "hail", "hspace", "hroller", "hcheck", "hinfo", "hscan", "hsqueeze")
SUITE_TAIL = Path("usr/share/ganeti/testsuite")

#: Cases that cannot pass yet, by "file:case number", with the reason.
EXPECTED_FAILURES: dict[str, str] = {}


def _reference() -> Path | None:
    """Ganeti's unpacked reference tree: a known place, a cache, or freshly fetched."""
    candidates = [os.environ.get("CORRAL_GANETI_REF", ""), "/work/ganeti-ref"]
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "corral-ganeti-ref"
    candidates.append(str(cache))
    for cand in candidates:
        if cand and (Path(cand) / "root" / SUITE_TAIL).is_dir():
            return Path(cand) / "root"
    if not FETCH.exists():
        return None
    try:
        subprocess.run([str(FETCH), str(cache)], check=True, capture_output=True, timeout=600)
    except (OSError, subprocess.SubprocessError):
        return None
    root = cache / "root"
    return root if (root / SUITE_TAIL).is_dir() else None


def _shim(tmp: Path, real: str, log: Path) -> Path:
    shim_dir = tmp / "shim"
    shim_dir.mkdir()
    shim = shim_dir / "shelltest"
    shim.write_text(f'#!/bin/sh\n"{real}" "$@" 2>&1 | tee -a "{log}"\n')
    shim.chmod(0o755)
    return shim_dir


def test_ganeti_shelltests(tmp_path: Path) -> None:
    if not RUNNER.exists():
        pytest.skip(f"the shelltest runner {RUNNER} is not present")
    real = shutil.which("shelltest")
    if real is None:
        pytest.skip(
            "needs shelltest (Debian package shelltestrunner: apt-get install shelltestrunner)"
        )
    root = _reference()
    if root is None:
        pytest.skip("the Ganeti reference (ganeti-testsuite) could not be obtained")
    bindir = tmp_path / "bin"
    bindir.mkdir()
    venv_bin = Path(sys.executable).parent
    for tool in TOOLS:
        exe = venv_bin / tool
        if not exe.exists():
            pytest.fail(f"{exe} missing: install corral-htools (bin/bootstrap)")
        (bindir / tool).symlink_to(exe)
    log = tmp_path / "shelltest.log"
    env = dict(os.environ, PATH=f"{_shim(tmp_path, real, log)}:{venv_bin}:{os.environ['PATH']}")
    proc = subprocess.run(
        [str(RUNNER), "-b", str(bindir), "-s", str(root / SUITE_TAIL)],
        capture_output=True,
        text=True,
        timeout=900,
        env=env,
        check=False,
    )
    summary = re.search(r"^(\d+) passed, (\d+) failed$", proc.stdout, re.M)
    assert summary, proc.stdout + proc.stderr
    passed, failed = int(summary[1]), int(summary[2])
    failures = set(re.findall(r"htools-[\w-]+\.test:\d+(?=: \[Failed\])", log.read_text()))
    print(f"\nhtools shelltests: {passed} of {passed + failed} passed")
    unexpected = sorted(failures - set(EXPECTED_FAILURES))
    assert not unexpected, f"unexpected shelltest failures: {unexpected}"
    assert len(failures) == failed
