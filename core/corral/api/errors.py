"""Errors that cross the boundary between the core and its plugins.

Every error carries a message meant for an operator: it names the object or
field at fault and, where one exists, what to do next.
"""

from __future__ import annotations

import shlex


class CorralError(Exception):
    """Base of every error corral raises on purpose."""


class ConfigError(CorralError):
    """The cluster configuration is unreadable, invalid or too new.

    ``problems`` lists each problem (``path: what is wrong``) when there are
    several, so tools can show them one per line.
    """

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        self.problems = list(problems or [])
        details = "".join(f"\n  {p}" for p in self.problems)
        super().__init__(f"{message}{details}")


class ParameterError(CorralError):
    """A parameter dict (hvparams, beparams, diskparams, ...) holds a bad key or value.

    ``errors`` maps dotted parameter paths to the problems found there, so a
    caller can show all of them at once.
    """

    def __init__(self, errors: dict[str, list[str]]) -> None:
        self.errors = errors
        lines = [f"{path}: {'; '.join(msgs)}" for path, msgs in sorted(errors.items())]
        super().__init__("\n".join(lines))


class OpPrereqError(CorralError):
    """An opcode cannot run: its input or the cluster state does not allow it."""


class OpExecError(CorralError):
    """An opcode failed while executing (after its prerequisites held)."""


class PluginError(CorralError):
    """A plugin is missing, broken, or incompatible with this core."""


class HypervisorError(CorralError):
    """A hypervisor driver could not do what it was asked."""


class StorageError(CorralError):
    """A storage driver could not do what it was asked."""


class NetworkError(CorralError):
    """A network driver could not do what it was asked."""


class HookVeto(CorralError):
    """Raised by a ``corral_opcode_pre`` implementation to stop an opcode."""


class CommandError(CorralError):
    """A child process failed; carries its exit status and output."""

    def __init__(self, argv: list[str], exit_code: int | None, stdout: str, stderr: str) -> None:
        self.argv = argv
        self.exit_code = exit_code
        self.stdout = stdout
        self.stderr = stderr
        status = "was killed" if exit_code is None else f"exited with {exit_code}"
        detail = stderr.strip() or stdout.strip()
        msg = f"command `{shlex.join(argv)}` {status}"
        super().__init__(f"{msg}: {detail}" if detail else msg)
