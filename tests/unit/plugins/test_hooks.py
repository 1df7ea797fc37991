"""One test per hook: the spec's calling convention, and the core's call site where it has one.

``tests/docs/test_hooks_documented.py`` checks every hook has a test here.
"""

from __future__ import annotations

import types

import pytest

from corral.api import Command
from corral.api import HookVeto
from corral.api import hookimpl
from corral.cli.tool import run_tool
from corral.config.check import check_config
from corral.hookspecs import hookspec
from corral.plugins.manager import build_plugin_manager

QUIET = {"GNT_DISABLE_PLUGIN_AUTOLOAD": "1"}


def manager(*plugins: object):
    return build_plugin_manager(environ=QUIET, builtins=plugins)


def test_hook_corral_addhooks() -> None:
    specs = types.ModuleType("extra_specs")

    @hookspec
    def corral_x_ping(value: int) -> int:  # pragma: no cover - a spec has no body
        """A plugin's own hook."""

    specs.corral_x_ping = corral_x_ping

    class Publisher:
        @hookimpl
        def corral_addhooks(self, pluginmanager):
            pluginmanager.add_hookspecs(specs)

    class Answerer:
        @hookimpl
        def corral_x_ping(self, value):
            return value + 1

    pm = manager(Publisher())
    pm.register(Answerer())
    assert pm.hook.corral_x_ping(value=41) == [42]


def test_hook_corral_configure(sample_config) -> None:
    seen = []

    class Late:
        @hookimpl
        def corral_configure(self, config):
            seen.append(config.cluster.cluster_name)

    pm = manager()
    pm.hook.corral_configure.call_historic(kwargs={"config": sample_config})
    pm.register(Late())  # registered after the call: historic hooks still reach it
    assert seen == ["cluster.example.com"]


def test_hook_corral_config_validate(sample_config) -> None:
    class NoDb:
        @hookimpl
        def corral_config_validate(self, config):
            return [
                f"instances[{i.name}]: databases are not allowed"
                for i in config.instances.values()
                if "db" in i.name
            ]

    class Happy:
        @hookimpl
        def corral_config_validate(self, config):
            return None

    problems = check_config(sample_config, pm=manager(NoDb(), Happy()))
    assert problems == ["instances[db1.example.com]: databases are not allowed"]


def test_hook_corral_opcode_pre() -> None:
    class Veto:
        @hookimpl
        def corral_opcode_pre(self, op, env):
            if env.get("GANETI_INSTANCE_NAME") == "forbidden":
                raise HookVeto("instance 'forbidden' may not be touched")

    pm = manager(Veto())
    assert pm.hook.corral_opcode_pre(op="op", env={"GANETI_INSTANCE_NAME": "ok"}, nodes=[]) == []
    with pytest.raises(HookVeto, match="may not be touched"):
        pm.hook.corral_opcode_pre(op="op", env={"GANETI_INSTANCE_NAME": "forbidden"}, nodes=[])


def test_hook_corral_opcode_post() -> None:
    results = []

    class Recorder:
        @hookimpl
        def corral_opcode_post(self, op, env, result):
            results.append((op, result))

    manager(Recorder()).hook.corral_opcode_post(op="OP_TEST_DELAY", env={}, result=None, nodes=[])
    assert results == [("OP_TEST_DELAY", None)]


def test_hook_corral_job_state_changed() -> None:
    changes = []

    class Recorder:
        @hookimpl
        def corral_job_state_changed(self, job, old, new):
            changes.append((job, old, new))

    manager(Recorder()).hook.corral_job_state_changed(job=7, old="queued", new="running")
    assert changes == [(7, "queued", "running")]


def test_hook_corral_cli_commands(capsys, monkeypatch) -> None:
    def hello(args) -> int:
        print(f"hello {args.who}")
        return 0

    class Adds:
        @hookimpl
        def corral_cli_commands(self, tool):
            if tool != "gnt-demo":
                return None
            return [Command("hello", "Say hello", hello, lambda p: p.add_argument("who"))]

    pm = manager(Adds())
    monkeypatch.setattr("corral.plugins.manager.build_plugin_manager", lambda: pm)
    assert run_tool("gnt-demo", "demo", [], ["hello", "world"]) == 0
    assert capsys.readouterr().out == "hello world\n"
    # A built-in command named first runs without loading the plugins (the fast
    # start of every gnt-* command); whenever the plugins' commands are looked
    # up, a plugin command that clashes with a built-in one is refused.
    clash = Command("hello", "built in", hello, lambda p: p.add_argument("who"))
    assert run_tool("gnt-demo", "demo", [clash], ["hello", "x"]) == 0
    assert capsys.readouterr().out == "hello x\n"
    assert run_tool("gnt-demo", "demo", [clash], ["--help"]) == 1
    assert "adds command 'hello' to gnt-demo, which already has one" in capsys.readouterr().err


def test_hook_corral_rapi_resources() -> None:
    class Resources:
        @hookimpl
        def corral_rapi_resources(self):
            return {"x-status": object}

    assert manager(Resources()).hook.corral_rapi_resources() == [{"x-status": object}]


def test_hook_corral_authorize() -> None:
    class Abstains:
        @hookimpl
        def corral_authorize(self, actor, op):
            return None

    class Decides:
        @hookimpl
        def corral_authorize(self, actor, op):
            return actor == "admin" or f"{actor} may not submit {op}"

    pm = manager(Decides(), Abstains())  # Abstains runs first (last registered), then Decides
    assert pm.hook.corral_authorize(actor="admin", op="OP_INSTANCE_REMOVE") is True
    assert (
        pm.hook.corral_authorize(actor="bob", op="OP_INSTANCE_REMOVE")
        == "bob may not submit OP_INSTANCE_REMOVE"
    )
    assert manager(Abstains()).hook.corral_authorize(actor="bob", op="x") is None


def test_hook_corral_master_ip(tmp_path, monkeypatch) -> None:
    from corral import masterip

    calls = []

    class Mover:
        @hookimpl
        def corral_master_ip(self, action, ip, netmask, netdev):
            calls.append((action, ip, netmask, netdev))
            return True

    assert masterip.change("start", "192.0.2.10", 24, "br0", manager(Mover())) == "a network plugin"
    assert calls == [("start", "192.0.2.10", 24, "br0")]


def test_master_ip_site_script_gets_ganetis_environment(tmp_path, monkeypatch) -> None:
    from corral import masterip

    monkeypatch.setenv("CORRAL_ROOTDIR", str(tmp_path))
    script = tmp_path / "etc/corral/master-ip-setup"
    script.parent.mkdir(parents=True)
    log = tmp_path / "log"
    script.write_text(
        f'#!/bin/sh\necho "$1 $MASTER_IP/$MASTER_NETMASK $MASTER_NETDEV v$CLUSTER_IP_VERSION" >> {log}\n'
    )
    script.chmod(0o755)
    assert masterip.change("stop", "192.0.2.10", 32, "eth0", manager()) == str(script)
    assert log.read_text() == "stop 192.0.2.10/32 eth0 v4\n"
    script.write_text("#!/bin/sh\necho 'no such device' >&2\nexit 2\n")
    with pytest.raises(masterip.MasterIPError, match="exited 2: no such device"):
        masterip.change("start", "192.0.2.10", 32, "eth0", manager())
