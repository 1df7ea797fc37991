"""The built-in plugin that runs Ganeti-style hook scripts around opcodes, on the master.

Registered by :func:`corral.plugins.manager.build_plugin_manager` in every
plugin manager; it does nothing for an opcode without a hooks path or
without a script directory, so a site with no hook scripts pays one
``lstat`` per opcode.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING
from typing import Any

from twisted.logger import Logger

from corral import paths
from corral import ssconf
from corral.api import hookimpl
from corral.api.errors import CorralError
from corral.api.errors import HookVeto
from corral.api.process import ProcessRunner
from corral.hooks.environment import Phase
from corral.hooks.environment import build_env
from corral.hooks.scripts import DEFAULT_TIMEOUT
from corral.hooks.scripts import HookResult
from corral.hooks.scripts import HookStatus
from corral.hooks.scripts import phase_dir
from corral.hooks.scripts import run_hooks
from corral.hooks.table import hooks_path

if TYPE_CHECKING:
    from collections.abc import Coroutine
    from collections.abc import Mapping
    from pathlib import Path

    from corral.hooks.table import HooksPath

log = Logger(namespace="corral.hooks")


def _describe(folder: str, failed: list[HookResult]) -> str:
    lines = []
    for result in failed:
        how = f"exit {result.exit_code}" if result.exit_code is not None else "no exit code"
        # run_hooks names a directory it cannot read after the directory itself.
        where = folder if result.name == os.path.basename(folder) else f"{folder}/{result.name}"
        lines.append(f"{where} failed ({how}):")
        output = result.output or "(no output)"
        lines.extend(f"  {line}" for line in output.splitlines())
    return "\n".join(lines)


class HookScriptVeto(HookVeto):
    """A pre-phase hook script failed, so the opcode does not run."""

    def __init__(self, message: str, results: list[HookResult]) -> None:
        super().__init__(message)
        self.results = results


class HookScriptsFailed(CorralError):
    """A post-phase hook script failed (reported as a warning; nothing is undone)."""

    def __init__(self, message: str, results: list[HookResult]) -> None:
        super().__init__(message)
        self.results = results


class HookScripts:
    """Runs ``<hooks_dir>/<hooks path>-<phase>.d/`` scripts for each opcode.

    ``hooks_dir`` defaults to :func:`corral.paths.hooks_dir` and
    ``runner`` to a :class:`ProcessRunner` on the running reactor, both
    resolved at the first opcode (so a daemon's ``CORRAL_ROOTDIR`` and
    reactor are the ones used). ``timeout`` is per script.
    """

    #: The name it is registered under in the plugin manager.
    NAME = "corral-hook-scripts"

    def __init__(
        self,
        hooks_dir: Path | str | None = None,
        runner: ProcessRunner | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        ssconf_dir: Path | None = None,
    ) -> None:
        self._hooks_dir = hooks_dir
        self._runner = runner
        self.timeout = timeout
        self._ssconf_dir = ssconf_dir
        #: The results of the latest run of each phase, for logging and tests.
        self.last_results: dict[Phase, list[HookResult]] = {}

    @property
    def hooks_dir(self) -> str:
        return os.fspath(paths.hooks_dir() if self._hooks_dir is None else self._hooks_dir)

    def _runner_now(self) -> ProcessRunner:
        if self._runner is None:
            from twisted.internet import reactor  # the daemon's, installed by now

            self._runner = ProcessRunner(reactor)
        return self._runner

    def _planned(
        self, op: Any, env: Mapping[str, str], phase: Phase
    ) -> tuple[HooksPath, str] | None:
        """The opcode's hooks path and OP_ID, if this phase has a script directory."""
        op_id = getattr(op, "OP_ID", None)
        if not isinstance(op_id, str):
            op_id = env.get("GANETI_OP_CODE", "")
        entry = hooks_path(op_id)
        if entry is None or (phase is Phase.PRE and not entry.pre):
            return None
        if not os.path.lexists(phase_dir(self.hooks_dir, entry.path, phase)):
            return None
        return entry, op_id

    async def run_phase(
        self, entry: HooksPath, op_id: str, phase: Phase, env: Mapping[str, str]
    ) -> list[HookResult]:
        """Run one phase's scripts with the full Ganeti environment; log each result."""
        state = paths.ssconf_dir() if self._ssconf_dir is None else self._ssconf_dir
        full = build_env(
            op_id=op_id,
            object_type=entry.object_type.value,
            phase=phase,
            lu_env=env,
            cluster=ssconf.read(state, "cluster_name") or "",
            master=ssconf.read(state, "master_node") or "",
            data_dir=paths.data_dir(),
        )
        results = await run_hooks(
            self.hooks_dir, entry.path, phase, full, self._runner_now(), self.timeout
        )
        self.last_results[phase] = results
        for result in results:
            emit = {HookStatus.SUCCESS: log.info, HookStatus.FAIL: log.warn}.get(
                result.status, log.debug
            )
            emit(
                "hook {path}-{phase}.d/{name} for {op_id}: {status}",
                path=entry.path,
                phase=phase.value,
                name=result.name,
                op_id=op_id,
                status=result.status.value,
                output=result.output,
            )
        return results

    async def _pre(self, entry: HooksPath, op_id: str, env: Mapping[str, str]) -> None:
        results = await self.run_phase(entry, op_id, Phase.PRE, env)
        failed = [r for r in results if r.failed]
        if failed:
            folder = phase_dir(self.hooks_dir, entry.path, Phase.PRE)
            raise HookScriptVeto(
                f"{op_id} refused by its pre hook scripts:\n{_describe(folder, failed)}\n"
                "Fix what the script reports and submit the job again, or remove the"
                " script (or its execute permission) if it should not decide.",
                results,
            )

    async def _post(self, entry: HooksPath, op_id: str, env: Mapping[str, str]) -> None:
        results = await self.run_phase(entry, op_id, Phase.POST, env)
        failed = [r for r in results if r.failed]
        if failed:
            folder = phase_dir(self.hooks_dir, entry.path, Phase.POST)
            raise HookScriptsFailed(
                f"{op_id} is done, but its post hook scripts failed:\n{_describe(folder, failed)}",
                results,
            )

    @hookimpl
    def corral_opcode_pre(
        self, op: Any, env: Mapping[str, str]
    ) -> Coroutine[Any, Any, None] | None:
        planned = self._planned(op, env, Phase.PRE)
        return None if planned is None else self._pre(*planned, env)

    @hookimpl
    def corral_opcode_post(
        self, op: Any, env: Mapping[str, str], result: Any
    ) -> Coroutine[Any, Any, None] | None:
        planned = self._planned(op, env, Phase.POST)
        return None if planned is None else self._post(*planned, env)
