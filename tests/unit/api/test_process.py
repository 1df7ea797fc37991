"""ProcessRunner: real child processes on the reactor, never blocking it."""

from __future__ import annotations

import os
import time

import pytest
from twisted.internet import defer
from twisted.internet import task

from corral.api import CommandError
from corral.api import ProcessRunner
from corral.api import process
from corral.testing import async_test


@async_test
async def test_collects_exit_code_and_both_streams(reactor) -> None:
    result = await ProcessRunner(reactor).run(["/bin/sh", "-c", "echo out; echo err >&2; exit 3"])
    assert (result.exit_code, result.stdout, result.stderr, result.ok) == (
        3,
        "out\n",
        "err\n",
        False,
    )


@async_test
async def test_check_raises_naming_the_command_and_its_message(reactor) -> None:
    result = await ProcessRunner(reactor).run(["/bin/sh", "-c", "echo 'disk full' >&2; exit 1"])
    with pytest.raises(CommandError, match=r"command `/bin/sh -c .*` exited with 1: disk full"):
        result.check()


@async_test
async def test_timeout_kills_the_process(reactor) -> None:
    result = await ProcessRunner(reactor).run(["/bin/sleep", "30"], timeout=0.2)
    assert result.timed_out and result.exit_code is None and not result.ok
    with pytest.raises(CommandError, match="was killed"):
        result.check()


@async_test
async def test_environment_is_replaced_when_given(reactor) -> None:
    result = await ProcessRunner(reactor).run(["/usr/bin/env"], env={"OS_NAME": "noop"})
    assert result.stdout.splitlines() == ["OS_NAME=noop"]


@async_test
async def test_stdin_and_cwd(reactor, tmp_path) -> None:
    result = await ProcessRunner(reactor).run(
        ["/bin/sh", "-c", "cat; pwd"], stdin=b"data\n", cwd=str(tmp_path)
    )
    assert result.stdout == f"data\n{tmp_path}\n"


@async_test
async def test_reactor_keeps_running_while_a_child_works(reactor) -> None:
    ticks = []
    loop = task.LoopingCall(lambda: ticks.append(1))
    loop.start(0.02)
    try:
        await ProcessRunner(reactor).run(["/bin/sleep", "0.3"])
    finally:
        loop.stop()
    assert len(ticks) >= 5


async def _started(reactor, pid_file) -> int:
    """The pid a child wrote to ``pid_file``, once it has."""
    for _ in range(500):
        if pid_file.exists() and pid_file.read_text().strip():
            return int(pid_file.read_text())
        await task.deferLater(reactor, 0.01, lambda: None)
    raise AssertionError("the child did not start")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@async_test
async def test_cancel_terminates_the_child_before_raising(reactor, tmp_path) -> None:
    pid_file = tmp_path / "pid"
    run = defer.Deferred.fromCoroutine(
        ProcessRunner(reactor).run(["/bin/sh", "-c", f"echo $$ > {pid_file}; exec sleep 30"])
    )
    pid = await _started(reactor, pid_file)
    run.cancel()
    with pytest.raises(defer.CancelledError):
        await run
    assert not _alive(pid)  # reaped before the cancellation came through


@async_test
async def test_cancel_kills_a_child_that_ignores_sigterm(reactor, tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(process, "KILL_GRACE", 0.3)
    pid_file = tmp_path / "pid"
    script = f"trap '' TERM; echo $$ > {pid_file}; exec sleep 30"
    run = defer.Deferred.fromCoroutine(ProcessRunner(reactor).run(["/bin/sh", "-c", script]))
    pid = await _started(reactor, pid_file)
    started = time.monotonic()
    run.cancel()
    with pytest.raises(defer.CancelledError):
        await run
    assert 0.3 <= time.monotonic() - started < 5
    assert not _alive(pid)


@async_test
async def test_a_second_cancel_kills_at_once(reactor, tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(process, "KILL_GRACE", 60.0)
    pid_file = tmp_path / "pid"
    script = f"trap '' TERM; echo $$ > {pid_file}; exec sleep 30"
    run = defer.Deferred.fromCoroutine(ProcessRunner(reactor).run(["/bin/sh", "-c", script]))
    pid = await _started(reactor, pid_file)
    ended: list[object] = []

    def seen(result: object) -> object:
        ended.append(result)
        return result

    run.addBoth(seen)
    run.cancel()
    await task.deferLater(reactor, 0.1, lambda: None)
    assert _alive(pid) and not ended  # SIGTERM ignored; the run waits for the child
    run.cancel()
    with pytest.raises(defer.CancelledError):
        await run
    assert not _alive(pid)
