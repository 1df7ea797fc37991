"""Hook plugins: found through entry points, steered by GNT_* switches, failing loudly."""

from __future__ import annotations

import pytest

from corral.api import PluginError
from corral.plugins.manager import build_plugin_manager
from corral.plugins.manager import hook_plugins

HELLO = """
from corral.api import hookimpl

@hookimpl
def corral_config_validate(config):
    return ["hello-plugin saw the config"]
"""


def names(pm) -> set[str]:
    return {name for name, _ in pm.list_name_plugin()}


def test_entry_point_plugins_are_registered(make_dist) -> None:
    make_dist(
        "corral-hello", {"corral.plugins": {"hello": "corral_hello"}}, {"corral_hello": HELLO}
    )
    pm = build_plugin_manager(environ={})
    assert "hello" in names(pm)
    assert pm.hook.corral_config_validate(config=None) == [["hello-plugin saw the config"]]


def test_the_corral_hooks_group_is_read_as_an_alias(make_dist) -> None:
    make_dist("corral-hello", {"corral.hooks": {"hello": "corral_hello"}}, {"corral_hello": HELLO})
    assert "hello" in names(build_plugin_manager(environ={}))


def test_inventory_lists_hook_plugins_with_their_distribution(make_dist) -> None:
    make_dist("corral-hello", {"corral.plugins": {"hello": "corral_hello"}}, version="0.3")
    found = [(p.name, p.distribution, p.version) for p in hook_plugins() if p.name == "hello"]
    assert found == [("hello", "corral-hello", "0.3")]


def test_autoload_can_be_disabled(make_dist) -> None:
    make_dist(
        "corral-hello", {"corral.plugins": {"hello": "corral_hello"}}, {"corral_hello": HELLO}
    )
    pm = build_plugin_manager(environ={"GNT_DISABLE_PLUGIN_AUTOLOAD": "1"})
    assert "hello" not in names(pm)


def test_load_plugins_picks_named_ones_without_importing_others(make_dist) -> None:
    make_dist(
        "corral-hello", {"corral.plugins": {"hello": "corral_hello"}}, {"corral_hello": HELLO}
    )
    make_dist(
        "corral-bad",
        {"corral.plugins": {"bad": "corral_bad"}},
        {"corral_bad": "raise RuntimeError('boom')\n"},
    )
    pm = build_plugin_manager(
        environ={"GNT_DISABLE_PLUGIN_AUTOLOAD": "1", "GNT_LOAD_PLUGINS": "hello"}
    )
    assert "hello" in names(pm) and "bad" not in names(pm)


def test_load_plugins_naming_a_missing_plugin_is_an_error() -> None:
    with pytest.raises(PluginError, match="not installed: nothere"):
        build_plugin_manager(environ={"GNT_LOAD_PLUGINS": "nothere"})


def test_broken_plugin_names_its_distribution(make_dist) -> None:
    make_dist(
        "corral-bad",
        {"corral.plugins": {"bad": "corral_bad"}},
        {"corral_bad": "raise RuntimeError('boom')\n"},
    )
    with pytest.raises(PluginError) as err:
        build_plugin_manager(environ={})
    msg = str(err.value)
    assert "hook plugin 'bad' from corral-bad failed to load (RuntimeError: boom)" in msg
    assert "pip uninstall corral-bad" in msg and "GNT_DISABLE_PLUGIN_AUTOLOAD=1" in msg


def test_a_misspelt_hook_fails_at_start_up(make_dist) -> None:
    source = "from corral.api import hookimpl\n\n@hookimpl\ndef corral_config_validat(config):\n    return []\n"
    make_dist("corral-typo", {"corral.plugins": {"typo": "corral_typo"}}, {"corral_typo": source})
    with pytest.raises(PluginError, match="corral_config_validat"):
        build_plugin_manager(environ={})


def test_a_wrong_signature_is_refused(make_dist) -> None:
    source = "from corral.api import hookimpl\n\n@hookimpl\ndef corral_config_validate(cfg):\n    return []\n"
    make_dist("corral-sig", {"corral.plugins": {"sig": "corral_sig"}}, {"corral_sig": source})
    with pytest.raises(PluginError, match="hook plugin 'sig' is invalid"):
        build_plugin_manager(environ={})


def test_builtins_are_registered_like_plugins() -> None:
    class Builtin:
        from corral.api import hookimpl

        @hookimpl
        def corral_config_validate(self, config):
            return ["from a built-in"]

    pm = build_plugin_manager(environ={"GNT_DISABLE_PLUGIN_AUTOLOAD": "1"}, builtins=[Builtin()])
    assert pm.hook.corral_config_validate(config=None) == [["from a built-in"]]


def test_tracing_writes_hook_calls_to_stderr(capsys) -> None:
    pm = build_plugin_manager(environ={"GNT_DISABLE_PLUGIN_AUTOLOAD": "1", "GNT_TRACE_HOOKS": "1"})
    pm.hook.corral_config_validate(config=None)
    assert "corral_config_validate" in capsys.readouterr().err
