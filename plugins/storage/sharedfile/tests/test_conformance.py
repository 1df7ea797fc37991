"""The sharedfile template against corral's storage conformance suite."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING
from uuid import uuid4

import pytest
from corral_storage_sharedfile.driver import SharedFileTemplate

from corral.api import DiskSpec
from corral.testing import DiskTemplateConformance

if TYPE_CHECKING:
    from pathlib import Path

    from corral.testing.storage import DiskSpecFactory
    from corral.testing.storage import DiskTemplateFactory

#: 1 EiB: more than any test filesystem can reserve.
TOO_BIG = 2**40


class TestSharedFileConformance(DiskTemplateConformance):
    @pytest.fixture
    def template_factory(self) -> DiskTemplateFactory:
        return SharedFileTemplate

    @pytest.fixture
    def storage_dir(self, tmp_path: Path) -> Path:
        path = tmp_path / "shared-file-storage"
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
            "unmounted-storage-dir",
            "storage-dir-is-a-file",
            "cannot-reserve-full-size",
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
                return dataclasses.replace(spec, storage_dir="shared-file-storage")
            case "unmounted-storage-dir":
                return dataclasses.replace(spec, storage_dir=str(storage_dir / "absent"))
            case "storage-dir-is-a-file":
                (storage_dir / "plain-file").write_text("")
                return dataclasses.replace(spec, storage_dir=str(storage_dir / "plain-file"))
            case _:
                return dataclasses.replace(spec, size=TOO_BIG, params={"prealloc": "full"})
