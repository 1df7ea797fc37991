"""Fixtures for the OS API tests: provider folders built on the spot, Ganeti's reference."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

MakeProvider = Callable[..., Path]

#: The scripts of a complete OS API 20 provider.
SCRIPTS = ("create", "import", "export", "rename", "verify")

#: Where ``../shared/tools/ganeti-reference`` unpacks Debian's Ganeti packages for tests;
#: CORRAL_GANETI_REF points elsewhere (a directory the tool filled before).
REFERENCE_TOOL = Path(__file__).resolve().parents[3].parent / "shared/tools/ganeti-reference"


def _cache_dir() -> Path:
    if "CORRAL_GANETI_REF" in os.environ:
        return Path(os.environ["CORRAL_GANETI_REF"])
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "corral/ganeti-reference"


@pytest.fixture
def make_provider(tmp_path: Path) -> MakeProvider:
    """Write an OS provider folder: ``make_provider("x", api="20\\n", drop=["verify"])``.

    Every script prints its name and exits 0 unless ``scripts`` gives its
    body; ``files`` adds or replaces text files (``variants.list``...);
    ``drop`` leaves files out; ``mode`` sets a file's permission bits.
    """

    def make(
        name: str = "testos",
        *,
        api: str = "20\n",
        scripts: dict[str, str] | None = None,
        files: dict[str, str] | None = None,
        drop: tuple[str, ...] | list[str] = (),
        mode: dict[str, int] | None = None,
        top: Path | None = None,
    ) -> Path:
        folder = (top or tmp_path / "os") / name
        folder.mkdir(parents=True)
        contents = {"ganeti_api_version": api, "parameters.list": ""}
        for script in SCRIPTS:
            body = (scripts or {}).get(script, f"echo {script}\n")
            contents[script] = "#!/bin/sh\n" + body
        contents.update(files or {})
        for filename, text in contents.items():
            if filename in drop:
                continue
            path = folder / filename
            path.write_text(text)
            path.chmod(0o755 if filename in SCRIPTS else 0o644)
        for filename, bits in (mode or {}).items():
            (folder / filename).chmod(bits)
        return folder

    return make


@pytest.fixture(scope="session")
def ganeti_reference() -> Path:
    """The root of Debian's unpacked Ganeti 3.0 packages (downloaded once into a cache)."""
    root = _cache_dir() / "root"
    if not (root / "usr/share/ganeti/os/noop").is_dir():
        if not REFERENCE_TOOL.is_file():
            pytest.skip(f"Ganeti reference not available: {REFERENCE_TOOL} is missing")
        try:
            subprocess.run(
                ["sh", str(REFERENCE_TOOL), str(_cache_dir())],
                check=True,
                capture_output=True,
                timeout=300,
            )
        except (subprocess.SubprocessError, OSError) as err:
            detail = getattr(err, "stderr", b"") or b""
            pytest.skip(
                f"Ganeti reference could not be obtained into {_cache_dir()} ({err}):"
                f" {detail.decode(errors='replace').strip()[-300:]}"
            )
    return root


@pytest.fixture
def debian_os_dir(ganeti_reference: Path, tmp_path: Path) -> Path:
    """Debian's two providers as installed on a node, files unchanged.

    The packages ship absolute symlinks (debootstrap's variants.list points
    to /etc/ganeti/instance-debootstrap/variants.list); they are pointed at
    the same path inside the unpacked reference, as the package's
    conffiles would be on a node.
    """
    target = tmp_path / "debian-os"
    for name in ("noop", "debootstrap"):
        source = ganeti_reference / "usr/share/ganeti/os" / name
        dest = target / name
        dest.mkdir(parents=True)
        for entry in sorted(source.iterdir()):
            if entry.is_symlink() and os.readlink(entry).startswith("/"):
                (dest / entry.name).symlink_to(ganeti_reference / os.readlink(entry).lstrip("/"))
            else:
                shutil.copy2(entry, dest / entry.name)
    return target
