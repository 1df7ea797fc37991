"""write_atomically: readers see the old or the new file, never a mix or a leftover."""

from __future__ import annotations

import os

import pytest

from corral.atomicfile import write_atomically


def test_replaces_content_with_mode(tmp_path) -> None:
    target = tmp_path / "f"
    target.write_bytes(b"old")
    write_atomically(target, b"new", mode=0o640)
    assert target.read_bytes() == b"new"
    assert (target.stat().st_mode & 0o777) == 0o640
    assert os.listdir(tmp_path) == ["f"]


def test_failure_leaves_old_content_and_no_temporary(tmp_path, monkeypatch) -> None:
    target = tmp_path / "f"
    target.write_bytes(b"old")
    monkeypatch.setattr(os, "fsync", lambda fd: (_ for _ in ()).throw(OSError("I/O error")))
    with pytest.raises(OSError, match="I/O error"):
        write_atomically(target, b"new")
    assert target.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["f"]


def test_threads_syncing_one_directory_at_once_share_the_fsync(tmp_path, monkeypatch) -> None:
    import threading
    import time

    from corral.atomicfile import fsync_dir

    real_fsync = os.fsync
    syncs: list[float] = []  # when each directory fsync started
    returned: dict[int, float] = {}
    asked: dict[int, float] = {}

    def slow_fsync(fd: int) -> None:
        syncs.append(time.monotonic())
        time.sleep(0.05)
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", slow_fsync)

    def worker(index: int) -> None:
        asked[index] = time.monotonic()
        fsync_dir(tmp_path)
        returned[index] = time.monotonic()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(returned) == 20
    assert len(syncs) < 20 / 2  # shared, not one each
    for index, when in asked.items():
        # Each caller waited for a sync that started after it asked.
        assert any(when <= start and start + 0.05 <= returned[index] for start in syncs)
