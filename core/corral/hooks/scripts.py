"""Finding and running the hook scripts of one directory, Ganeti's way.

``<hooks_dir>/<path>-<phase>.d/`` holds the scripts. Like run-parts, only
executable regular files whose names match ``^[a-zA-Z0-9_-]+$`` run (so
``10-log.sh`` and ``check.dpkg-old`` are skipped), one after the other in
sorted order, each with no arguments, stdin from ``/dev/null``, stdout and
stderr together into one file, a cleared environment and a time limit.

Usable anywhere a :class:`~corral.api.ProcessRunner` is: the master runs
it for its own hooks, a node daemon can run it for the master.
"""

from __future__ import annotations

import os
import re
import stat
import tempfile
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from corral.hooks.environment import Phase
from corral.hooks.environment import run_env

if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path

    from corral.api.process import ProcessRunner

#: The names of scripts that run (hooks.rst, "Naming").
SCRIPT_NAME_RE = re.compile(r"^[a-zA-Z0-9_-]+$")
#: Ganeti's limit for one hook script, in seconds.
DEFAULT_TIMEOUT = 3600.0
#: How much of a script's output is kept (the end of it, where errors are).
MAX_OUTPUT = 64 * 1024

#: Runs the script ($0) with Ganeti's plumbing: stdin from /dev/null, output
#: into a file ($1). A file, not a pipe, so that a daemon the script leaves
#: behind cannot keep the run from ending.
_WRAPPER = 'exec "$0" </dev/null >"$1" 2>&1'


class HookStatus(StrEnum):
    """What became of one script (Ganeti's HKR_SUCCESS, HKR_FAIL, HKR_SKIP)."""

    SUCCESS = "success"
    FAIL = "fail"
    SKIP = "skip"


@dataclass(frozen=True)
class HookResult:
    """One script's outcome. ``output`` is its stdout and stderr, stripped (for a
    skipped script: why it was skipped). ``exit_code`` is None when it did not
    run or ended by a signal."""

    name: str
    status: HookStatus
    output: str
    exit_code: int | None = None

    @property
    def failed(self) -> bool:
        return self.status is HookStatus.FAIL


def phase_dir(hooks_dir: Path | str, path: str, phase: Phase | str) -> str:
    """The directory of one phase of a hooks path: ``<hooks_dir>/<path>-<phase>.d``."""
    return os.path.join(os.fspath(hooks_dir), f"{path}-{Phase(phase).value}.d")


def _skip_reason(folder: str, name: str) -> str | None:
    """Why ``name`` in ``folder`` does not run, or None if it does."""
    if not SCRIPT_NAME_RE.match(name):
        return f"skipped: the name does not match {SCRIPT_NAME_RE.pattern}"
    full = os.path.join(folder, name)
    try:
        info = os.stat(full)
    except OSError as err:
        return f"skipped: {err.strerror or err}"
    if not stat.S_ISREG(info.st_mode):
        return "skipped: not a regular file"
    if not os.access(full, os.X_OK):
        return "skipped: not executable"
    return None


def _read_output(path: str) -> tuple[str, bool]:
    """The end of the output file, and whether earlier output was cut."""
    with open(path, "rb") as out:
        size = os.fstat(out.fileno()).st_size
        if size > MAX_OUTPUT:
            out.seek(size - MAX_OUTPUT)
        data = out.read(MAX_OUTPUT)
    return data.decode("utf-8", "replace"), size > MAX_OUTPUT


async def run_script(
    script: str, env: Mapping[str, str], runner: ProcessRunner, timeout: float
) -> HookResult:
    """Run one script (absolute path) with exactly ``env`` and return its result."""
    name = os.path.basename(script)
    fd, out_path = tempfile.mkstemp(prefix=f"corral-hook-{name}.", suffix=".out")
    os.close(fd)
    try:
        try:
            result = await runner.run(
                ["/bin/sh", "-c", _WRAPPER, script, out_path], env=env, cwd="/", timeout=timeout
            )
        except OSError as err:
            return HookResult(name, HookStatus.FAIL, f"cannot start {script}: {err}")
        text, cut = _read_output(out_path)
    finally:
        try:
            os.unlink(out_path)
        except FileNotFoundError:
            pass
    # What the shell said if it could not exec the script at all.
    output = "\n".join(part.strip() for part in (text, result.stderr) if part.strip())
    if cut:
        output = f"[first part of the output cut, last {MAX_OUTPUT} bytes kept]\n{output}"
    if result.timed_out:
        note = f"killed after {timeout:g} s: the time limit of a hook script"
        return HookResult(name, HookStatus.FAIL, f"{output}\n{note}".strip(), None)
    if result.exit_code is None:
        return HookResult(name, HookStatus.FAIL, f"{output}\nkilled by a signal".strip(), None)
    status = HookStatus.SUCCESS if result.exit_code == 0 else HookStatus.FAIL
    return HookResult(name, status, output, result.exit_code)


async def run_hooks(
    hooks_dir: Path | str,
    path: str,
    phase: Phase | str,
    env: Mapping[str, str],
    runner: ProcessRunner,
    timeout: float = DEFAULT_TIMEOUT,
) -> list[HookResult]:
    """Run the scripts of ``<hooks_dir>/<path>-<phase>.d`` in order; one result each.

    ``env``'s ``GANETI_*`` variables are passed on (anything else is
    dropped); ``GANETI_HOOKS_VERSION``, ``GANETI_HOOKS_PHASE``,
    ``GANETI_HOOKS_PATH`` and ``PATH`` are set from the arguments. Every
    script runs even after one failed, as in Ganeti; the caller decides
    what a failure means. No directory means no scripts; a directory that
    cannot be read is one failed result (named after the directory), so that
    a pre phase does not pass unchecked.
    """
    the_phase = Phase(phase)
    folder = phase_dir(hooks_dir, path, the_phase)
    try:
        names = sorted(os.listdir(folder))
    except FileNotFoundError:
        return []
    except OSError as err:
        return [
            HookResult(
                os.path.basename(folder),
                HookStatus.FAIL,
                f"cannot list the hook scripts in {folder}: {err.strerror or err};"
                " make it a directory the daemon can read, or remove it",
            )
        ]
    full_env = run_env(path, the_phase, env)
    results = []
    for name in names:
        reason = _skip_reason(folder, name)
        if reason is not None:
            results.append(HookResult(name, HookStatus.SKIP, reason))
            continue
        results.append(await run_script(os.path.join(folder, name), full_env, runner, timeout))
    return results
