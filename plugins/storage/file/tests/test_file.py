"""What the file template does beyond the conformance suite: layout, preallocation,
cleanup after failures, the storage-directory index and verify."""

from __future__ import annotations

import configparser
import dataclasses
import json
import os
import re
import shutil
import stat
from collections.abc import Callable
from collections.abc import Mapping
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
from corral_storage_file import __version__
from corral_storage_file import driver as file_driver
from corral_storage_file.driver import MIB
from corral_storage_file.driver import FileTemplate

from corral.api import DiskSpec
from corral.api import DriverContext
from corral.api import ParameterError
from corral.api import ProcessResult
from corral.api import ProcessRunner
from corral.api import StorageError
from corral.testing import async_test

needs_fallocate = pytest.mark.skipif(
    shutil.which("fallocate") is None, reason="fallocate(1) from util-linux is not installed"
)

MakeDisk = Callable[..., DiskSpec]


class ScriptedRunner(ProcessRunner):
    """Answers every command with one canned result and remembers what was run."""

    def __init__(self, exit_code: int = 1, stderr: str = "") -> None:
        self.calls: list[list[str]] = []
        self.exit_code = exit_code
        self.stderr = stderr

    async def run(
        self,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        cwd: str | None = None,
        stdin: bytes | None = None,
        timeout: float | None = None,
    ) -> ProcessResult:
        self.calls.append(list(argv))
        return ProcessResult(list(argv), self.exit_code, "", self.stderr)


@pytest.fixture
def storage(tmp_path: Path) -> Path:
    path = tmp_path / "file-storage"
    path.mkdir()
    return path


@pytest.fixture
def template(driver_context: DriverContext) -> FileTemplate:
    return FileTemplate(driver_context)


@pytest.fixture
def make_disk(storage: Path) -> MakeDisk:
    def make(instance: str = "web1", index: int = 0, size: int = 4, **kw: Any) -> DiskSpec:
        kw.setdefault("storage_dir", str(storage))
        return DiskSpec(uuid=str(uuid4()), instance=instance, index=index, size=size, **kw)

    return make


def _with_id(disk: DiskSpec, logical_id: str) -> DiskSpec:
    return dataclasses.replace(disk, logical_id=logical_id)


# -- the distribution and its declarations ------------------------------------------


def test_declarations() -> None:
    assert FileTemplate.name == "file"
    assert FileTemplate.HAS_DISKS is True
    assert FileTemplate.SHARED is False
    assert FileTemplate.MIRRORED is False
    assert FileTemplate.CAN_GROW is True
    assert FileTemplate.param_defaults() == {"prealloc": "sparse"}


def test_distribution_declares_the_entry_point() -> None:
    """setup.cfg registers the driver under its own name in corral.storage."""
    cfg = configparser.ConfigParser()
    cfg.read(Path(__file__).parents[1] / "setup.cfg")
    lines = cfg["options.entry_points"]["corral.storage"].strip().splitlines()
    assert lines == [f"{FileTemplate.name} = corral_storage_file.driver:FileTemplate"]
    assert cfg["metadata"]["name"] == "corral-storage-file"
    assert __version__ == "0.1.0"


def test_prealloc_accepts_only_its_two_modes(template: FileTemplate) -> None:
    assert template.check_params({"prealloc": "full"}, where="diskparams") == {"prealloc": "full"}
    with pytest.raises(ParameterError) as caught:
        template.check_params({"prealloc": "thick"}, where="diskparams")
    assert list(caught.value.errors) == ["diskparams.prealloc"]


# -- create -------------------------------------------------------------------------


@async_test
async def test_create_lays_disks_out_like_ganeti(
    template: FileTemplate, make_disk: MakeDisk, storage: Path
) -> None:
    """<storage_dir>/<instance>/<uuid>.file.disk<index>, the path being the logical id;
    the file is sparse and has the size asked for."""
    disk = make_disk("web1.example.com", index=3, size=64)
    logical_id = await template.create(disk)
    path = storage / "web1.example.com" / f"{disk.uuid}.file.disk3"
    assert logical_id == str(path)
    info = path.stat()
    assert info.st_size == 64 * MIB
    assert info.st_blocks * 512 < MIB, "a sparse disk must not take its blocks up front"
    assert stat.S_IMODE(info.st_mode) & 0o007 == 0, "other users must not read guest data"
    assert await template.attach(_with_id(disk, logical_id)) == str(path)


