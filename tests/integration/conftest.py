"""A real corral-masterd process per test, in its own CORRAL_ROOTDIR."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from typing import TYPE_CHECKING

import pytest

from corral.luxi.client import Client

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path


class Master:
    """Starts, kills and restarts a corral-masterd below ``root``."""

    def __init__(self, root: Path, *args: str) -> None:
        self.root = root
        self.args = args
        self.proc: subprocess.Popen[bytes] | None = None
        self.socket = root / "var/run/corral/socket/corral-master"
        self.log = root / "masterd.log"

    def start(self) -> None:
        env = {**os.environ, "CORRAL_ROOTDIR": str(self.root), "GNT_DISABLE_PLUGIN_AUTOLOAD": "1"}
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "corral.masterd.daemon", *self.args],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"corral-masterd exited: {self.log.read_text()}")
            try:
                with Client(self.socket, timeout=5) as client:
                    client.call("QueryJobs", [], ["id"])
                return
            except Exception:
                time.sleep(0.05)
        raise AssertionError(f"corral-masterd did not come up: {self.log.read_text()}")

    def kill(self, sig: int = signal.SIGKILL) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)
        self.proc.wait(timeout=20)

    def client(self) -> Client:
        return Client(self.socket, timeout=60)


@pytest.fixture
def master_factory(tmp_path: Path) -> Iterator[type[Master]]:
    started: list[Master] = []

    def make(*args: str) -> Master:
        master = Master(tmp_path, *args)
        master.start()
        started.append(master)
        return master

    yield make  # type: ignore[misc]
    for master in started:
        if master.proc is not None and master.proc.poll() is None:
            master.kill(signal.SIGTERM)
