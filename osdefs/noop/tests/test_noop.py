"""The noop OS: found through its entry point, valid, and its scripts do what they say."""

from __future__ import annotations

import os

import pytest

from corral.api import DriverContext
from corral.api import ProcessRunner
from corral.osapi import OSAction
from corral.osapi import OSDisk
from corral.osapi import OSInstance
from corral.osapi import OSSearch
from corral.osapi import run_os_script
from corral.osapi import run_os_verify
from corral.plugins.registry import DriverRegistry
from corral.plugins.registry import installed
from corral.testing import async_test


@pytest.fixture
def provider(tmp_path):
    registry = DriverRegistry(DriverContext.create(None, tmp_path / "state"))
    return OSSearch([], registry).find("noop")


def instance(disk, name="web1") -> OSInstance:
    return OSInstance(name, "noop", "fake", disks=[OSDisk(str(disk), template="file")])


def test_the_entry_point_gives_a_valid_api20_provider(provider) -> None:
    (entry,) = [p for p in installed("corral.osdefs") if p.name == "noop"]
    assert entry.distribution == "corral-os-noop"
    assert provider.source.startswith("corral-os-noop ")
    assert (provider.api_versions, provider.variants, provider.parameters) == ((20,), (), ())
    assert set(provider.scripts) == {"create", "import", "export", "rename", "verify"}
    assert all(os.access(script, os.X_OK) for script in provider.scripts.values())


@async_test
async def test_create_and_rename_leave_the_disk_alone(reactor, tmp_path, provider) -> None:
    disk = tmp_path / "disk0"
    disk.write_bytes(b"keep me")
    runner = ProcessRunner(reactor)
    created = await run_os_script(
        provider, OSAction.CREATE, instance(disk), runner, tmp_path, 30, reinstall=True
    )
    assert created.check().tail == [
        "noop: nothing to reinstall for web1; its 1 disk(s) are left as they are"
    ]
    renamed = await run_os_script(
        provider, OSAction.RENAME, instance(disk, "web2"), runner, tmp_path, 30, old_name="web1"
    )
    assert renamed.check().tail == ["noop: web1 is now web2; the guest itself was not changed"]
    assert disk.read_bytes() == b"keep me"


@async_test
async def test_export_then_import_copies_the_disk(reactor, tmp_path, provider) -> None:
    source, target, dump = tmp_path / "a", tmp_path / "b", tmp_path / "dump"
    data = os.urandom(3 * 1024 * 1024 + 123)
    source.write_bytes(data)
    target.write_bytes(b"\xff" * len(data))
    runner = ProcessRunner(reactor)
    exported = await run_os_script(
        provider, OSAction.EXPORT, instance(source), runner, tmp_path, 30, disk_index=0, stream=dump
    )
    exported.check()
    imported = await run_os_script(
        provider, OSAction.IMPORT, instance(target), runner, tmp_path, 30, disk_index=0, stream=dump
    )
    imported.check()
    assert target.read_bytes() == data


@async_test
async def test_verify_accepts_the_parameters_check_only(reactor, provider) -> None:
    runner = ProcessRunner(reactor)
    assert (await run_os_verify(provider, "noop", {}, runner, 30)).ok
    script = str(provider.script(OSAction.VERIFY))
    other = await runner.run([script, "disks"], env={"PATH": "/bin:/usr/bin"})
    assert other.exit_code == 1
    assert other.stderr == "verify: unknown check 'disks' (this OS knows: parameters)\n"
    usage = await runner.run([script, "--help"], env={"PATH": "/bin:/usr/bin"})
    assert usage.ok and usage.stdout == f"usage: {script} parameters\n"
