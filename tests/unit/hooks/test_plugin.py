"""The built-in hook-scripts plugin: found in every plugin manager, vetoes, warns, stays out."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING
from typing import Any

import pytest

from corral.api import CorralError
from corral.api import HookVeto
from corral.api import ProcessRunner
from corral.cmdlib.processor import Processor
from corral.hooks.environment import Phase
from corral.hooks.plugin import HookScripts
from corral.hooks.plugin import HookScriptsFailed
from corral.hooks.plugin import HookScriptVeto
from corral.hooks.scripts import HookResult
from corral.hooks.scripts import HookStatus
from corral.plugins.manager import await_maybe
from corral.plugins.manager import build_plugin_manager
from corral.testing import async_test

if TYPE_CHECKING:
    from pathlib import Path


@dataclass
class Op:
    OP_ID: str


def script(folder: Path, name: str, body: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(f"#!/bin/sh\n{body}\n")
    (folder / name).chmod(0o755)


@pytest.fixture
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A node root with ssconf files, as on a master."""
    monkeypatch.setenv("CORRAL_ROOTDIR", str(tmp_path))
    data = tmp_path / "var/lib/corral"
    data.mkdir(parents=True)
    (data / "ssconf_cluster_name").write_text("cluster1.example.com\n")
    (data / "ssconf_master_node").write_text("node1.example.com\n")
    return tmp_path


@pytest.fixture
def hooks(root: Path) -> Path:
    return root / "etc/corral/hooks"


ENV = {"GANETI_OP_CODE": "OP_INSTANCE_STARTUP", "GANETI_INSTANCE_NAME": "web1.example.com"}


async def call_pre(pm: Any, op: Any, env: dict[str, str]) -> None:
    for outcome in pm.hook.corral_opcode_pre(op=op, env=env, nodes=[]):
        await await_maybe(outcome)


def test_every_plugin_manager_has_it() -> None:
    pm = build_plugin_manager({"GNT_DISABLE_PLUGIN_AUTOLOAD": "1"})
    assert isinstance(pm.get_plugin(HookScripts.NAME), HookScripts)


@async_test
async def test_failing_pre_script_vetoes_with_its_name_and_output(hooks: Path) -> None:
    script(hooks / "instance-start-pre.d", "10-fine", "exit 0")
    script(
        hooks / "instance-start-pre.d", "20-maintenance", "echo node1 is in maintenance >&2\nexit 1"
    )
    pm = build_plugin_manager({"GNT_DISABLE_PLUGIN_AUTOLOAD": "1"})
    with pytest.raises(HookVeto) as caught:
        await call_pre(pm, Op("OP_INSTANCE_STARTUP"), ENV)
    message = str(caught.value)
    assert f"{hooks}/instance-start-pre.d/20-maintenance failed (exit 1)" in message
    assert "node1 is in maintenance" in message
    assert "10-fine" not in message
    assert isinstance(caught.value, HookScriptVeto)
    results = caught.value.results
    assert [(r.name, r.status) for r in results] == [
        ("10-fine", HookStatus.SUCCESS),
        ("20-maintenance", HookStatus.FAIL),
    ]


@async_test
async def test_passing_pre_scripts_let_the_opcode_run(hooks: Path, tmp_path: Path) -> None:
    seen = tmp_path / "seen"
    script(
        hooks / "instance-start-pre.d", "10-log", f'echo "$GANETI_CLUSTER $GANETI_MASTER" > {seen}'
    )
    plugin = HookScripts()
    await await_maybe(plugin.corral_opcode_pre(Op("OP_INSTANCE_STARTUP"), ENV, []))
    assert seen.read_text() == "cluster1.example.com node1.example.com\n"
    assert [r.status for r in plugin.last_results[Phase.PRE]] == [HookStatus.SUCCESS]


@async_test
async def test_failing_post_script_is_reported_not_fatal(hooks: Path) -> None:
    script(hooks / "instance-start-post.d", "10-notify", "echo mail server down; exit 2")
    script(hooks / "instance-start-post.d", "20-after", "echo $GANETI_POST_INSTANCE_NAME")
    plugin = HookScripts()
    with pytest.raises(HookScriptsFailed) as caught:
        await await_maybe(plugin.corral_opcode_post(Op("OP_INSTANCE_STARTUP"), ENV, None, []))
    assert not isinstance(caught.value, HookVeto)
    assert "10-notify failed (exit 2)" in str(caught.value)
    assert "mail server down" in str(caught.value)
    after = plugin.last_results[Phase.POST][1]
    assert (after.status, after.output) == (HookStatus.SUCCESS, "web1.example.com")