@async_test
async def test_storage_dir_can_be_given_unnormalised(
    template: FileTemplate, make_disk: MakeDisk, storage: Path
) -> None:
    disk = make_disk(storage_dir=f"{storage}//./")
    assert await template.create(disk) == str(storage / "web1" / f"{disk.uuid}.file.disk0")


@needs_fallocate
@async_test
async def test_full_prealloc_reserves_every_block(
    template: FileTemplate, make_disk: MakeDisk
) -> None:
    disk = make_disk(size=8, params={"prealloc": "full"})
    info = os.stat(await template.create(disk))
    assert info.st_size == 8 * MIB
    assert info.st_blocks * 512 >= 8 * MIB


@pytest.mark.parametrize(
    ("storage_dir", "named"),
    [(None, "None"), ("", "''"), ("srv/file", "'srv/file'")],
    ids=["none", "empty", "relative"],
)
@async_test
async def test_storage_dir_must_be_an_absolute_path(
    template: FileTemplate, make_disk: MakeDisk, storage_dir: str | None, named: str
) -> None:
    with pytest.raises(StorageError, match="file storage directory") as caught:
        await template.create(make_disk(storage_dir=storage_dir))
    assert named in str(caught.value)
    assert await template.list_volumes() == []


@async_test
async def test_missing_storage_dir_is_refused_not_created(
    template: FileTemplate, make_disk: MakeDisk, storage: Path
) -> None:
    with pytest.raises(StorageError, match=re.escape(f"{storage / 'absent'} does not exist")):
        await template.create(make_disk(storage_dir=str(storage / "absent")))
    assert not (storage / "absent").exists()
    assert template.index.load() == []


@pytest.mark.parametrize("instance", ["", ".", "..", "a/b"])
@async_test
async def test_instance_name_must_be_a_directory_name(
    template: FileTemplate, make_disk: MakeDisk, storage: Path, instance: str
) -> None:
    with pytest.raises(StorageError, match="cannot be a directory name"):
        await template.create(make_disk(instance))
    assert list(storage.iterdir()) == []


@async_test
async def test_existing_file_is_neither_truncated_nor_removed(
    template: FileTemplate, make_disk: MakeDisk, storage: Path
) -> None:
    """A file already at the disk's place (a leftover, say) stays as it was."""
    disk = make_disk(size=4)
    path = Path(template.planned_path(disk))
    path.parent.mkdir()
    path.write_bytes(b"precious")
    with pytest.raises(StorageError, match="already exists"):
        await template.create(disk)
    assert path.read_bytes() == b"precious"


@async_test
async def test_failed_fallocate_removes_file_and_new_instance_dir(
    driver_context: DriverContext, make_disk: MakeDisk, storage: Path
) -> None:
    runner = ScriptedRunner(1, "fallocate: fallocate failed: No space left on device\n")
    template = FileTemplate(dataclasses.replace(driver_context, runner=runner))
    disk = make_disk(size=4, params={"prealloc": "full"})
    with pytest.raises(StorageError, match="No space left on device") as caught:
        await template.create(disk)
    assert str(caught.value).startswith(
        "cannot create disk/0 of instance web1: cannot allocate 4 MiB"
    )
    path = template.planned_path(disk)
    assert runner.calls == [["fallocate", "--offset", "0", "--length", str(4 * MIB), path]]
    assert list(storage.iterdir()) == []


@async_test
async def test_failed_create_keeps_the_instance_dir_of_other_disks(
    driver_context: DriverContext, make_disk: MakeDisk, storage: Path
) -> None:
    template = FileTemplate(dataclasses.replace(driver_context, runner=ScriptedRunner(1)))
    first = await template.create(make_disk(index=0))
    with pytest.raises(StorageError):
        await template.create(make_disk(index=1, params={"prealloc": "full"}))
    assert [p.name for p in (storage / "web1").iterdir()] == [os.path.basename(first)]


