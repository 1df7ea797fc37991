"""Points corral at the OS API folder this distribution ships as package data."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from corral.api import OSDefinition
from corral.api import PluginError


class ImageOS(OSDefinition):
    """The ``image`` OS: ``create`` writes the ``image`` OS parameter's image onto disk 0."""

    name = "image"

    def path(self) -> Path:
        folder = Path(str(resources.files("corral_os_image") / "os"))
        if not folder.is_dir():
            raise PluginError(
                f"corral-os-image is installed without its script folder ({folder}):"
                " pip install --force-reinstall corral-os-image"
            )
        return folder
