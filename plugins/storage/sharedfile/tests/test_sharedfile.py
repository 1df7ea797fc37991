"""What sharedfile adds to file: two nodes on one directory, ownership, markers in verify."""

from __future__ import annotations

import configparser
import dataclasses
import json
import os
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
from corral_storage_file.driver import MIB
from corral_storage_sharedfile import __version__
from corral_storage_sharedfile import driver as shared_driver
from corral_storage_sharedfile.driver import MARKER_DIR
from corral_storage_sharedfile.driver import SharedFileTemplate

from corral.api import DiskSpec
from corral.api import DriverContext
from corral.api import StorageError
from corral.testing import async_test


@pytest.fixture
def shared(tmp_path: Path) -> Path:
    """The directory every node mounts (here: one directory both test nodes use)."""
    path = tmp_path / "shared-file-storage"
    path.mkdir()
    return path


def node(reactor: Any, tmp_path: Path, name: str) -> SharedFileTemplate:
    """A driver with its own state directory and node name, as on another machine."""
    state = tmp_path / f"{name}-state"
    state.mkdir()
    return SharedFileTemplate(DriverContext.create(reactor, state, node_name=name))


def ssconf(template: SharedFileTemplate, key: str, value: str) -> None:
    (template.ctx.state_dir / f"ssconf_{key}").write_text(value + "\n")


@pytest.fixture
def node_a(reactor: Any, tmp_path: Path) -> SharedFileTemplate:
    return node(reactor, tmp_path, "node-a.example.com")


@pytest.fixture
def node_b(reactor: Any, tmp_path: Path) -> SharedFileTemplate:
    return node(reactor, tmp_path, "node-b.example.com")


def make_disk(shared: Path, instance: str = "web1", index: int = 0, size: int = 4) -> DiskSpec:
    return DiskSpec(
        uuid=str(uuid4()), instance=instance, index=index, size=size, storage_dir=str(shared)
    )


def test_declarations() -> None:
    assert SharedFileTemplate.name == "sharedfile"
    assert SharedFileTemplate.SHARED is True
    assert SharedFileTemplate.MIRRORED is False
    assert SharedFileTemplate.CAN_GROW is True
    assert SharedFileTemplate.param_defaults() == {"prealloc": "sparse"}


def test_distribution_declares_the_entry_point_and_its_base() -> None:
    cfg = configparser.ConfigParser()
    cfg.read(Path(__file__).parents[1] / "setup.cfg")
    lines = cfg["options.entry_points"]["corral.storage"].strip().splitlines()
    assert lines == ["sharedfile = corral_storage_sharedfile.driver:SharedFileTemplate"]
    assert cfg["metadata"]["name"] == "corral-storage-sharedfile"
    requires = cfg["options"]["install_requires"].split()
    assert "corral-storage-file" in requires, "the driver subclasses corral_storage_file"
    assert __version__ == "0.1.0"


@async_test
async def test_disk_made_on_one_node_is_used_and_grown_on_another(
    node_a: SharedFileTemplate, node_b: SharedFileTemplate, shared: Path
) -> None:
    """Node A creates; node B attaches, writes and grows; node A sees the data and size."""
    spec = make_disk(shared, size=4)
    logical_id = await node_a.create(spec)
    disk = dataclasses.replace(spec, logical_id=logical_id)

    path_b = await node_b.attach(disk)
    assert path_b == logical_id
    with open(path_b, "r+b") as f:
        f.write(b"written on node B")
    await node_b.grow(disk, 6)
    assert await node_b.size(disk) == 10

    assert await node_a.size(disk) == 10
    with open(await node_a.attach(disk), "rb") as f:
        assert f.read(17) == b"written on node B"
    assert os.stat(logical_id).st_size == 10 * MIB

    await node_b.remove(disk)
    assert not os.path.exists(logical_id)
    await node_a.remove(disk)  # already gone through the other node: fine
    with pytest.raises(StorageError, match="does not exist"):
        await node_a.attach(disk)


@async_test
async def test_every_node_lists_every_volume_with_its_instance(
    node_a: SharedFileTemplate, node_b: SharedFileTemplate, shared: Path
) -> None:
    """B never touched the disks, but the cluster's directory comes from its ssconf."""
    one = await node_a.create(make_disk(shared, "one.example.com", 0, 3))
    two = await node_a.create(make_disk(shared, "two.example.com", 1, 5))
    assert await node_b.list_volumes() == []
    ssconf(node_b, "shared_file_storage_dir", f"{shared}/")
    seen_a = [(v.logical_id, v.size, v.instance) for v in await node_a.list_volumes()]
    seen_b = [(v.logical_id, v.size, v.instance) for v in await node_b.list_volumes()]
    assert seen_a == seen_b == sorted([(one, 3, "one.example.com"), (two, 5, "two.example.com")])


