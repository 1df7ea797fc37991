"""The file template against corral's storage conformance suite."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING
from uuid import uuid4

import pytest
from corral_storage_file.driver import FileTemplate

from corral.api import DiskSpec
from corral.testing import DiskTemplateConformance

if TYPE_CHECKING:
    from pathlib import Path

    from corral.testing.storage import DiskSpecFactory
    from corral.testing.storage import DiskTemplateFactory

#: 1 EiB: more than any test filesystem can reserve (and than ext4 allows in one file).
TOO_BIG = 2**40


class TestFileConformance(DiskTemplateConformance):
    @pytest.fixture
    def template_factory(self) -> DiskTemplateFactory:
        return FileTemplate

    @pytest.fixture
    def storage_dir(self, tmp_path: Path) -> Path:
        path = tmp_path / "file-storage"
        path.mkdir()
        return path

    @pytest.fixture
    def disk_spec(self, storage_dir: Path) -> DiskSpecFactory:
        def make(instance: str, index: int, size: int) -> DiskSpec:
            return DiskSpec(
                uuid=str(uuid4()),
                instance=instance,
                index=index,
                size=size,
                storage_dir=str(storage_dir),
            )

        return make

    @pytest.fixture(
        params=[
            "no-storage-dir",
            "relative-storage-dir",
            "missing-storage-dir",
            "storage-dir-is-a-file",
            "cannot-reserve-full-size",
            "size-beyond-any-file",
        ]
    )
    def failing_disk_spec(
        self, request: pytest.FixtureRequest, disk_spec: DiskSpecFactory, storage_dir: Path
    ) -> DiskSpec:
        spec = disk_spec("conformance-fail", 0, 16)
        match request.param:
            case "no-storage-dir":
                return dataclasses.replace(spec, storage_dir=None)
            case "relative-storage-dir":
                return dataclasses.replace(spec, storage_dir="file-storage")
            case "missing-storage-dir":
                return dataclasses.replace(spec, storage_dir=str(storage_dir / "absent"))
            case "storage-dir-is-a-file":
                (storage_dir / "plain-file").write_text("")
                return dataclasses.replace(spec, storage_dir=str(storage_dir / "plain-file"))
            case "cannot-reserve-full-size":
                # Gets as far as the instance directory and the file, then fallocate fails.
                return dataclasses.replace(spec, size=TOO_BIG, params={"prealloc": "full"})
            case _:
                # 8 EiB and more cannot even be expressed as a file length.
                return dataclasses.replace(spec, size=2**43)
