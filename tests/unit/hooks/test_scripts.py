"""run_hooks with real scripts: order, names, environment, output, failures, timeouts."""

from __future__ import annotations

import tempfile
import time
from typing import TYPE_CHECKING
from typing import Any

import pytest

from corral import paths
from corral.api import ProcessRunner
from corral.hooks.environment import Phase
from corral.hooks.environment import build_env
from corral.hooks.scripts import HookResult
from corral.hooks.scripts import HookStatus
from corral.hooks.scripts import phase_dir
from corral.hooks.scripts import run_hooks
from corral.hooks.table import HOOKS_PATHS
from corral.hooks.table import ObjectType
from corral.hooks.table import hooks_path
from corral.testing import async_test

if TYPE_CHECKING:
    from pathlib import Path


def script(folder: Path, name: str, body: str, mode: int = 0o755) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(mode)
    return path


@pytest.fixture
def runner(reactor: Any) -> ProcessRunner:
    return ProcessRunner(reactor)


@pytest.fixture
def hooks(tmp_path: Path) -> Path:
    return tmp_path / "hooks"


@pytest.fixture
def pre_d(hooks: Path) -> Path:
    return hooks / "instance-start-pre.d"


def statuses(results: list[HookResult]) -> list[tuple[str, HookStatus]]:
    return [(r.name, r.status) for r in results]


def test_phase_dir_is_ganetis_layout(hooks: Path) -> None:
    assert phase_dir(hooks, "instance-start", "pre") == str(hooks / "instance-start-pre.d")
    assert phase_dir(hooks, "node-add", Phase.POST) == str(hooks / "node-add-post.d")
    with pytest.raises(ValueError, match="during"):
        phase_dir(hooks, "node-add", "during")


def test_hooks_dir_is_below_the_root_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CORRAL_ROOTDIR", str(tmp_path))
    assert paths.hooks_dir() == tmp_path / "etc/corral/hooks"


def test_table_has_hooks_rst_paths() -> None:
    assert hooks_path("OP_INSTANCE_STARTUP") == HOOKS_PATHS["OP_INSTANCE_STARTUP"]
    start = HOOKS_PATHS["OP_INSTANCE_STARTUP"]
    assert (start.path, start.object_type, start.pre) == (
        "instance-start",
        ObjectType.INSTANCE,
        True,
    )
    assert HOOKS_PATHS["OP_INSTANCE_REPLACE_DISKS"].path == "mirrors-replace"
    assert HOOKS_PATHS["OP_INSTANCE_GROW_DISK"].path == "disk-grow"
    assert HOOKS_PATHS["OP_CLUSTER_VERIFY_GROUP"].pre is False
    assert hooks_path("OP_TEST_DELAY") is None
    assert all(p.path.replace("-", "").isalpha() for p in HOOKS_PATHS.values())


@async_test
async def test_scripts_run_in_sorted_order(
    hooks: Path, pre_d: Path, runner: ProcessRunner, tmp_path: Path
) -> None:
    log = tmp_path / "order.log"
    for name in ("20-second", "10-first", "99_last", "30-Third", "30-third"):
        script(pre_d, name, f"echo {name} >> {log}")
    results = await run_hooks(hooks, "instance-start", "pre", {}, runner, 10)
    expected = ["10-first", "20-second", "30-Third", "30-third", "99_last"]
    assert log.read_text().split() == expected
    assert statuses(results) == [(n, HookStatus.SUCCESS) for n in expected]