@async_test
async def test_bad_diskparams_are_a_storage_error(
    template: FileTemplate, make_disk: MakeDisk, storage: Path
) -> None:
    with pytest.raises(StorageError, match=r"diskparams\.prealloc"):
        await template.create(make_disk(params={"prealloc": "thick"}))
    assert list(storage.iterdir()) == []


# -- grow, size, attach, remove -----------------------------------------------------


@async_test
async def test_grow_extends_and_keeps_data(template: FileTemplate, make_disk: MakeDisk) -> None:
    disk = make_disk(size=4)
    disk = _with_id(disk, await template.create(disk))
    Path(str(disk.logical_id)).write_bytes(b"data")  # shortens the file...
    os.truncate(str(disk.logical_id), 4 * MIB)  # ...back to its size, data at the start
    await template.grow(disk, 6)
    assert await template.size(disk) == 10
    with open(str(disk.logical_id), "rb") as f:
        assert f.read(4) == b"data"
    await template.grow(disk, 0)
    assert await template.size(disk) == 10


@needs_fallocate
@async_test
async def test_grow_with_full_prealloc_reserves_the_new_blocks(
    template: FileTemplate, make_disk: MakeDisk
) -> None:
    disk = make_disk(size=2, params={"prealloc": "full"})
    disk = _with_id(disk, await template.create(disk))
    await template.grow(disk, 3)
    info = os.stat(str(disk.logical_id))
    assert info.st_size == 5 * MIB
    assert info.st_blocks * 512 >= 5 * MIB


@async_test
async def test_failed_grow_leaves_the_size_alone(
    driver_context: DriverContext, make_disk: MakeDisk
) -> None:
    template = FileTemplate(dataclasses.replace(driver_context, runner=ScriptedRunner(1)))
    disk = make_disk(size=2)
    disk = _with_id(disk, await template.create(disk))
    full = dataclasses.replace(disk, params={"prealloc": "full"})
    with pytest.raises(
        StorageError, match="cannot grow disk/0 of instance web1: cannot allocate 3 MiB"
    ):
        await template.grow(full, 3)
    assert await template.size(disk) == 2


@async_test
async def test_grow_refuses_missing_files_and_shrinking(
    template: FileTemplate, make_disk: MakeDisk
) -> None:
    disk = make_disk(size=4)
    with pytest.raises(StorageError, match="does not exist"):
        await template.grow(disk, 1)
    disk = _with_id(disk, await template.create(disk))
    with pytest.raises(StorageError, match="never shrink"):
        await template.grow(disk, -2)
    assert await template.size(disk) == 4


@async_test
async def test_size_rounds_down_to_mib(template: FileTemplate, make_disk: MakeDisk) -> None:
    disk = make_disk(size=4)
    disk = _with_id(disk, await template.create(disk))
    os.truncate(str(disk.logical_id), 5 * MIB - 1)
    assert await template.size(disk) == 4


@async_test
async def test_disk_without_logical_id_is_found_where_create_puts_it(
    template: FileTemplate, make_disk: MakeDisk
) -> None:
    disk = make_disk()
    path = await template.create(disk)
    assert await template.attach(disk) == path
    await template.remove(disk)
    assert not os.path.exists(path)


@pytest.mark.parametrize("logical_id", ["/etc/passwd", "relative/x.file.disk0", "/srv/x.img"])
@async_test
async def test_foreign_logical_ids_are_refused(
    template: FileTemplate, make_disk: MakeDisk, tmp_path: Path, logical_id: str
) -> None:
    """remove() never deletes a file that is not named like a file disk."""
    victim = tmp_path / "victim"
    victim.write_text("keep me")
    for lid in (logical_id, str(victim)):
        with pytest.raises(StorageError, match="is not the absolute path"):
            await template.remove(_with_id(make_disk(), lid))
    assert victim.read_text() == "keep me"


