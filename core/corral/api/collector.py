"""The monitoring data collector interface (entry-point group ``corral.collectors``)."""

from __future__ import annotations

import time
from abc import abstractmethod
from enum import IntEnum
from typing import Any
from typing import ClassVar

from corral.api.driver import Driver


class CollectorKind(IntEnum):
    """The ``kind`` field of Ganeti's mon-collector report format."""

    PERFORMANCE = 0
    STATUS = 1


class DataCollector(Driver):
    """Produces one report in Ganeti's mon-collector JSON format."""

    kind = "collectors"
    #: Version of the report's data layout, bumped when ``data`` changes shape.
    VERSION: ClassVar[str] = "B"
    FORMAT_VERSION: ClassVar[int] = 1
    #: "storage", "hypervisor", "default" or None (Ganeti's categories).
    CATEGORY: ClassVar[str | None] = None
    KIND: ClassVar[CollectorKind] = CollectorKind.PERFORMANCE

    @abstractmethod
    async def collect(self) -> Any:
        """Gather the report's ``data`` member."""

    async def report(self) -> dict[str, Any]:
        """The full report: ``data`` wrapped in the mon-collector envelope."""
        data = await self.collect()
        return {
            "name": self.name,
            "version": self.VERSION,
            "format_version": self.FORMAT_VERSION,
            "timestamp": time.time_ns(),
            "category": self.CATEGORY,
            "kind": int(self.KIND),
            "data": data,
        }
