"""Hooks for the remote API daemon."""

from __future__ import annotations

from typing import Any

from corral.hookspecs import hookspec


@hookspec
def corral_rapi_resources() -> dict[str, Any] | None:
    """Add resources to the RAPI server.

    Called once when corral-rapi starts. Return a mapping from a path below
    ``/2/`` (for example ``"x-myplugin/status"``) to a resource object, or
    ``None``. Paths must not shadow Ganeti's. Synchronous.
    """


@hookspec(firstresult=True)
def corral_authorize(actor: str, op: Any) -> Any:
    """Decide whether ``actor`` (a RAPI user or ``"root"`` on the master) may submit ``op``.

    The first implementation that returns a value decides: ``True`` allows,
    ``False`` or a string (the reason) refuses. Return ``None`` to leave the
    decision to others; when nobody decides, the users file rights apply.
    Must decide synchronously (it may return an awaitable only to claim the
    call).
    """
