"""Running an OS script for an instance, with its output in a per-run log file.

Ganeti writes each run's output to
``/var/log/ganeti/os/<kind>-<os>-<instance>-<timestamp>.log`` and, when a
script fails, shows the operator the last 20 lines. corral does the same
under the log directory it is given (a node uses
``corral.paths.log_dir() / "os"``, i.e. ``/var/log/corral/os``). The script
writes straight into the file (a small ``/bin/sh`` wrapper redirects its
output, then runs it with ``exec``), so a long install can be followed with ``tail -f`` and its
output never sits in the node daemon's memory. ``export`` writes the disk
to ``stream`` and ``import`` reads it from there: a file or a FIFO that the
transfer code connects.

Every run goes through :class:`~corral.api.process.ProcessRunner`: the
reactor never blocks, a timeout stops the script, and cancelling the
coroutine (a cancelled job) stops it too.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC
from datetime import datetime
from typing import TYPE_CHECKING
from typing import Any

from corral.api.errors import CorralError
from corral.osapi.environment import action_environment
from corral.osapi.environment import core_environment
from corral.osapi.provider import OSAction
from corral.osapi.provider import OSProviderError

if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path

    from corral.api.process import ProcessRunner
    from corral.osapi.environment import OSInstance
    from corral.osapi.provider import OSProvider

#: Lines of a failed script's log shown to the operator (Ganeti: 20).
TAIL_LINES = 20

#: ``sh -c`` programs: ``$1`` the log, ``$2`` the stream (if any), then the script.
#: PWD, which the shell would export, is removed so the script's environment
#: is exactly the one built for it.
_WRAPPERS = {
    "log": 'log=$1; shift; unset PWD; exec "$@" >>"$log" 2>&1',
    "export": 'log=$1; out=$2; shift 2; unset PWD; exec "$@" >"$out" 2>>"$log"',
    "import": 'log=$1; in=$2; shift 2; unset PWD; exec "$@" <"$in" >>"$log" 2>&1',
}

#: Ganeti's log name for each action (create logs as "add").
_LOG_KIND = {
    OSAction.CREATE: "add",
    OSAction.IMPORT: "import",
    OSAction.EXPORT: "export",
    OSAction.RENAME: "rename",
}


class OSScriptError(CorralError):
    """An OS script failed; the message carries the end of its output."""

    def __init__(self, result: OSScriptResult) -> None:
        self.result = result
        super().__init__(result.failure_message())


@dataclass(frozen=True)
class OSScriptResult:
    """How one OS script run ended.

    ``exit_code`` is ``None`` when the script was killed (``timed_out``
    says whether by the timeout). ``tail`` holds the last lines of its
    output: from ``log_path`` for instance scripts, from the captured
    output for ``verify`` (which has no log file, as in Ganeti).
    """

    action: OSAction
    os_name: str
    instance: str
    argv: list[str]
    exit_code: int | None
    timed_out: bool
    log_path: Path | None
    tail: list[str]

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.timed_out

    @property
    def status(self) -> str:
        if self.timed_out:
            return "timed out"
        if self.exit_code is None:
            return "killed by a signal"
        return f"exited with {self.exit_code}"

    def failure_message(self) -> str:
        what = f"OS {self.action.value} script of {self.os_name}"
        if self.instance:
            what += f" for instance {self.instance}"
        where = f"the log file {self.log_path}" if self.log_path else "its output"
        if not self.tail:
            return f"{what} failed ({self.status}) and wrote nothing to {where}"
        lines = "\n".join(self.tail)
        return f"{what} failed ({self.status}), last lines in {where}:\n{lines}"

    def check(self) -> OSScriptResult:
        """Return self, or raise :class:`OSScriptError` with the log's last lines."""
        if not self.ok:
            raise OSScriptError(self)
        return self


def _safe(part: str) -> str:
    return part.replace("/", "_")


def log_file_path(
    log_dir: Path, action: OSAction, os_name: str, instance: str, component: str | None = None
) -> Path:
    """A new, empty log file for one run (created here, never reused).

    Named as Ganeti does: ``<kind>-<os>-<instance>[-<component>]-<UTC time>.log``,
    with ``-1``, ``-2``... appended when two runs start in the same second.
    """
    log_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y-%m-%d_%H_%M_%S")
    extra = f"-{_safe(component)}" if component else ""
    base = f"{_LOG_KIND[action]}-{_safe(os_name)}-{_safe(instance)}{extra}-{stamp}"
    for attempt in range(1000):
        path = log_dir / (f"{base}.log" if attempt == 0 else f"{base}-{attempt}.log")
        try:
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640))
        except FileExistsError:
            continue
        return path
    raise OSProviderError(f"cannot create a new log file in {log_dir}: {base}*.log all exist")