@async_test
async def test_remove_keeps_the_instance_dir_until_its_last_disk(
    template: FileTemplate, make_disk: MakeDisk, storage: Path
) -> None:
    disks = [make_disk(index=i) for i in range(2)]
    disks = [_with_id(d, await template.create(d)) for d in disks]
    await template.remove(disks[0])
    assert (storage / "web1").is_dir()
    await template.remove(disks[1])
    assert not (storage / "web1").exists()
    assert storage.is_dir()


@async_test
async def test_detach_changes_nothing(template: FileTemplate, make_disk: MakeDisk) -> None:
    disk = make_disk()
    disk = _with_id(disk, await template.create(disk))
    await template.detach(disk)
    assert await template.attach(disk) == disk.logical_id


# -- list_volumes and the index -----------------------------------------------------


@async_test
async def test_list_volumes_reports_instances_and_skips_foreign_files(
    template: FileTemplate, make_disk: MakeDisk, storage: Path
) -> None:
    a = await template.create(make_disk("a.example.com", 0, 3))
    b = await template.create(make_disk("b.example.com", 1, 5))
    (storage / "a.example.com" / "notes.txt").write_text("not a disk")
    (storage / "a.example.com" / "x.file.disk0.bak").write_text("not a disk either")
    (storage / "stray.file.disk0").write_text("not in an instance directory")
    (storage / "b.example.com" / "dir.file.disk9").mkdir()
    volumes = await template.list_volumes()
    assert [(v.logical_id, v.size, v.instance) for v in volumes] == sorted(
        [(a, 3, "a.example.com"), (b, 5, "b.example.com")]
    )


@async_test
async def test_index_records_each_storage_dir_once(
    template: FileTemplate,
    make_disk: MakeDisk,
    storage: Path,
    tmp_path: Path,
    driver_context: DriverContext,
) -> None:
    other = tmp_path / "other-storage"
    other.mkdir()
    await template.create(make_disk("x"))
    await template.create(make_disk("y"))
    await template.create(make_disk("z", storage_dir=str(other)))
    folder = driver_context.state_dir / "storage" / "file"
    assert sorted(p.name for p in folder.iterdir()) == ["storage-dirs.json"]
    data = json.loads((folder / "storage-dirs.json").read_text())
    assert data == {"version": 1, "storage_dirs": sorted([str(storage), str(other)])}
    assert {v.instance for v in await template.list_volumes()} == {"x", "y", "z"}


@async_test
async def test_damaged_index_is_reported(
    template: FileTemplate, make_disk: MakeDisk, driver_context: DriverContext
) -> None:
    index = driver_context.state_dir / "storage" / "file" / "storage-dirs.json"
    index.write_text("{not json")
    with pytest.raises(StorageError, match=r"index .* is damaged") as caught:
        await template.list_volumes()
    assert str(index) in str(caught.value)
    problems = await template.verify()
    assert len(problems) == 1 and str(index) in problems[0]
    with pytest.raises(StorageError, match="damaged"):
        await template.create(make_disk())


@async_test
async def test_missing_storage_dir_is_skipped_by_list_volumes(
    template: FileTemplate, make_disk: MakeDisk, storage: Path
) -> None:
    await template.create(make_disk())
    shutil.rmtree(storage)
    assert await template.list_volumes() == []


# -- verify -------------------------------------------------------------------------


@async_test
async def test_verify_reports_missing_and_unusable_storage_dirs(
    template: FileTemplate,
    make_disk: MakeDisk,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    dirs = {name: tmp_path / name for name in ("fine", "gone", "locked", "replaced")}
    for path in dirs.values():
        path.mkdir()
        await template.create(make_disk(storage_dir=str(path)))
    assert await template.verify() == []

    shutil.rmtree(dirs["gone"])
    shutil.rmtree(dirs["replaced"])
    dirs["replaced"].write_text("")
    real_access = os.access

    def access(path: Any, mode: int, **kw: Any) -> bool:
        # The tests may run as root, for whom every directory is writable.
        return str(path) != str(dirs["locked"]) and real_access(path, mode, **kw)

    monkeypatch.setattr(file_driver.os, "access", access)
    assert await template.verify() == [
        f"file storage directory {dirs['gone']} is missing",
        f"file storage directory {dirs['locked']} is not writable",
        f"file storage directory {dirs['replaced']} is not a directory",
    ]
