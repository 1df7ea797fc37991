"""The environment hook scripts get: Ganeti's hooks interface, version 2.

Ganeti clears the environment and passes only ``GANETI_*`` variables (and a
fixed ``PATH``). The common variables are set here; the opcode's own
variables come from its logical unit (``env`` of the opcode hooks), and the
post phase gets them a second time, prefixed ``GANETI_POST_``, for the
state after the opcode ran.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path

#: ``GANETI_HOOKS_VERSION``: the interface hooks.rst documents.
HOOKS_VERSION = "2"
#: The only PATH scripts get (Ganeti's ``HOOKS_PATH``).
SCRIPT_PATH = "/sbin:/bin:/usr/sbin:/usr/bin"
PREFIX = "GANETI_"
POST_PREFIX = "GANETI_POST_"


class Phase(StrEnum):
    """``GANETI_HOOKS_PHASE`` and the ``-pre.d``/``-post.d`` directory suffix."""

    PRE = "pre"
    POST = "post"


#: Variables that describe the run, not the opcode's object: not repeated as GANETI_POST_*.
COMMON = frozenset(
    f"{PREFIX}{name}"
    for name in (
        "HOOKS_VERSION",
        "HOOKS_PHASE",
        "HOOKS_PATH",
        "OP_CODE",
        "OBJECT_TYPE",
        "DATA_DIR",
        "CLUSTER",
        "MASTER",
    )
)


def run_env(path: str, phase: Phase, env: Mapping[str, str]) -> dict[str, str]:
    """The complete environment of one run: ``env``'s ``GANETI_*`` variables, the
    phase and path of this run (which win over ``env``), and ``PATH``."""
    result = {k: str(v) for k, v in env.items() if k.startswith(PREFIX)}
    result[f"{PREFIX}HOOKS_VERSION"] = HOOKS_VERSION
    result[f"{PREFIX}HOOKS_PHASE"] = phase.value
    result[f"{PREFIX}HOOKS_PATH"] = path
    result["PATH"] = SCRIPT_PATH
    return result


def build_env(
    *,
    op_id: str,
    object_type: str,
    phase: Phase,
    lu_env: Mapping[str, str],
    cluster: str,
    master: str,
    data_dir: Path | str,
    post_env: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The ``GANETI_*`` variables of an opcode's hooks (without the per-run ones).

    ``lu_env`` are the logical unit's variables (already ``GANETI_``-prefixed),
    computed before the opcode ran. In the post phase ``post_env`` is the same
    computed afterwards (Ganeti builds it again after execution); without it,
    the ``GANETI_POST_*`` variables repeat ``lu_env``'s values.
    """
    env = {
        f"{PREFIX}OP_CODE": op_id,
        f"{PREFIX}OBJECT_TYPE": object_type,
        f"{PREFIX}DATA_DIR": str(data_dir),
        f"{PREFIX}CLUSTER": cluster,
        f"{PREFIX}MASTER": master,
    }
    env.update({k: str(v) for k, v in lu_env.items() if k.startswith(PREFIX)})
    if phase is Phase.POST:
        after = lu_env if post_env is None else post_env
        for key, value in after.items():
            if key.startswith(PREFIX) and key not in COMMON and not key.startswith(POST_PREFIX):
                env[POST_PREFIX + key[len(PREFIX) :]] = str(value)
    return env