def tail_lines(text: str, count: int = TAIL_LINES) -> list[str]:
    """The last ``count`` lines of ``text``, trailing blank lines dropped.

    Carriage returns count as line breaks, so a progress meter that redraws
    one line shows as its last states, not as one huge line.
    """
    lines = text.replace("\r", "\n").splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    return lines[-count:]


def _read_tail(path: Path, count: int = TAIL_LINES) -> list[str]:
    """The last lines of a log that may be huge: only its end is read."""
    with open(path, "rb") as log:
        log.seek(0, os.SEEK_END)
        size = log.tell()
        log.seek(max(0, size - 64 * 1024))
        data = log.read()
    return tail_lines(data.decode("utf-8", "replace"), count)


async def run_os_script(
    provider: OSProvider,
    action: OSAction,
    instance: OSInstance,
    runner: ProcessRunner,
    log_dir: Path,
    timeout: float | None,
    debug: int = 0,
    extra_env: Mapping[str, str] | None = None,
    *,
    reinstall: bool = False,
    old_name: str | None = None,
    disk_index: int | None = None,
    stream: Path | None = None,
) -> OSScriptResult:
    """Run ``provider``'s ``action`` script for ``instance``, from the provider's folder.

    The environment is :func:`~corral.osapi.environment.action_environment`
    plus ``extra_env`` (which wins). ``export`` writes the disk image to
    ``stream``, ``import`` reads it from ``stream``; both need
    ``disk_index``. A failed script is a result, not an exception: call
    :meth:`OSScriptResult.check` to raise with the log's last lines.
    """
    script = provider.script(action)
    env = action_environment(
        provider,
        action,
        instance,
        debug=debug,
        reinstall=reinstall,
        old_name=old_name,
        disk_index=disk_index,
    )
    env.update(extra_env or {})
    name = f"{old_name}-{instance.name}" if action is OSAction.RENAME else instance.name
    component = f"disk{disk_index}" if action in (OSAction.IMPORT, OSAction.EXPORT) else None
    log_path = log_file_path(log_dir, action, provider.name, name, component)
    argv: list[str]
    if action in (OSAction.IMPORT, OSAction.EXPORT):
        if stream is None:
            raise OSProviderError(
                f"the OS {action.value} script needs a stream to"
                f" {'write the disk to' if action is OSAction.EXPORT else 'read the disk from'}"
            )
        wrapper = _WRAPPERS[action.value]
        argv = ["/bin/sh", "-c", wrapper, "corral-os", str(log_path), str(stream), str(script)]
    else:
        argv = ["/bin/sh", "-c", _WRAPPERS["log"], "corral-os", str(log_path), str(script)]
    done = await runner.run(argv, env=env, cwd=str(provider.path), timeout=timeout)
    return OSScriptResult(
        action,
        instance.os,
        instance.name,
        [str(script)],
        done.exit_code,
        done.timed_out,
        log_path,
        _read_tail(log_path),
    )


async def run_os_verify(
    provider: OSProvider,
    os_name: str,
    osparams: Mapping[str, Any],
    runner: ProcessRunner,
    timeout: float | None,
    *,
    force_variant: bool = False,
) -> OSScriptResult:
    """Check an OS name and OS parameters as Ganeti's ``os_validate`` does.

    The name must fit the provider's variants (unless ``force_variant``),
    the parameters must be declared in ``parameters.list`` (both raise
    :class:`OSProviderError`); for API 20 providers ``verify parameters``
    then runs with the core environment. Below API 20 nothing runs and an
    ``ok`` result with no output comes back.
    """
    provider.check_os_name(os_name, force_variant=force_variant)
    if provider.api_version < 20:
        return OSScriptResult(OSAction.VERIFY, os_name, "", [], 0, False, None, [])
    provider.check_parameters(osparams)
    script = provider.script(OSAction.VERIFY)
    env = core_environment(provider, os_name, osparams)
    argv = [str(script), "parameters"]
    done = await runner.run(argv, env=env, cwd=str(provider.path), timeout=timeout)
    output = done.stdout + ("\n" if done.stdout and not done.stdout.endswith("\n") else "")
    return OSScriptResult(
        OSAction.VERIFY,
        os_name,
        "",
        argv,
        done.exit_code,
        done.timed_out,
        None,
        tail_lines(output + done.stderr),
    )
