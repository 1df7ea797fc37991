"""Hook specifications: the cross-cutting events any distribution can join.

Every hook is named ``corral_*``. Implementations are plain functions (or
methods) marked with :data:`corral.api.hookimpl` and published through the
``corral.plugins`` entry point. Each spec's docstring says when it is called,
on which daemon, whether it may block and what it may return; the same text
is in ``docs/hooks.md``, and a test keeps the two in step.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from types import ModuleType

#: Marks a function as a hook specification (core use only).
hookspec = pluggy.HookspecMarker("corral")


def spec_modules() -> list[ModuleType]:
    """The modules holding corral's hook specifications."""
    from corral.hookspecs import cli
    from corral.hookspecs import config
    from corral.hookspecs import master
    from corral.hookspecs import plugins
    from corral.hookspecs import rapi

    return [plugins, config, master, cli, rapi]


def add_all(pm: pluggy.PluginManager) -> None:
    """Register every corral hook specification with ``pm``."""
    for module in spec_modules():
        pm.add_hookspecs(module)
