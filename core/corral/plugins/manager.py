"""Building the pluggy plugin manager that calls ``corral_*`` hooks.

No module-level manager exists: each daemon or tool builds one and passes
it to what needs it. Operators steer loading with environment variables
named like pytest's and datasette's switches:

``GNT_DISABLE_PLUGIN_AUTOLOAD=1``
    load no hook plugin from entry points, except those named in
``GNT_LOAD_PLUGINS=name,name``
    (entry-point names; with autoload on, it restricts loading to these).
``GNT_TRACE_HOOKS=1``
    print every hook call and result on standard error.
"""

from __future__ import annotations

import inspect
import os
import sys
from typing import TYPE_CHECKING
from typing import Any

import pluggy
from stevedore import ExtensionManager
from stevedore import NamedExtensionManager

from corral import hookspecs
from corral.api.errors import PluginError
from corral.hooks.plugin import HookScripts
from corral.plugins.registry import PluginInfo
from corral.plugins.registry import installed

if TYPE_CHECKING:
    from collections.abc import Iterable
    from collections.abc import Mapping

#: Entry-point groups that publish hook implementations. ``corral.plugins``
#: is the documented one; ``corral.hooks`` is read too, as an alias.
HOOK_GROUPS = ("corral.plugins", "corral.hooks")


async def await_maybe(value: object) -> object:
    """A hook implementation's result, awaited if it is a coroutine or Deferred.

    pluggy calls implementations synchronously; those the specs allow to be
    asynchronous return an awaitable, which the core awaits here.
    """
    if inspect.isawaitable(value):
        return await value
    return value


def call_impl(impl: pluggy.HookImpl, **kwargs: object) -> object:
    """Call one hook implementation alone, passing only the arguments it asks for.

    For callers that must tell implementations apart (whose command clashes,
    whose post hook failed) instead of calling the whole hook at once.
    """
    return impl.function(*(kwargs[name] for name in impl.argnames))


def hook_plugins() -> list[PluginInfo]:
    """Every installed hook-plugin entry point (metadata only, nothing imported)."""
    return [info for group in HOOK_GROUPS for info in installed(group)]


def _wanted(environ: Mapping[str, str]) -> set[str] | None:
    """Entry-point names to load, or ``None`` for all of them."""
    names = {n.strip() for n in environ.get("GNT_LOAD_PLUGINS", "").split(",") if n.strip()}
    if environ.get("GNT_DISABLE_PLUGIN_AUTOLOAD", "") not in ("", "0"):
        return names
    return names or None


def _on_failure(manager: Any, ep: Any, err: BaseException) -> None:
    # stevedore rebuilds entry points from its cache without their distribution.
    info = next((p for p in hook_plugins() if p.name == ep.name), None)
    dist = info.distribution if info is not None and info.distribution else "its distribution"
    raise PluginError(
        f"hook plugin {ep.name!r} from {dist} failed to load ({type(err).__name__}: {err});"
        f" fix or uninstall it (pip uninstall {dist}), or set GNT_DISABLE_PLUGIN_AUTOLOAD=1"
    ) from err


def default_builtins() -> dict[str, object]:
    """corral's own hook implementations, by name, registered in every plugin manager.

    As pytest's default plugins: the core's defaults go through the same
    hooks as any plugin. A test that wants none unregisters them by name.
    """
    return {HookScripts.NAME: HookScripts()}


def build_plugin_manager(
    environ: Mapping[str, str] | None = None, builtins: Iterable[object] = ()
) -> pluggy.PluginManager:
    """A plugin manager with corral's hook specs, its :func:`default_builtins`, the given
    built-ins and installed plugins.

    Raises :class:`PluginError` when an installed plugin cannot be imported or
    implements a hook corral does not declare (a typo must fail loudly).
    """
    env = os.environ if environ is None else environ
    pm = pluggy.PluginManager("corral")
    hookspecs.add_all(pm)
    # Historic: every plugin registered from now on gets the call too.
    pm.hook.corral_addhooks.call_historic(kwargs={"pluginmanager": pm})
    for name, default in default_builtins().items():
        pm.register(default, name=name)
    for plugin in builtins:
        pm.register(plugin)
    wanted = _wanted(env)
    for group in HOOK_GROUPS:
        if wanted is None:
            ext_manager = ExtensionManager(group, on_load_failure_callback=_on_failure)
        else:  # import only the named ones
            ext_manager = NamedExtensionManager(
                group,
                sorted(wanted),
                on_load_failure_callback=_on_failure,
                on_missing_entrypoints_callback=None,  # checked below, across both groups
            )
        for ext in ext_manager:
            if pm.get_plugin(ext.name) is None and not pm.is_blocked(ext.name):
                try:
                    pm.register(ext.plugin, name=ext.name)
                except pluggy.PluginValidationError as err:
                    raise PluginError(f"hook plugin {ext.name!r} is invalid: {err}") from err
    missing = sorted(n for n in wanted or () if pm.get_plugin(n) is None)
    if missing:
        raise PluginError(
            f"GNT_LOAD_PLUGINS names hook plugins that are not installed: {', '.join(missing)}"
        )
    try:
        pm.check_pending()
    except pluggy.PluginValidationError as err:
        raise PluginError(f"a hook plugin implements an unknown hook: {err}") from err
    if env.get("GNT_TRACE_HOOKS", "") not in ("", "0"):
        pm.trace.root.setwriter(sys.stderr.write)
        pm.enable_tracing()
    return pm
