"""Points corral at the OS API folder this distribution ships as package data."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from corral.api import OSDefinition
from corral.api import PluginError


class NoopOS(OSDefinition):
    """The ``noop`` OS: ``create`` and ``rename`` do nothing, import/export copy raw disks."""

    name = "noop"

    def path(self) -> Path:
        folder = Path(str(resources.files("corral_os_noop") / "os"))
        if not folder.is_dir():
            raise PluginError(
                f"corral-os-noop is installed without its script folder ({folder}):"
                " pip install --force-reinstall corral-os-noop"
            )
        return folder