@async_test
async def test_only_executable_files_with_ganeti_names_run(
    hooks: Path, pre_d: Path, runner: ProcessRunner, tmp_path: Path
) -> None:
    log = tmp_path / "ran.log"
    for name in ("ok_1-A", "foo.dpkg-old", "check.sh", "with space", ".hidden"):
        script(pre_d, name, f"echo '{name}' >> {log}")
    script(pre_d, "not-executable", f"echo no >> {log}", mode=0o644)
    (pre_d / "a-directory").mkdir()
    (pre_d / "dangling").symlink_to(tmp_path / "nowhere")
    results = await run_hooks(hooks, "instance-start", Phase.PRE, {}, runner, 10)
    assert log.read_text() == "ok_1-A\n"
    by_name = {r.name: r for r in results}
    assert by_name.pop("ok_1-A").status is HookStatus.SUCCESS
    assert {r.status for r in by_name.values()} == {HookStatus.SKIP}
    skipped = {".hidden", "a-directory", "check.sh", "dangling", "foo.dpkg-old"}
    assert set(by_name) == skipped | {"not-executable", "with space"}
    assert "does not match" in by_name["foo.dpkg-old"].output
    assert by_name["not-executable"].output == "skipped: not executable"
    assert by_name["a-directory"].output == "skipped: not a regular file"