@async_test
async def test_attach_records_the_directory_for_list_volumes(
    node_a: SharedFileTemplate, node_b: SharedFileTemplate, shared: Path
) -> None:
    spec = make_disk(shared)
    disk = dataclasses.replace(spec, logical_id=await node_a.create(spec))
    await node_b.attach(disk)
    assert [v.logical_id for v in await node_b.list_volumes()] == [disk.logical_id]
    assert node_b.index.load() == [str(shared)]


@async_test
async def test_create_never_clobbers_a_file_made_by_another_node(
    node_a: SharedFileTemplate, node_b: SharedFileTemplate, shared: Path
) -> None:
    spec = make_disk(shared, size=4)
    path = await node_a.create(spec)
    with open(path, "r+b") as f:
        f.write(b"precious")
    with pytest.raises(StorageError, match="already exists"):
        await node_b.create(spec)
    with open(path, "rb") as f:
        assert f.read(8) == b"precious"
    assert os.stat(path).st_size == 4 * MIB


@async_test
async def test_unmounted_directory_is_named_with_the_node(
    node_a: SharedFileTemplate, shared: Path
) -> None:
    spec = dataclasses.replace(make_disk(shared), storage_dir=str(shared / "not-mounted"))
    with pytest.raises(StorageError) as caught:
        await node_a.create(spec)
    message = str(caught.value)
    assert str(shared / "not-mounted") in message and "node-a.example.com" in message
    assert "shared_file_storage_dir" in message


@pytest.mark.parametrize("storage_dir", [None, "", "srv/shared"])
@async_test
async def test_storage_dir_must_be_absolute(
    node_a: SharedFileTemplate, shared: Path, storage_dir: str | None
) -> None:
    spec = dataclasses.replace(make_disk(shared), storage_dir=storage_dir)
    with pytest.raises(StorageError, match=r"shared_file_storage_dir") as caught:
        await node_a.create(spec)
    assert repr(storage_dir) in str(caught.value)


# -- verify and its markers -----------------------------------------------------------


@async_test
async def test_verify_leaves_a_marker_per_node(
    node_a: SharedFileTemplate, node_b: SharedFileTemplate, shared: Path
) -> None:
    for template in (node_a, node_b):
        ssconf(template, "shared_file_storage_dir", str(shared))
        ssconf(template, "online_nodes", "node-a.example.com\nnode-b.example.com")
    first = await node_a.verify()  # B has not run verify yet
    assert len(first) == 1 and "no marker of node node-b.example.com" in first[0]
    assert await node_b.verify() == []
    assert await node_a.verify() == []
    assert node_a.nodes_seen(str(shared)) == ["node-a.example.com", "node-b.example.com"]
    marker = json.loads(Path(node_b.marker_path(str(shared))).read_text())
    assert marker["node"] == "node-b.example.com"
    assert await node_a.list_volumes() == [], "markers are not volumes"


@async_test
async def test_verify_reports_a_node_with_another_directory_at_the_path(
    node_a: SharedFileTemplate, reactor: Any, tmp_path: Path, shared: Path
) -> None:
    """Node C mounts nothing shared: its 'shared' directory is a local one of its own."""
    node_c = node(reactor, tmp_path, "node-c.example.com")
    local_c = tmp_path / "node-c-local"
    local_c.mkdir()
    ssconf(node_a, "shared_file_storage_dir", str(shared))
    ssconf(node_c, "shared_file_storage_dir", str(local_c))
    for template in (node_a, node_c):
        ssconf(template, "online_nodes", "node-a.example.com\nnode-c.example.com")
    await node_c.verify()
    await node_a.verify()
    problems_a, problems_c = await node_a.verify(), await node_c.verify()
    assert len(problems_a) == 1 and "node node-c.example.com" in problems_a[0]
    assert "not the same shared filesystem" in problems_a[0]
    assert len(problems_c) == 1 and "node node-a.example.com" in problems_c[0]


@async_test
async def test_verify_reports_missing_and_unwritable_directories(
    node_a: SharedFileTemplate, shared: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    await node_a.create(make_disk(shared))
    await node_a.create(dataclasses.replace(make_disk(shared), storage_dir=str(locked)))
    ssconf(node_a, "shared_file_storage_dir", str(tmp_path / "gone"))
    real_access = os.access

    def access(path: Any, mode: int, **kw: Any) -> bool:
        # The tests may run as root, for whom every directory is writable.
        return str(path) != str(locked) and real_access(path, mode, **kw)

    monkeypatch.setattr(shared_driver.os, "access", access)
    assert await node_a.verify() == [
        f"shared file storage directory {tmp_path / 'gone'} is missing;"
        " mount the shared filesystem there",
        f"shared file storage directory {locked} is not writable",
    ]
    assert (shared / MARKER_DIR / "node-a.example.com").is_file()
    assert not (locked / MARKER_DIR).exists()


@async_test
async def test_marker_that_cannot_be_written_is_a_problem(
    node_a: SharedFileTemplate, shared: Path
) -> None:
    ssconf(node_a, "shared_file_storage_dir", str(shared))
    (shared / MARKER_DIR).write_text("a file where the marker directory should be")
    problems = await node_a.verify()
    assert len(problems) == 1 and "cannot write and read back the marker" in problems[0]
