"""Replacing a file so that readers and crashes see the old or the new content, never a mix."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


def write_atomically(
    path: Path | str, data: bytes, mode: int = 0o600, *, sync_dir: bool = True
) -> None:
    """Write ``data`` to ``path``: temp file in the same directory, fsync, rename, fsync dir.

    If anything fails the temporary file is removed and ``path`` keeps its
    previous content. Blocking: daemons call it from a thread. A caller
    replacing several files in one directory may pass ``sync_dir=False``
    and call :func:`fsync_dir` once at the end.
    """
    target = Path(path)
    tmp = write_temporary(target, data, mode)
    try:
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    if sync_dir:
        fsync_dir(target.parent)


def write_temporary(path: Path, data: bytes, mode: int = 0o600) -> Path:
    """The first half of :func:`write_atomically`: ``data`` in a synced file beside ``path``.

    ``os.replace`` of the returned file over ``path`` (then :func:`fsync_dir`)
    publishes it. Several of these may run in parallel threads, so their
    fsyncs overlap where one after the other they would add up.
    """
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return Path(tmp)


def fsync_dir(path: Path | str) -> None:
    """Make a rename or unlink in directory ``path`` durable."""
    dir_fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
