"""Debian's real OS providers, unchanged, are valid corral OS providers and run under it.

ganeti-os-noop declares API 5 and 10 and ships no verify script;
ganeti-instance-debootstrap declares 20, 15, 10 and 5, lists its variants
through a symlink to /etc and declares one parameter. Both come from the
Debian packages the ganeti-reference tool unpacks.
"""

from __future__ import annotations

import pytest

from corral.api import ProcessRunner
from corral.osapi import OSAction
from corral.osapi import OSDisk
from corral.osapi import OSInstance
from corral.osapi import OSParameter
from corral.osapi import OSProvider
from corral.osapi import OSScriptError
from corral.osapi import OSSearch
from corral.osapi import run_os_script
from corral.osapi import run_os_verify
from corral.testing import async_test


def test_both_debian_providers_are_valid_with_their_variants_and_parameters(
    debian_os_dir,
) -> None:
    found = {f.name: f for f in OSSearch([debian_os_dir]).diagnose()}
    assert set(found) == {"noop", "debootstrap"}
    noop, debootstrap = found["noop"], found["debootstrap"]
    assert isinstance(noop, OSProvider), getattr(noop, "diagnosis", "")
    assert isinstance(debootstrap, OSProvider), getattr(debootstrap, "diagnosis", "")

    assert (noop.api_versions, noop.api_version) == ((5, 10), 10)
    assert (noop.variants, noop.parameters) == ((), ())
    assert set(noop.scripts) == {"create", "import", "export", "rename"}

    assert (debootstrap.api_versions, debootstrap.api_version) == ((20, 15, 10, 5), 20)
    assert debootstrap.variants == ("default",)
    assert debootstrap.parameters == (
        OSParameter(
            "filesystem",
            "The filesystem type to use for the root partition. This has to be a"
            " filesystem type supported by ``mke2fs``. The default is 'ext4'.",
        ),
    )
    assert set(debootstrap.scripts) == {"create", "import", "export", "rename", "verify"}
    debootstrap.check_os_name("debootstrap+default")
    assert debootstrap.variant_for("debootstrap") == "default"


@async_test
async def test_debootstraps_own_verify_script_checks_its_parameter(reactor, debian_os_dir) -> None:
    provider = OSSearch([debian_os_dir]).find("debootstrap")
    runner = ProcessRunner(reactor)
    good = await run_os_verify(provider, "debootstrap+default", {"filesystem": "ext4"}, runner, 30)
    assert good.ok, good.failure_message()
    bad = await run_os_verify(provider, "debootstrap+default", {"filesystem": "xfs"}, runner, 30)
    assert not bad.ok
    assert bad.tail == ["Invalid value 'xfs' for the filesystem parameter"]


@async_test
async def test_debian_noop_creates_and_exports_an_instance(
    reactor, tmp_path, debian_os_dir
) -> None:
    provider = OSSearch([debian_os_dir]).find("noop")
    disk = tmp_path / "disk0"
    disk.write_bytes(b"noop data" * 500)
    inst = OSInstance("web1", "noop", "fake", disks=[OSDisk(str(disk), template="file")])
    runner = ProcessRunner(reactor)
    created = await run_os_script(provider, OSAction.CREATE, inst, runner, tmp_path / "log", 30)
    assert created.check().tail == []
    dump = tmp_path / "dump"
    exported = await run_os_script(
        provider, OSAction.EXPORT, inst, runner, tmp_path / "log", 30, disk_index=0, stream=dump
    )
    assert exported.ok, exported.failure_message()
    assert dump.read_bytes() == disk.read_bytes()


@async_test
async def test_a_failing_debian_script_reports_its_output(reactor, tmp_path, debian_os_dir) -> None:
    """Debian's noop export of a missing device fails; dd's message reaches the operator."""
    provider = OSSearch([debian_os_dir]).find("noop")
    inst = OSInstance("web1", "noop", "fake", disks=[OSDisk(str(tmp_path / "gone"))])
    result = await run_os_script(
        provider,
        OSAction.EXPORT,
        inst,
        ProcessRunner(reactor),
        tmp_path,
        30,
        disk_index=0,
        stream=tmp_path / "dump",
    )
    with pytest.raises(OSScriptError) as caught:
        result.check()
    assert "failed (exited with 1), last lines in the log file" in str(caught.value)
    assert f"{tmp_path / 'gone'}': No such file or directory" in str(caught.value)
