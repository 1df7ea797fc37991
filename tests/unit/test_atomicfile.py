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
