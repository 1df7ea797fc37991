"""Replacing a file so that readers and crashes see the old or the new content, never a mix."""

from __future__ import annotations

import contextlib
import itertools
import os
import threading
from dataclasses import dataclass
from pathlib import Path

#: Numbers the temporary files of this process (with its pid: names never clash).
_serial = itertools.count()


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
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC
    while True:
        tmp = path.parent / f".{path.name}.{os.getpid()}-{next(_serial)}.tmp"
        try:
            fd = os.open(tmp, flags, mode)
            break
        except FileExistsError:  # left by a crashed process that had this pid
            continue
    try:
        try:
            os.fchmod(fd, mode)  # exactly ``mode``, whatever the umask
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return tmp


@dataclass
class _DirState:
    requested: int = 0
    completed: int = 0
    running: bool = False


_dir_lock = threading.Condition()
_dirs: dict[str, _DirState] = {}


def fsync_dir(path: Path | str) -> None:
    """Make a rename or unlink in directory ``path`` durable.

    Threads that need the same directory synced at the same time share one
    fsync: one started after a thread asked covers that thread's change, so
    a burst of job files written together costs a few directory syncs, not
    one each.
    """
    key = os.fspath(path)
    with _dir_lock:
        state = _dirs.setdefault(key, _DirState())
        state.requested += 1
        ticket = state.requested
        while state.completed < ticket:
            if not state.running:
                state.running = True
                covered = state.requested
                break
            _dir_lock.wait()
        else:
            return
    done = False
    try:
        dir_fd = os.open(key, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
        done = True
    finally:
        with _dir_lock:
            state.running = False
            if done:
                state.completed = max(state.completed, covered)
            _dir_lock.notify_all()
