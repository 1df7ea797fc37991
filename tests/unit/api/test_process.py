"""ProcessRunner: real child processes on the reactor, never blocking it."""

from __future__ import annotations

import pytest

from corral.api import CommandError
from corral.api import ProcessRunner
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
    from twisted.internet import task

    ticks = []
    loop = task.LoopingCall(lambda: ticks.append(1))
    loop.start(0.02)
    try:
        await ProcessRunner(reactor).run(["/bin/sleep", "0.3"])
    finally:
        loop.stop()
    assert len(ticks) >= 5
