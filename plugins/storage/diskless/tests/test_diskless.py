"""What the diskless template promises beyond the conformance suite."""

from __future__ import annotations

import configparser
from pathlib import Path
from typing import Any

import pytest
from corral_storage_diskless import __version__
from corral_storage_diskless.driver import DisklessTemplate

from corral.api import DiskSpec
from corral.api import DriverContext
from corral.api import StorageError
from corral.testing import async_test

DISK = DiskSpec(uuid="0f6c2d4e-1111-4c1a-9e2b-5a8e0c1d2e3f", instance="web1", index=2, size=1024)


@pytest.fixture
def template(driver_context: DriverContext) -> DisklessTemplate:
    return DisklessTemplate(driver_context)


def test_declarations() -> None:
    """No disks, nothing to grow or mirror, and free to move anywhere in its group."""
    assert DisklessTemplate.name == "diskless"
    assert DisklessTemplate.HAS_DISKS is False
    assert DisklessTemplate.SHARED is True
    assert DisklessTemplate.MIRRORED is False
    assert DisklessTemplate.CAN_GROW is False
    assert DisklessTemplate.param_defaults() == {}


@pytest.mark.parametrize(
    ("method", "args"),
    [
        ("create", ()),
        ("remove", ()),
        ("attach", ()),
        ("detach", ()),
        ("grow", (128,)),
        ("size", ()),
    ],
)
@async_test
async def test_every_disk_operation_is_refused(
    template: DisklessTemplate, method: str, args: tuple[Any, ...]
) -> None:
    """Each operation says the template has no disks and names the disk and instance."""
    with pytest.raises(StorageError) as caught:
        await getattr(template, method)(DISK, *args)
    message = str(caught.value)
    assert message.startswith("disk template 'diskless' has no disks: ")
    assert "disk/2 of instance web1" in message


@async_test
async def test_no_volumes_and_nothing_to_verify(template: DisklessTemplate) -> None:
    assert await template.list_volumes() == []
    assert await template.verify() == []


def test_distribution_declares_the_entry_point() -> None:
    """setup.cfg registers the driver under its own name in corral.storage."""
    cfg = configparser.ConfigParser()
    cfg.read(Path(__file__).parents[1] / "setup.cfg")
    lines = cfg["options.entry_points"]["corral.storage"].strip().splitlines()
    assert lines == [f"{DisklessTemplate.name} = corral_storage_diskless.driver:DisklessTemplate"]
    assert cfg["metadata"]["name"] == "corral-storage-diskless"
    assert __version__ == "0.1.0"
