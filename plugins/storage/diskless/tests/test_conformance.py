"""The diskless template against corral's storage conformance suite."""

from __future__ import annotations

from typing import TYPE_CHECKING
from uuid import uuid4

import pytest
from corral_storage_diskless.driver import DisklessTemplate

from corral.api import DiskSpec
from corral.testing import DiskTemplateConformance

if TYPE_CHECKING:
    from corral.testing.storage import DiskSpecFactory
    from corral.testing.storage import DiskTemplateFactory


class TestDisklessConformance(DiskTemplateConformance):
    @pytest.fixture
    def template_factory(self) -> DiskTemplateFactory:
        return DisklessTemplate

    @pytest.fixture
    def disk_spec(self) -> DiskSpecFactory:
        def make(instance: str, index: int, size: int) -> DiskSpec:
            return DiskSpec(uuid=str(uuid4()), instance=instance, index=index, size=size)

        return make
