"""Running OS scripts for real: their environment, their log file, failures and cancellation."""

from __future__ import annotations

import os
import re
import time

import pytest
from twisted.internet import defer
from twisted.internet import task

from corral.api import ProcessRunner
from corral.osapi import OSAction
from corral.osapi import OSDisk
from corral.osapi import OSInstance
from corral.osapi import OSNic
from corral.osapi import OSProviderError
from corral.osapi import OSScriptError
from corral.osapi import action_environment
from corral.osapi import core_environment
from corral.osapi import load_provider
from corral.osapi import run_os_script
from corral.osapi import run_os_verify
from corral.osapi.runner import tail_lines
from corral.testing import async_test

#: Writes the exact environment it was started with, and its cwd, next to the log dir.
DUMP_ENV = """
tr '\\0' '\\n' < /proc/$$/environ > "$DUMP/env"
pwd > "$DUMP/cwd"
echo "$0 ran for $INSTANCE_NAME"
"""


def instance(tmp_path, name: str = "web1") -> OSInstance:
    disk = tmp_path / "disk0"
    if not disk.exists():
        disk.write_bytes(b"")
    return OSInstance(
        name,
        "testos",
        "fake",
        disks=[OSDisk(str(disk), template="file", file_driver="loop")],
        nics=[OSNic("aa:00:00:00:00:01", mode="bridged", link="br0")],
        osparams={"color": "blue"},
    )


def read_env(path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in path.read_text().splitlines())


@async_test
async def test_create_runs_in_the_provider_folder_with_exactly_its_environment(
    reactor, tmp_path, make_provider
) -> None:
    provider = load_provider(make_provider(scripts={"create": DUMP_ENV}))
    inst = instance(tmp_path)
    result = await run_os_script(
        provider,
        OSAction.CREATE,
        inst,
        ProcessRunner(reactor),
        tmp_path / "log",
        timeout=30,
        extra_env={"DUMP": str(tmp_path)},
    )
    assert result.ok, result.failure_message()
    expected = action_environment(provider, OSAction.CREATE, inst)
    assert read_env(tmp_path / "env") == {**expected, "DUMP": str(tmp_path)}
    assert (tmp_path / "cwd").read_text().strip() == str(provider.path)
    assert result.log_path is not None and result.log_path.parent == tmp_path / "log"
    assert re.fullmatch(r"add-testos-web1-\d{4}-\d\d-\d\d(_\d\d){3}\.log", result.log_path.name)
    assert result.log_path.read_text() == f"{provider.path}/create ran for web1\n"
    assert result.tail == [f"{provider.path}/create ran for web1"]
    assert result.check() is result


@async_test
async def test_a_failing_script_reports_the_last_lines_of_its_log(
    reactor, tmp_path, make_provider
) -> None:
    body = 'for i in $(seq 1 30); do echo "step $i"; done; echo "disk full" >&2; exit 3\n'
    provider = load_provider(make_provider(scripts={"create": body}))
    result = await run_os_script(
        provider, OSAction.CREATE, instance(tmp_path), ProcessRunner(reactor), tmp_path, 30
    )
    assert (result.ok, result.exit_code, result.status) == (False, 3, "exited with 3")
    assert result.tail == [f"step {i}" for i in range(12, 31)] + ["disk full"]
    with pytest.raises(OSScriptError) as caught:
        result.check()
    message = str(caught.value)
    assert message.startswith(
        "OS create script of testos for instance web1 failed (exited with 3),"
        f" last lines in the log file {result.log_path}:\nstep 12\n"
    )
    assert message.endswith("step 30\ndisk full")


@async_test
async def test_a_silent_failure_says_the_log_is_empty(reactor, tmp_path, make_provider) -> None:
    provider = load_provider(make_provider(scripts={"rename": "exit 1\n"}))
    result = await run_os_script(
        provider,
        OSAction.RENAME,
        instance(tmp_path, "new"),
        ProcessRunner(reactor),
        tmp_path,
        30,
        old_name="old",
    )
    assert result.log_path is not None and result.log_path.name.startswith("rename-testos-old-new-")
    assert result.failure_message() == (
        "OS rename script of testos for instance new failed (exited with 1)"
        f" and wrote nothing to the log file {result.log_path}"
    )


@async_test
async def test_two_runs_in_the_same_second_get_their_own_logs(
    reactor, tmp_path, make_provider
) -> None:
    provider = load_provider(make_provider())
    runner = ProcessRunner(reactor)
    inst = instance(tmp_path)
    first = await run_os_script(provider, OSAction.CREATE, inst, runner, tmp_path / "l", 30)
    second = await run_os_script(provider, OSAction.CREATE, inst, runner, tmp_path / "l", 30)
    assert first.log_path != second.log_path
    assert len(list((tmp_path / "l").iterdir())) == 2


