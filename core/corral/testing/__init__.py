"""Test support for corral and its plugin authors (install ``corral[testing]``).

A plugin proves it follows its driver contract by subclassing the
conformance suite of its kind (``HypervisorConformance``,
``DiskTemplateConformance``) in its own tests. The fixtures in
:mod:`corral.testing.pytest_plugin` reach pytest through the ``pytest11``
entry point. The suites are imported on first use, so that plugin stays
harmless where the testing extra is not installed.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING
from typing import Any

if TYPE_CHECKING:  # what the lazy names below resolve to, for type checkers
    from corral.testing.asyncio import async_test
    from corral.testing.hypervisor import HypervisorConformance
    from corral.testing.storage import DiskTemplateConformance

_LAZY = {
    "async_test": "corral.testing.asyncio",
    "HypervisorConformance": "corral.testing.hypervisor",
    "DiskTemplateConformance": "corral.testing.storage",
}

__all__ = ["DiskTemplateConformance", "HypervisorConformance", "async_test"]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'corral.testing' has no attribute {name!r}")
    return getattr(import_module(module), name)
