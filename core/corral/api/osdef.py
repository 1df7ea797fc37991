"""The OS definition interface (entry-point group ``corral.osdefs``).

An OS definition is a folder that follows Ganeti's OS API
(``ganeti-os-interface(7)``: ``create``, ``import``, ``export``, ``rename``,
``verify`` scripts, ``ganeti_api_version``, ``variants.list``,
``parameters.list``). A plugin ships the folder and points at it.
"""

from __future__ import annotations

from abc import abstractmethod
from typing import TYPE_CHECKING

from corral.api.driver import Driver

if TYPE_CHECKING:
    from pathlib import Path


class OSDefinition(Driver):
    """Locates one OS provider's script folder."""

    kind = "osdefs"

    @abstractmethod
    def path(self) -> Path:
        """The folder holding the provider's scripts."""
