"""Hooks around jobs and opcodes, called on the master daemon."""

from __future__ import annotations

from typing import TYPE_CHECKING
from typing import Any

from corral.hookspecs import hookspec

if TYPE_CHECKING:
    from collections.abc import Mapping
    from collections.abc import Sequence


@hookspec
def corral_opcode_pre(op: Any, env: Mapping[str, str], nodes: Sequence[str]) -> Any:
    """An opcode passed its prerequisite checks and is about to execute.

    ``op`` is the opcode object; ``env`` is the Ganeti hooks environment
    (``GANETI_*`` variables) computed for it; ``nodes`` names the nodes
    besides the master that the opcode concerns, where Ganeti runs its hook
    scripts too (an instance's nodes, the node being changed). Raise
    :class:`corral.api.HookVeto` with a message to stop the opcode before it
    changes anything; the message is shown to the user. May return an
    awaitable (coroutine or Deferred), which the master awaits before
    executing; the opcode holds its locks meanwhile, so keep it short.
    """


@hookspec
def corral_opcode_post(op: Any, env: Mapping[str, str], result: Any, nodes: Sequence[str]) -> Any:
    """An opcode finished executing successfully with ``result``.

    Called on the master after the opcode's changes are committed, with the
    same ``env`` and ``nodes`` as :func:`corral_opcode_pre` (``nodes`` as
    they are now: after a move, the instance's new node). Cannot undo anything: errors
    are logged and shown as warnings in the job log. May return an
    awaitable.
    """


@hookspec
def corral_job_state_changed(job: Any, old: str, new: str) -> None:
    """A job moved from status ``old`` to status ``new``.

    Statuses are Ganeti's: queued, waiting, running, canceling, canceled,
    success, error. Called on the master after the change is persisted; a
    notification only, so it must not block and its return value is ignored.
    """


@hookspec(firstresult=True)
def corral_master_ip(action: str, ip: str, netmask: int, netdev: str) -> bool | None:
    """Bring the cluster IP up (``action`` ``"start"``) or down (``"stop"``) on this node.

    Called on the master when its master daemon starts and stops, and on a
    former master that steps down. Return ``True`` when the plugin did it
    (the first such answer wins); with no plugin answering, corral runs the
    site script ``etc/corral/master-ip-setup`` (Ganeti's interface:
    ``start``/``stop`` argument, ``MASTER_IP``, ``MASTER_NETMASK``,
    ``MASTER_NETDEV``, ``CLUSTER_IP_VERSION`` in the environment) if it is
    there, else ``ip address add|del``. Called from a thread: it may block.
    Raise an exception to report a failure, which is logged as a warning.
    """
