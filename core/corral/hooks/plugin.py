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

from twisted.internet import defer
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
    from collections.abc import Callable
    from collections.abc import Coroutine
    from collections.abc import Mapping
    from collections.abc import Sequence
    from pathlib import Path

    from corral.hooks.table import HooksPath

    #: Runs one phase's scripts on another node: (node, path, phase, env) -> results.
    RemoteRunner = Callable[[str, str, str, dict[str, str]], Coroutine[Any, Any, list[HookResult]]]

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
        #: How to run scripts on the opcode's other nodes; the master daemon sets it
        #: (without it, as in a test of the plugin alone, scripts run here only).
        self.remote: RemoteRunner | None = None

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
        self,
        entry: HooksPath,
        op_id: str,
        phase: Phase,
        env: Mapping[str, str],
        nodes: Sequence[str] = (),
    ) -> list[tuple[str, list[HookResult]]]:
        """Run one phase's scripts here and on ``nodes``, with the full Ganeti environment;
        the results by node (this one first, as ``""``), each logged.

        The other nodes are asked only when this node has the phase's directory:
        install the scripts on the master too (an empty directory will do), so an
        opcode without hooks costs no node call. A node that cannot be asked is
        logged and skipped, as in Ganeti.
        """
        state = paths.ssconf_dir() if self._ssconf_dir is None else self._ssconf_dir
        master = ssconf.read(state, "master_node") or ""
        full = build_env(
            op_id=op_id,
            object_type=entry.object_type.value,
            phase=phase,
            lu_env=env,
            cluster=ssconf.read(state, "cluster_name") or "",
            master=master,
            data_dir=paths.data_dir(),
        )
        local = await run_hooks(
            self.hooks_dir, entry.path, phase, full, self._runner_now(), self.timeout
        )
        self.last_results[phase] = local
        found: list[tuple[str, list[HookResult]]] = [("", local)]
        others = sorted({n for n in nodes if n and n != master})
        if others and self.remote is not None:
            answers: list[tuple[bool, Any]] = await defer.DeferredList(
                [
                    defer.Deferred.fromCoroutine(
                        self.remote(node, entry.path, phase.value, dict(full))
                    )
                    for node in others
                ],
                consumeErrors=True,
            )
            for node, (ok, value) in zip(others, answers, strict=True):
                if ok:
                    found.append((node, value))
                else:
                    log.warn(
                        "hooks {path}-{phase}.d not run on node {node}: {error}",
                        path=entry.path, phase=phase.value, node=node,
                        error=getattr(value, "value", value),
                    )  # fmt: skip
        for node, results in found:
            for result in results:
                emit = {HookStatus.SUCCESS: log.info, HookStatus.FAIL: log.warn}.get(
                    result.status, log.debug
                )
                emit(
                    "hook {path}-{phase}.d/{name} for {op_id} on {node}: {status}",
                    path=entry.path,
                    phase=phase.value,
                    name=result.name,
                    op_id=op_id,
                    node=node or master or "the master",
                    status=result.status.value,
                    output=result.output,
                )
        return found

    def _failures(
        self, entry: HooksPath, phase: Phase, found: list[tuple[str, list[HookResult]]]
    ) -> tuple[str, list[HookResult]]:
        """What failed, described per node, and every result (failures or not)."""
        folder = phase_dir(self.hooks_dir, entry.path, phase)
        parts, every = [], []
        for node, results in found:
            bad = [r for r in results if r.failed]
            if bad:
                # Another node's directory is its own: named relative to its hooks dir.
                where = f"{node}: {entry.path}-{phase.value}.d" if node else folder
                parts.append(_describe(where, bad))
            every += results
        return "\n".join(parts), every

    async def _pre(
        self, entry: HooksPath, op_id: str, env: Mapping[str, str], nodes: Sequence[str]
    ) -> None:
        found = await self.run_phase(entry, op_id, Phase.PRE, env, nodes)
        described, results = self._failures(entry, Phase.PRE, found)
        if described:
            raise HookScriptVeto(
                f"{op_id} refused by its pre hook scripts:\n{described}\n"
                "Fix what the script reports and submit the job again, or remove the"
                " script (or its execute permission) if it should not decide.",
                results,
            )

    async def _post(
        self, entry: HooksPath, op_id: str, env: Mapping[str, str], nodes: Sequence[str]
    ) -> None:
        found = await self.run_phase(entry, op_id, Phase.POST, env, nodes)
        described, results = self._failures(entry, Phase.POST, found)
        if described:
            raise HookScriptsFailed(
                f"{op_id} is done, but its post hook scripts failed:\n{described}", results
            )

    @hookimpl
    def corral_opcode_pre(
        self, op: Any, env: Mapping[str, str], nodes: Sequence[str]
    ) -> Coroutine[Any, Any, None] | None:
        planned = self._planned(op, env, Phase.PRE)
        return None if planned is None else self._pre(*planned, env, nodes)

    @hookimpl
    def corral_opcode_post(
        self, op: Any, env: Mapping[str, str], result: Any, nodes: Sequence[str]
    ) -> Coroutine[Any, Any, None] | None:
        planned = self._planned(op, env, Phase.POST)
        return None if planned is None else self._post(*planned, env, nodes)
