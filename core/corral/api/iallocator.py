"""The instance allocator interface (entry-point group ``corral.iallocators``)."""

from __future__ import annotations

from abc import abstractmethod
from typing import Any

from corral.api.driver import Driver


class IAllocator(Driver):
    """Chooses nodes for instances.

    Speaks Ganeti's IAllocator protocol (``doc/iallocator.rst``): the request
    is the JSON document Ganeti would write to the script's input file, the
    answer the document the script would print (``success``, ``info``,
    ``result``). A failure to place is an answer with ``success: false``,
    never an exception.
    """

    kind = "iallocators"

    @abstractmethod
    async def run(self, request: dict[str, Any]) -> dict[str, Any]:
        """Answer one IAllocator request."""
