"""Behaviour of the fake hypervisor beyond the conformance suite.

The vcluster and the core's tests rely on these details: memory limits
from node.json, state that survives a node daemon restart, the
fault-injection parameters, and clear errors about broken state files.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
from typing import TYPE_CHECKING
from typing import Any

import pytest
from corral_hv_fake import driver as fake_driver
from corral_hv_fake.driver import CorruptStateError
from corral_hv_fake.driver import FakeHypervisor
from twisted.internet import defer
from twisted.logger import Logger

from corral.api import BlockDevice
from corral.api import DriverContext
from corral.api import HypervisorError
from corral.api import InstanceSpec
from corral.api import InstanceState
from corral.api import NicSpec
from corral.api import ParameterError
from corral.api import ProcessRunner
from corral.testing import async_test

if TYPE_CHECKING:
    from pathlib import Path

NODE = "node1.example.com"


def spec(name: str = "web1", memory: int = 128, vcpus: int = 1, **hvparams: Any) -> InstanceSpec:
    return InstanceSpec(
        name=name,
        uuid=f"uuid-{name}",
        memory=memory,
        vcpus=vcpus,
        hvparams=hvparams,
        nics=(NicSpec(uuid=f"nic-{name}", mac="aa:00:00:00:00:01"),),
    )


def write_node(ctx: DriverContext, **resources: Any) -> None:
    path = ctx.driver_dir("hypervisors", "fake") / "node.json"
    path.write_text(json.dumps(resources))


@pytest.fixture
def hv(driver_context: DriverContext) -> FakeHypervisor:
    write_node(driver_context, memory_total=1024, cpu_total=4, memory_dom0=256)
    return FakeHypervisor(driver_context)


@pytest.fixture
def log_events() -> list[dict[str, Any]]:
    return []


@pytest.fixture
def logged_hv(driver_context: DriverContext, log_events: list[dict[str, Any]]) -> FakeHypervisor:
    ctx = DriverContext(
        driver_context.reactor,
        driver_context.state_dir,
        ProcessRunner(driver_context.reactor),
        NODE,
        log=Logger(namespace="test", observer=log_events.append),
    )
    return FakeHypervisor(ctx)


def instance_file(hv: FakeHypervisor, name: str) -> Path:
    return hv.instances_dir / f"{name}.json"


def test_registered_under_its_entry_point() -> None:
    (ep,) = importlib.metadata.entry_points(group="corral.hypervisors", name="fake")
    assert ep.load() is FakeHypervisor
    assert FakeHypervisor.name == "fake" and FakeHypervisor.CAN_MIGRATE


# -- memory and the node ----------------------------------------------------------


@async_test
async def test_node_json_sets_the_nodes_resources(hv: FakeHypervisor) -> None:
    info = await hv.node_info()
    assert (info.memory_total, info.memory_dom0, info.memory_free, info.cpu_total) == (
        1024,
        256,
        768,
        4,
    )
    await hv.start(spec("a", memory=300))
    await hv.start(spec("b", memory=200, vcpus=8), paused=True)  # vcpus may be overcommitted
    assert (await hv.node_info()).memory_free == 268


@async_test
async def test_start_refused_when_memory_does_not_fit(hv: FakeHypervisor) -> None:
    await hv.start(spec("a", memory=512))
    with pytest.raises(HypervisorError) as caught:
        await hv.start(spec("b", memory=512))
    assert str(caught.value) == (
        f"not enough memory on node {NODE}: instance b needs 512 MiB, 256 MiB free"
    )
    assert await hv.list_instances() == ["a"]
    await hv.start(spec("b", memory=256))  # exactly what is left fits
    assert (await hv.node_info()).memory_free == 0


@async_test
async def test_host_memory_without_node_json(
    driver_context: DriverContext, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal:        2097152 kB\nMemFree:          100000 kB\n")
    monkeypatch.setattr(fake_driver, "MEMINFO", meminfo)
    hv = FakeHypervisor(driver_context)
    info = await hv.node_info()
    assert (info.memory_total, info.memory_dom0, info.memory_free) == (2048, 0, 2048)
    assert info.cpu_total == os.cpu_count()
    # node.json may set only some keys; the rest still come from the host.
    write_node(driver_context, memory_dom0=48)
    info = await hv.node_info()
    assert (info.memory_total, info.memory_dom0, info.memory_free) == (2048, 48, 2000)


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("{", "is not JSON"),
        ("[1024]", "must hold an object"),
        ('{"memory_totl": 1024}', "unknown key 'memory_totl'"),
        ('{"memory_total": "1G"}', "memory_total must be an integer >= 1, not '1G'"),
        ('{"cpu_total": 0}', "cpu_total must be an integer >= 1, not 0"),
        ('{"memory_total": 512, "memory_dom0": 1024}', "memory_dom0 is larger than memory_total"),
    ],
)
@async_test
async def test_bad_node_json_names_the_file(
    driver_context: DriverContext, content: str, problem: str
) -> None:
    hv = FakeHypervisor(driver_context)
    hv.state_dir.mkdir(parents=True)
    hv.node_file.write_text(content)
    with pytest.raises(HypervisorError, match=str(hv.node_file)) as caught:
        await hv.node_info()
    assert problem in str(caught.value)
    with pytest.raises(HypervisorError, match=problem):
        await hv.start(spec())
    assert any(problem in p for p in await hv.verify())


@async_test
async def test_missing_disk_is_refused_naming_its_path(hv: FakeHypervisor, tmp_path: Path) -> None:
    present = tmp_path / "disk0"
    present.touch()
    missing = tmp_path / "disk1"
    inst = InstanceSpec(
        name="web1",
        uuid="u1",
        memory=128,
        vcpus=1,
        disks=(BlockDevice("d0", str(present)), BlockDevice("d1", str(missing))),
    )
    with pytest.raises(HypervisorError, match=f"disk/1 path {missing} does not exist"):
        await hv.start(inst)
    assert await hv.list_instances() == []
    missing.touch()
    await hv.start(inst)
    record = json.loads(instance_file(hv, "web1").read_text())
    assert record["disks"] == [str(present), str(missing)]


@async_test
async def test_invalid_instance_names_are_refused(hv: FakeHypervisor) -> None:
    for name in ("../escape", ".hidden", ""):
        with pytest.raises(HypervisorError, match="not a valid instance name"):
            await hv.start(spec(name))


# -- state on disk ----------------------------------------------------------------


@async_test
async def test_state_survives_a_daemon_restart(
    hv: FakeHypervisor, driver_context: DriverContext
) -> None:
    await hv.start(spec("web1", memory=200, vcpus=2, boot_delay=0.0))
    await hv.start(spec("web2"), paused=True)
    restarted = FakeHypervisor(
        DriverContext.create(driver_context.reactor, driver_context.state_dir, NODE)
    )
    assert await restarted.list_instances() == ["web1", "web2"]
    web1 = await restarted.instance_info("web1")
    assert web1 is not None
    assert (web1.state, web1.memory, web1.vcpus) == (InstanceState.RUNNING, 200, 2)
    web2 = await restarted.instance_info("web2")
    assert web2 is not None and web2.state == InstanceState.PAUSED
    assert (await restarted.node_info()).memory_free == 768 - 328
    await restarted.stop(spec("web1"))
    assert await hv.list_instances() == ["web2"]


@async_test
async def test_the_kept_listing_follows_every_change_of_the_state_directory(
    hv: FakeHypervisor, driver_context: DriverContext
) -> None:
    """Two processes on one state directory (a daemon restart racing an old one, or
    an operator's copy): each sees the other's records, kept listing or not."""
    other = FakeHypervisor(
        DriverContext.create(driver_context.reactor, driver_context.state_dir, NODE)
    )
    await hv.start(spec("web1"))
    assert await hv.list_instances() == ["web1"]  # the listing is kept from here on
    await other.start(spec("web2"))
    assert await hv.list_instances() == ["web1", "web2"]
    await hv.start(spec("web3"))  # its own write updates the kept listing
    assert await hv.list_instances() == ["web1", "web2", "web3"]
    assert await other.list_instances() == ["web1", "web2", "web3"]
    await other.stop(spec("web1"))
    assert await hv.list_instances() == ["web2", "web3"]
    assert (await hv.node_info()).memory_free == 768 - 256


@async_test
async def test_record_holds_the_instance_and_is_written_atomically(hv: FakeHypervisor) -> None:
    await hv.start(spec("web1", memory=256, vcpus=2, fail_start=False))
    record = json.loads(instance_file(hv, "web1").read_text())
    assert record["name"] == "web1" and record["uuid"] == "uuid-web1"
    assert (record["memory"], record["vcpus"], record["state"]) == (256, 2, "running")
    assert record["hvparams"] == {"migration_mode": "live", "boot_delay": 0.0, "fail_start": False}
    assert record["nics"] == ["aa:00:00:00:00:01"] and record["disks"] == []
    assert isinstance(record["started_at"], float)
    await hv.reboot(spec("web1"))
    await hv.stop(spec("web1"))
    # No temporary file is ever left next to the records.
    assert list(hv.instances_dir.iterdir()) == []


@async_test
async def test_reads_tolerate_a_missing_state_directory(driver_context: DriverContext) -> None:
    hv = FakeHypervisor(driver_context)
    assert await hv.list_instances() == []
    assert await hv.instance_info("web1") is None
    await hv.stop(spec())
    assert not hv.state_dir.exists(), "reading must not create the state directory"


@async_test
async def test_reboot_and_pause(hv: FakeHypervisor, driver_context: DriverContext) -> None:
    await hv.start(spec(), paused=True)
    info = await hv.instance_info("web1")
    assert info is not None and info.state == InstanceState.PAUSED
    before = json.loads(instance_file(hv, "web1").read_text())["started_at"]
    await defer_for(driver_context, 0.05)
    info = await hv.instance_info("web1")
    assert info is not None and info.uptime >= 0.05
    await hv.reboot(spec())
    after = json.loads(instance_file(hv, "web1").read_text())
    assert after["started_at"] > before
    assert after["state"] == "running"  # a reboot starts the guest afresh
    info = await hv.instance_info("web1")
    assert info is not None and info.uptime < 0.05


async def defer_for(ctx: DriverContext, seconds: float) -> None:
    from twisted.internet import task

    await task.deferLater(ctx.reactor, seconds, lambda: None)


# -- corrupt state files ----------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("{not json", "Expecting property name"),
        ('["web1"]', "expected a JSON object"),
        ('{"name": "web1", "uuid": "u", "memory": "lots"}', "memory: Not a valid integer"),
        (
            '{"name": "other", "uuid": "u", "memory": 1, "vcpus": 1, "state": "running",'
            ' "started_at": 0}',
            "it describes instance 'other'",
        ),
    ],
)
@async_test
async def test_corrupt_record_is_skipped_in_lists_and_named_elsewhere(
    logged_hv: FakeHypervisor, log_events: list[dict[str, Any]], content: str, reason: str
) -> None:
    hv = logged_hv
    await hv.start(spec("good"))
    path = instance_file(hv, "web1")
    path.write_text(content)

    # Listing the node skips it, with a warning naming the file.
    assert await hv.list_instances() == ["good"]
    assert [i.name for i in await hv.all_instances_info()] == ["good"]
    await hv.node_info()
    warnings = [e for e in log_events if str(path) in e.get("error", "")]
    assert warnings and reason in warnings[0]["error"]

    # Anything about that instance says which file is broken.
    with pytest.raises(CorruptStateError, match=str(path)) as caught:
        await hv.instance_info("web1")
    assert caught.value.path == path and reason in str(caught.value)
    for action in (hv.start, hv.reboot, hv.migration_info):
        with pytest.raises(CorruptStateError, match=str(path)):
            await action(spec("web1"))
    assert any(str(path) in p for p in await hv.verify())

    # Stopping the instance clears the broken record.
    await hv.stop(spec("web1"))
    assert await hv.instance_info("web1") is None
    assert await hv.verify() == []


# -- parameters -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("hvparams", "path"),
    [
        ({"no_such_param": 1}, "hvparams.no_such_param"),
        ({"migration_mode": "fast"}, "hvparams.migration_mode"),
        ({"boot_delay": -1}, "hvparams.boot_delay"),
        ({"boot_delay": "soon"}, "hvparams.boot_delay"),
        ({"boot_delay": float("nan")}, "hvparams.boot_delay"),
        ({"fail_start": "maybe"}, "hvparams.fail_start"),
    ],
)
@async_test
async def test_bad_hvparams_are_refused_by_name(
    hv: FakeHypervisor, hvparams: dict[str, Any], path: str
) -> None:
    with pytest.raises(ParameterError) as caught:
        FakeHypervisor.check_params(hvparams, where="hvparams")
    assert list(caught.value.errors) == [path]
    with pytest.raises(ParameterError) as caught:
        await hv.start(spec(**hvparams))
    assert list(caught.value.errors) == [path]
    assert await hv.list_instances() == []


def test_params_accept_cli_strings() -> None:
    values = {"migration_mode": "non-live", "boot_delay": "1.5", "fail_start": "true"}
    assert FakeHypervisor.check_params(values, where="hvparams") == {
        "migration_mode": "non-live",
        "boot_delay": 1.5,
        "fail_start": True,
    }


@async_test
async def test_fail_start_leaves_nothing_behind(hv: FakeHypervisor) -> None:
    with pytest.raises(HypervisorError, match=r"web1 failed to start.*fail_start"):
        await hv.start(spec(memory=768, fail_start=True))
    assert await hv.list_instances() == []
    assert (await hv.node_info()).memory_free == 768
    await hv.start(spec(memory=768))


@async_test
async def test_boot_delay_waits_on_the_reactor(
    hv: FakeHypervisor, driver_context: DriverContext
) -> None:
    reactor = driver_context.reactor
    began = reactor.seconds()
    starting = defer.Deferred.fromCoroutine(hv.start(spec(memory=500, boot_delay=0.2)))
    # The reactor keeps serving other calls while the instance boots.
    assert not starting.called
    assert await hv.list_instances() == []
    assert (await hv.node_info()).memory_free == 268, "a booting instance holds its memory"
    with pytest.raises(HypervisorError, match=r"web1 on node .*: it is already starting"):
        await hv.start(spec())
    with pytest.raises(HypervisorError, match="not enough memory"):
        await hv.start(spec("other", memory=300))
    await starting
    assert reactor.seconds() - began >= 0.2
    assert await hv.list_instances() == ["web1"]


@async_test
async def test_stop_during_boot_aborts_the_start(
    hv: FakeHypervisor, driver_context: DriverContext
) -> None:
    starting = defer.Deferred.fromCoroutine(hv.start(spec(boot_delay=5)))
    await hv.stop(spec())
    with pytest.raises(HypervisorError, match=r"web1 was stopped .* while it was starting"):
        await starting
    assert await hv.list_instances() == []
    assert (await hv.node_info()).memory_free == 768


@async_test
async def test_cancelled_start_leaves_nothing_behind(
    hv: FakeHypervisor, driver_context: DriverContext
) -> None:
    starting = defer.Deferred.fromCoroutine(hv.start(spec(boot_delay=5)))
    driver_context.reactor.callLater(0.01, starting.cancel)
    with pytest.raises(defer.CancelledError):
        await starting
    assert await hv.list_instances() == []
    assert (await hv.node_info()).memory_free == 768
    await hv.start(spec())


# -- migration --------------------------------------------------------------------


@pytest.fixture
def target(driver_context: DriverContext, tmp_path: Path) -> FakeHypervisor:
    state = tmp_path / "node2"
    state.mkdir()
    ctx = DriverContext.create(driver_context.reactor, state, "node2.example.com")
    write_node(ctx, memory_total=1024, cpu_total=2, memory_dom0=0)
    return FakeHypervisor(ctx)


@async_test
async def test_migration_window(hv: FakeHypervisor, target: FakeHypervisor) -> None:
    inst = spec(memory=400)
    await hv.start(inst)
    info = await hv.migration_info(inst)
    assert info["name"] == "web1" and info["memory"] == 400

    await target.accept_instance(inst, info, "192.0.2.2")
    # The target holds the memory but does not run the instance yet.
    assert await target.list_instances() == []
    assert await target.instance_info("web1") is None
    assert (await target.node_info()).memory_free == 624
    with pytest.raises(HypervisorError, match="no migration of instance web1"):
        await hv.migration_status(inst)

    await hv.migrate(inst, "192.0.2.2", live=True)
    assert await hv.list_instances() == ["web1"]
    with pytest.raises(HypervisorError, match="being migrated"):
        await hv.reboot(inst)
    with pytest.raises(HypervisorError, match=r"web1 from node .*: it is migrating"):
        await hv.migrate(inst, "192.0.2.2")
    await target.finalize_migration_dst(inst, info, success=True)
    # The one moment the instance is listed on both nodes.
    assert await target.list_instances() == await hv.list_instances() == ["web1"]
    await hv.finalize_migration_src(inst, success=True, live=True)
    assert await hv.list_instances() == []
    assert (await hv.node_info()).memory_free == 768
    moved = json.loads(instance_file(target, "web1").read_text())
    assert moved["state"] == "running" and moved["migration"] is None
    assert moved["started_at"] == info["started_at"], "a migrated guest keeps its uptime"


@async_test
async def test_accept_refused_when_memory_does_not_fit(
    hv: FakeHypervisor, target: FakeHypervisor
) -> None:
    big = spec(memory=700)
    await hv.start(big)
    await target.start(spec("resident", memory=512))
    info = await hv.migration_info(big)
    with pytest.raises(HypervisorError) as caught:
        await target.accept_instance(big, info, "192.0.2.2")
    assert str(caught.value) == (
        "not enough memory on node node2.example.com: instance web1 needs 700 MiB, 512 MiB free"
    )
    assert not instance_file(target, "web1").exists()


@async_test
async def test_accept_refused_when_already_there(
    hv: FakeHypervisor, target: FakeHypervisor
) -> None:
    inst = spec()
    await hv.start(inst)
    await target.start(inst)
    with pytest.raises(HypervisorError, match=r"accept instance web1 .*: it is already running"):
        await target.accept_instance(inst, await hv.migration_info(inst), "192.0.2.2")
    with pytest.raises(HypervisorError, match="bad migration info"):
        await target.accept_instance(spec("x"), {"name": "x"}, "192.0.2.2")
    with pytest.raises(HypervisorError, match="describes web1"):
        await target.accept_instance(spec("x"), await hv.migration_info(inst), "192.0.2.2")


@async_test
async def test_non_live_migration_pauses_the_source(
    hv: FakeHypervisor, target: FakeHypervisor
) -> None:
    inst = spec()
    await hv.start(inst)
    info = await hv.migration_info(inst)
    await target.accept_instance(inst, info, "192.0.2.2")
    await hv.migrate(inst, "192.0.2.2", live=False)
    source = await hv.instance_info("web1")
    assert source is not None and source.state == InstanceState.PAUSED
    # Aborting resumes it where it was.
    await target.finalize_migration_dst(inst, info, success=False)
    await hv.finalize_migration_src(inst, success=False, live=False)
    source = await hv.instance_info("web1")
    assert source is not None and source.state == InstanceState.RUNNING
    assert await target.list_instances() == []


@async_test
async def test_paused_instance_arrives_paused(hv: FakeHypervisor, target: FakeHypervisor) -> None:
    inst = spec()
    await hv.start(inst, paused=True)
    info = await hv.migration_info(inst)
    await target.accept_instance(inst, info, "192.0.2.2")
    await hv.migrate(inst, "192.0.2.2")
    await target.finalize_migration_dst(inst, info, success=True)
    await hv.finalize_migration_src(inst, success=True, live=True)
    moved = await target.instance_info("web1")
    assert moved is not None and moved.state == InstanceState.PAUSED


@async_test
async def test_finalize_errors(hv: FakeHypervisor, target: FakeHypervisor) -> None:
    inst = spec()
    with pytest.raises(
        HypervisorError, match=r"web1 to node node2.example.com: it was not accepted"
    ):
        await target.finalize_migration_dst(inst, {}, success=True)
    with pytest.raises(HypervisorError, match=r"no longer on node node1.example.com"):
        await hv.finalize_migration_src(inst, success=False, live=True)
    with pytest.raises(HypervisorError, match=r"migrate instance web1 .*: it is not running"):
        await hv.migration_info(inst)
    # Failure cleanup on the target never removes an instance running there.
    await target.start(inst)
    await target.finalize_migration_dst(inst, {}, success=False)
    assert await target.list_instances() == ["web1"]


# -- console and verify -----------------------------------------------------------


def test_console_is_a_message(hv: FakeHypervisor) -> None:
    console = hv.console(spec(), NODE)
    assert console.kind == "message" and console.instance == "web1"
    assert console.message is not None
    assert "web1" in console.message and "no console" in console.message


@async_test
async def test_verify(hv: FakeHypervisor) -> None:
    assert await hv.verify() == []
    # Something that is not a directory where the records go (works as root too).
    hv.instances_dir.mkdir(parents=True, exist_ok=True)
    hv.instances_dir.rmdir()
    hv.instances_dir.write_text("")
    problems = await hv.verify()
    assert len(problems) == 1
    assert f"fake hypervisor state directory {hv.instances_dir} is not writable" in problems[0]
    with pytest.raises(HypervisorError, match=f"{hv.instances_dir}.*: Not a directory"):
        await hv.start(spec())
