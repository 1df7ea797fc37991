"""Fixtures every corral test and plugin test can use (loaded via ``pytest11``)."""

from __future__ import annotations

from typing import TYPE_CHECKING
from typing import Any

import pytest

from corral.api.context import DriverContext

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path


@pytest.fixture
def reactor() -> Any:
    """The real reactor that pytest-twisted runs for the whole session."""
    from twisted.internet import reactor as the_reactor

    return the_reactor


@pytest.fixture
def driver_context(tmp_path: Path, reactor: Any) -> Iterator[DriverContext]:
    """A :class:`DriverContext` whose state root is a fresh temporary directory."""
    state = tmp_path / "node-state"
    state.mkdir()
    yield DriverContext.create(reactor, state, node_name="node1.example.com")