@async_test
async def test_environment_is_ganetis_and_nothing_else(
    hooks: Path, runner: ProcessRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CORRAL_SECRET_OF_THE_DAEMON", "leaked")
    post_d = hooks / "instance-start-post.d"
    script(post_d, "env", "env")
    env = build_env(
        op_id="OP_INSTANCE_STARTUP",
        object_type="INSTANCE",
        phase=Phase.POST,
        lu_env={"GANETI_OP_CODE": "OP_INSTANCE_STARTUP", "GANETI_INSTANCE_NAME": "web1"},
        cluster="cluster1.example.com",
        master="node1.example.com",
        data_dir=tmp_path / "data",
    )
    env["HOME"] = "/root"  # not GANETI_*: dropped
    [result] = await run_hooks(hooks, "instance-start", "post", env, runner, 10)
    assert result.status is HookStatus.SUCCESS and result.exit_code == 0
    seen = dict(line.split("=", 1) for line in result.output.splitlines())
    shell_own = {"PWD", "SHLVL", "_", "OLDPWD"}
    assert {k: v for k, v in seen.items() if k not in shell_own} == {
        "GANETI_HOOKS_VERSION": "2",
        "GANETI_HOOKS_PHASE": "post",
        "GANETI_HOOKS_PATH": "instance-start",
        "GANETI_OP_CODE": "OP_INSTANCE_STARTUP",
        "GANETI_OBJECT_TYPE": "INSTANCE",
        "GANETI_DATA_DIR": str(tmp_path / "data"),
        "GANETI_CLUSTER": "cluster1.example.com",
        "GANETI_MASTER": "node1.example.com",
        "GANETI_INSTANCE_NAME": "web1",
        "GANETI_POST_INSTANCE_NAME": "web1",
        "PATH": "/sbin:/bin:/usr/sbin:/usr/bin",
    }


def test_pre_env_has_no_post_variables_and_post_env_can_differ() -> None:
    common: dict[str, Any] = {
        "op_id": "OP_NODE_SET_PARAMS",
        "object_type": "NODE",
        "lu_env": {"GANETI_OFFLINE": "False", "GANETI_OP_CODE": "OP_NODE_SET_PARAMS"},
        "cluster": "c",
        "master": "m",
        "data_dir": "/var/lib/corral",
    }
    pre = build_env(phase=Phase.PRE, **common)
    assert not [k for k in pre if k.startswith("GANETI_POST_")]
    post = build_env(phase=Phase.POST, post_env={"GANETI_OFFLINE": "True"}, **common)
    assert (post["GANETI_OFFLINE"], post["GANETI_POST_OFFLINE"]) == ("False", "True")
    assert "GANETI_POST_OP_CODE" not in post


@async_test
async def test_output_and_exit_code_are_captured_without_stdin(
    hooks: Path, pre_d: Path, runner: ProcessRunner
) -> None:
    script(pre_d, "10-talk", "echo out; echo err >&2; cat; exit 3")
    [result] = await run_hooks(hooks, "instance-start", "pre", {}, runner, 10)
    assert (result.status, result.exit_code) == (HookStatus.FAIL, 3)
    assert result.output == "out\nerr"


@async_test
async def test_every_script_runs_after_a_failure(
    hooks: Path, pre_d: Path, runner: ProcessRunner
) -> None:
    script(pre_d, "10-deny", "echo no; exit 1")
    script(pre_d, "20-fine", "echo yes")
    results = await run_hooks(hooks, "instance-start", "pre", {}, runner, 10)
    assert statuses(results) == [("10-deny", HookStatus.FAIL), ("20-fine", HookStatus.SUCCESS)]


@async_test
async def test_script_that_cannot_start_fails(
    hooks: Path, pre_d: Path, runner: ProcessRunner
) -> None:
    path = pre_d / "10-bad-interpreter"
    pre_d.mkdir(parents=True)
    path.write_text("#!/nonexistent/interpreter\n")
    path.chmod(0o755)
    [result] = await run_hooks(hooks, "instance-start", "pre", {}, runner, 10)
    assert result.status is HookStatus.FAIL
    assert result.exit_code not in (0, None)
    assert "10-bad-interpreter" in result.output


@async_test
async def test_timeout_kills_the_script(hooks: Path, pre_d: Path, runner: ProcessRunner) -> None:
    script(pre_d, "10-slow", "echo started; exec sleep 30")
    started = time.monotonic()
    [result] = await run_hooks(hooks, "instance-start", "pre", {}, runner, 0.5)
    assert time.monotonic() - started < 5
    assert result.status is HookStatus.FAIL and result.exit_code is None
    assert result.output.startswith("started\n")
    assert "killed after 0.5 s" in result.output


@async_test
async def test_a_child_left_behind_does_not_hold_the_run(
    hooks: Path, pre_d: Path, runner: ProcessRunner
) -> None:
    """The script ends; a background process it started keeps its output open."""
    script(pre_d, "10-daemonize", "sleep 3 & echo detached")
    started = time.monotonic()
    [result] = await run_hooks(hooks, "instance-start", "pre", {}, runner, 10)
    assert time.monotonic() - started < 2.5
    assert (result.status, result.output) == (HookStatus.SUCCESS, "detached")


@async_test
async def test_missing_directory_means_no_scripts(hooks: Path, runner: ProcessRunner) -> None:
    assert await run_hooks(hooks, "instance-start", "pre", {}, runner, 10) == []
    hooks.mkdir()
    assert await run_hooks(hooks, "instance-start", "pre", {}, runner, 10) == []


@async_test
async def test_unreadable_directory_is_a_failure(
    hooks: Path, pre_d: Path, runner: ProcessRunner
) -> None:
    hooks.mkdir()
    pre_d.write_text("a file where the directory should be")
    [result] = await run_hooks(hooks, "instance-start", "pre", {}, runner, 10)
    assert (result.name, result.status) == ("instance-start-pre.d", HookStatus.FAIL)
    assert str(pre_d) in result.output and "cannot list" in result.output


@async_test
async def test_output_is_cut_to_its_end(hooks: Path, pre_d: Path, runner: ProcessRunner) -> None:
    script(pre_d, "10-chatty", "yes line | head -n 20000; echo the-end")
    [result] = await run_hooks(hooks, "instance-start", "pre", {}, runner, 10)
    assert result.output.startswith("[first part of the output cut")
    assert result.output.endswith("line\nthe-end")
    assert len(result.output) < 70 * 1024


@async_test
async def test_no_output_file_is_left(
    hooks: Path, pre_d: Path, runner: ProcessRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    script(pre_d, "10-ok", "echo fine")
    script(pre_d, "20-slow", "exec sleep 30")
    results = await run_hooks(hooks, "instance-start", "pre", {}, runner, 0.3)
    assert statuses(results) == [("10-ok", HookStatus.SUCCESS), ("20-slow", HookStatus.FAIL)]
    assert list(scratch.iterdir()) == []
