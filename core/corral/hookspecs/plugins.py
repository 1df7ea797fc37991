"""Hooks about plugins themselves."""

from __future__ import annotations

from typing import TYPE_CHECKING

from corral.hookspecs import hookspec

if TYPE_CHECKING:
    import pluggy


@hookspec(historic=True)
def corral_addhooks(pluginmanager: pluggy.PluginManager) -> None:
    """Let a plugin publish hook specifications of its own.

    Called once per plugin when it is registered (historic: a plugin
    registered later still gets the call). Call
    ``pluginmanager.add_hookspecs(module)`` here. Runs in every process that
    builds a plugin manager; must not block. Return value ignored.
    """