@async_test
async def test_post_failure_becomes_a_job_warning(hooks: Path) -> None:
    """Through the processor's own loop: the exception turns into a feedback warning."""
    script(hooks / "instance-start-post.d", "10-notify", "echo mail server down; exit 2")
    feedback: list[str] = []

    class Ctx:
        def feedback(self, message: str) -> None:
            feedback.append(message)

    ctx: Any = Ctx()
    op: Any = Op("OP_INSTANCE_STARTUP")
    processor = Processor(build_plugin_manager({"GNT_DISABLE_PLUGIN_AUTOLOAD": "1"}))
    await processor._post_hooks(ctx, op, dict(ENV), None)
    assert len(feedback) == 1
    assert feedback[0].startswith(f"WARNING: post hook of plugin {HookScripts.NAME} failed")
    assert "mail server down" in feedback[0]


def test_nothing_runs_without_a_path_or_a_directory(hooks: Path) -> None:
    """No coroutine at all then: the hook answers None at once."""
    plugin = HookScripts(runner=ProcessRunner(None))
    assert plugin.corral_opcode_pre(Op("OP_INSTANCE_STARTUP"), ENV, []) is None
    script(hooks / "test-delay-pre.d", "10-x", "exit 1")
    assert plugin.corral_opcode_pre(Op("OP_TEST_DELAY"), ENV, []) is None
    assert plugin.corral_opcode_pre("not an opcode", {}, []) is None


def test_phases_hooks_rst_leaves_out_do_not_run(hooks: Path) -> None:
    """cluster-verify has no pre phase in Ganeti: a cluster-verify-pre.d is ignored."""
    script(hooks / "cluster-verify-pre.d", "10-deny", "exit 1")
    plugin = HookScripts(runner=ProcessRunner(None))
    assert plugin.corral_opcode_pre(Op("OP_CLUSTER_VERIFY"), {}, []) is None


@async_test
async def test_explicit_directory_and_timeout(tmp_path: Path, reactor: Any, root: Path) -> None:
    other = tmp_path / "site-hooks"
    script(other / "node-add-pre.d", "10-slow", "exec sleep 30")
    plugin = HookScripts(hooks_dir=other, runner=ProcessRunner(reactor), timeout=0.3)
    with pytest.raises(HookVeto, match=r"killed after 0\.3 s"):
        await await_maybe(plugin.corral_opcode_pre(Op("OP_NODE_ADD"), {}, []))


@async_test
async def test_unreadable_pre_directory_vetoes(hooks: Path) -> None:
    hooks.mkdir(parents=True)
    (hooks / "instance-start-pre.d").write_text("not a directory")
    with pytest.raises(HookVeto) as caught:
        await await_maybe(HookScripts().corral_opcode_pre(Op("OP_INSTANCE_STARTUP"), ENV, []))
    assert f"{hooks}/instance-start-pre.d failed (no exit code):" in str(caught.value)
    assert "cannot list the hook scripts" in str(caught.value)


@async_test
async def test_other_nodes_run_their_scripts_and_an_unreachable_one_is_skipped(
    hooks: Path,
) -> None:
    """The master daemon's remote runner is a node call (tested on real daemons in
    tests/integration/test_instances.py); here, how the plugin uses its answers."""
    (hooks / "instance-start-pre.d").mkdir(parents=True)  # the master has the directory
    asked: list[tuple[str, str, str, str]] = []

    async def remote(node: str, path: str, phase: str, env: dict[str, str]) -> list[HookResult]:
        asked.append((node, path, phase, env["GANETI_INSTANCE_NAME"]))
        if node == "node3.example.com":
            raise CorralError("cannot connect")
        return [HookResult("10-check", HookStatus.FAIL, "frozen", 1)]

    plugin = HookScripts()
    plugin.remote = remote
    nodes = ["node1.example.com", "node2.example.com", "node3.example.com"]  # node1: master
    with pytest.raises(HookScriptVeto) as caught:
        await await_maybe(plugin.corral_opcode_pre(Op("OP_INSTANCE_STARTUP"), ENV, nodes))
    assert sorted(asked) == [
        ("node2.example.com", "instance-start", "pre", "web1.example.com"),
        ("node3.example.com", "instance-start", "pre", "web1.example.com"),
    ]
    assert "node2.example.com: instance-start-pre.d/10-check failed (exit 1)" in str(caught.value)
    assert "frozen" in str(caught.value) and "node3" not in str(caught.value)
