"""What the core hands a driver when it builds one (never globals)."""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field
from pathlib import Path
from typing import Any

from twisted.logger import Logger

from corral.api.process import ProcessRunner


@dataclass(frozen=True)
class DriverContext:
    """Injected into every driver's constructor.

    ``state_dir`` is the node's private state root (``/var/lib/corral`` on a
    real node, a per-node directory in a vcluster); a driver keeps its
    persistent files in ``state_dir / <kind> / <name>`` via :meth:`driver_dir`.
    """

    reactor: Any
    state_dir: Path
    runner: ProcessRunner
    node_name: str = "localhost"
    log: Logger = field(default_factory=lambda: Logger(namespace="corral.driver"))

    @classmethod
    def create(
        cls, reactor: Any, state_dir: Path | str, node_name: str = "localhost"
    ) -> DriverContext:
        return cls(reactor, Path(state_dir), ProcessRunner(reactor), node_name)

    def driver_dir(self, kind: str, name: str) -> Path:
        """Return (and create) the directory a driver keeps its own state in."""
        path = self.state_dir / kind / name
        path.mkdir(parents=True, exist_ok=True)
        return path