@async_test
async def test_export_writes_the_stream_and_import_reads_it(
    reactor, tmp_path, make_provider
) -> None:
    scripts = {
        "export": 'echo "exporting $EXPORT_INDEX" >&2; cat "$EXPORT_DEVICE"\n',
        "import": 'echo "importing $IMPORT_INDEX"; cat > "$IMPORT_DEVICE"\n',
    }
    provider = load_provider(make_provider(scripts=scripts))
    runner = ProcessRunner(reactor)
    source = instance(tmp_path)
    (tmp_path / "disk0").write_bytes(b"\x00disk data\xff" * 1000)
    dump = tmp_path / "dump"
    exported = await run_os_script(
        provider, OSAction.EXPORT, source, runner, tmp_path, 30, disk_index=0, stream=dump
    )
    assert exported.ok and exported.tail == ["exporting 0"]
    assert dump.read_bytes() == (tmp_path / "disk0").read_bytes()
    target_dir = tmp_path / "target"
    target_dir.mkdir()
    target = instance(target_dir, "web2")
    imported = await run_os_script(
        provider, OSAction.IMPORT, target, runner, tmp_path, 30, disk_index=0, stream=dump
    )
    assert imported.ok and imported.tail == ["importing 0"]
    assert "import-testos-web2-disk0-" in str(imported.log_path)
    assert (target_dir / "disk0").read_bytes() == dump.read_bytes()
    with pytest.raises(OSProviderError, match="needs a stream to write the disk to"):
        await run_os_script(provider, OSAction.EXPORT, source, runner, tmp_path, 30, disk_index=0)


@async_test
async def test_a_script_over_its_timeout_is_stopped(reactor, tmp_path, make_provider) -> None:
    provider = load_provider(make_provider(scripts={"create": "echo starting; exec sleep 30\n"}))
    started = time.monotonic()
    result = await run_os_script(
        provider, OSAction.CREATE, instance(tmp_path), ProcessRunner(reactor), tmp_path, 0.5
    )
    assert time.monotonic() - started < 10
    assert (result.timed_out, result.status, result.tail) == (True, "timed out", ["starting"])


@async_test
async def test_cancelling_the_run_stops_the_script(reactor, tmp_path, make_provider) -> None:
    body = 'echo $$ > "$DUMP/pid"; exec sleep 30\n'
    provider = load_provider(make_provider(scripts={"create": body}))
    run = defer.ensureDeferred(
        run_os_script(
            provider,
            OSAction.CREATE,
            instance(tmp_path),
            ProcessRunner(reactor),
            tmp_path,
            None,
            extra_env={"DUMP": str(tmp_path)},
        )
    )
    pid_file = tmp_path / "pid"
    for _ in range(100):
        if pid_file.exists() and pid_file.read_text().strip():
            break
        await task.deferLater(reactor, 0.05, lambda: None)
    pid = int(pid_file.read_text())
    run.cancel()
    with pytest.raises(defer.CancelledError):
        await run
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


@async_test
async def test_verify_gets_the_core_environment_and_the_parameters_check(
    reactor, tmp_path, make_provider
) -> None:
    body = 'tr "\\0" "\\n" < /proc/$$/environ > "$OSP_DUMP"; echo "args: $*"\n'
    provider = load_provider(
        make_provider(
            scripts={"verify": body},
            files={"parameters.list": "dump where\n", "variants.list": "a\n"},
        )
    )
    dump = tmp_path / "env"
    result = await run_os_verify(
        provider, "testos+a", {"dump": str(dump)}, ProcessRunner(reactor), 30
    )
    assert result.ok and result.tail == ["args: parameters"] and result.log_path is None
    assert read_env(dump) == core_environment(provider, "testos+a", {"dump": str(dump)})


@async_test
async def test_verify_failure_carries_its_message(reactor, make_provider) -> None:
    body = "echo \"Invalid value '$OSP_DHCP' for the dhcp parameter\" >&2; exit 1\n"
    provider = load_provider(
        make_provider(scripts={"verify": body}, files={"parameters.list": "dhcp x\n"})
    )
    result = await run_os_verify(provider, "testos", {"dhcp": "maybe"}, ProcessRunner(reactor), 30)
    with pytest.raises(OSScriptError, match="for the dhcp parameter"):
        result.check()
    assert result.failure_message() == (
        "OS verify script of testos failed (exited with 1), last lines in its output:\n"
        "Invalid value 'maybe' for the dhcp parameter"
    )


@async_test
async def test_verify_refuses_bad_names_and_parameters_before_running(
    reactor, tmp_path, make_provider
) -> None:
    marker = tmp_path / "ran"
    provider = load_provider(
        make_provider(
            scripts={"verify": f"touch {marker}\n"},
            files={"variants.list": "a\n", "parameters.list": "dhcp x\n"},
        )
    )
    runner = ProcessRunner(reactor)
    with pytest.raises(OSProviderError, match="must include a variant"):
        await run_os_verify(provider, "testos", {}, runner, 30)
    with pytest.raises(OSProviderError, match="not supported by the OS testos: size"):
        await run_os_verify(provider, "testos+a", {"size": "1"}, runner, 30)
    assert not marker.exists()
    old = load_provider(make_provider("old", api="15\n", drop=["verify", "parameters.list"]))
    skipped = await run_os_verify(old, "old", {}, runner, 30)
    assert skipped.ok and skipped.argv == []


def test_the_tail_splits_redrawn_progress_lines_and_drops_trailing_blanks() -> None:
    text = (
        "start\n  (10.00/100%)\r  (55.00/100%)\r\n" + "".join(f"{i}\n" for i in range(30)) + "\n\n"
    )
    assert tail_lines(text, 3) == ["27", "28", "29"]
    assert tail_lines("a\r b\r\n\n") == ["a", " b"]
    assert tail_lines("") == []
