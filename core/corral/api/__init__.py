"""The public plugin API of corral: the only module plugins import from.

It holds the driver base classes (one per plugin kind), the pluggy
``hookimpl`` marker, read-only views of config objects, the errors plugins
raise, and :data:`API_VERSION`.

Names load on first use (PEP 562): a command that only needs
``corral.api.errors`` does not pay for the driver classes, marshmallow and
Twisted, which is a third of a second at every ``gnt-*`` start.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING
from typing import Any

import pluggy

if TYPE_CHECKING:
    from corral.api.cli import Command
    from corral.api.collector import CollectorKind
    from corral.api.collector import DataCollector
    from corral.api.context import DriverContext
    from corral.api.driver import API_VERSION
    from corral.api.driver import Driver
    from corral.api.errors import CommandError
    from corral.api.errors import ConfigError
    from corral.api.errors import CorralError
    from corral.api.errors import HookVeto
    from corral.api.errors import HypervisorError
    from corral.api.errors import NetworkError
    from corral.api.errors import OpExecError
    from corral.api.errors import OpPrereqError
    from corral.api.errors import ParameterError
    from corral.api.errors import PluginError
    from corral.api.errors import StorageError
    from corral.api.hypervisor import BlockDevice
    from corral.api.hypervisor import ConsoleInfo
    from corral.api.hypervisor import Hypervisor
    from corral.api.hypervisor import InstanceSpec
    from corral.api.hypervisor import InstanceState
    from corral.api.hypervisor import MigrationStatus
    from corral.api.hypervisor import NicSpec
    from corral.api.hypervisor import NodeHvInfo
    from corral.api.hypervisor import RunningInstance
    from corral.api.iallocator import IAllocator
    from corral.api.network import NetworkLink
    from corral.api.osdef import OSDefinition
    from corral.api.params import ParamsSchema
    from corral.api.params import validate_params
    from corral.api.process import ProcessResult
    from corral.api.process import ProcessRunner
    from corral.api.storage import DiskSpec
    from corral.api.storage import DiskTemplate
    from corral.api.storage import VolumeInfo
    from corral.atomicfile import fsync_dir
    from corral.atomicfile import write_atomically

#: Marks a function or method as an implementation of a ``corral_*`` hook.
hookimpl = pluggy.HookimplMarker("corral")

#: Where each public name lives.
_HOME: dict[str, str] = {
    "Command": "corral.api.cli",
    "CollectorKind": "corral.api.collector",
    "DataCollector": "corral.api.collector",
    "DriverContext": "corral.api.context",
    "API_VERSION": "corral.api.driver",
    "Driver": "corral.api.driver",
    "CommandError": "corral.api.errors",
    "ConfigError": "corral.api.errors",
    "CorralError": "corral.api.errors",
    "HookVeto": "corral.api.errors",
    "HypervisorError": "corral.api.errors",
    "NetworkError": "corral.api.errors",
    "OpExecError": "corral.api.errors",
    "OpPrereqError": "corral.api.errors",
    "ParameterError": "corral.api.errors",
    "PluginError": "corral.api.errors",
    "StorageError": "corral.api.errors",
    "BlockDevice": "corral.api.hypervisor",
    "ConsoleInfo": "corral.api.hypervisor",
    "Hypervisor": "corral.api.hypervisor",
    "InstanceSpec": "corral.api.hypervisor",
    "InstanceState": "corral.api.hypervisor",
    "MigrationStatus": "corral.api.hypervisor",
    "NicSpec": "corral.api.hypervisor",
    "NodeHvInfo": "corral.api.hypervisor",
    "RunningInstance": "corral.api.hypervisor",
    "IAllocator": "corral.api.iallocator",
    "NetworkLink": "corral.api.network",
    "OSDefinition": "corral.api.osdef",
    "ParamsSchema": "corral.api.params",
    "validate_params": "corral.api.params",
    "ProcessResult": "corral.api.process",
    "ProcessRunner": "corral.api.process",
    "DiskSpec": "corral.api.storage",
    "DiskTemplate": "corral.api.storage",
    "VolumeInfo": "corral.api.storage",
    "fsync_dir": "corral.atomicfile",
    "write_atomically": "corral.atomicfile",
}


def __getattr__(name: str) -> Any:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module 'corral.api' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value  # once found, a plain module attribute
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


__all__ = [
    "API_VERSION",
    "BlockDevice",
    "CollectorKind",
    "Command",
    "CommandError",
    "ConfigError",
    "ConsoleInfo",
    "CorralError",
    "DataCollector",
    "DiskSpec",
    "DiskTemplate",
    "Driver",
    "DriverContext",
    "HookVeto",
    "Hypervisor",
    "HypervisorError",
    "IAllocator",
    "InstanceSpec",
    "InstanceState",
    "MigrationStatus",
    "NetworkError",
    "NetworkLink",
    "NicSpec",
    "NodeHvInfo",
    "OSDefinition",
    "OpExecError",
    "OpPrereqError",
    "ParameterError",
    "ParamsSchema",
    "PluginError",
    "ProcessResult",
    "ProcessRunner",
    "RunningInstance",
    "StorageError",
    "VolumeInfo",
    "fsync_dir",
    "hookimpl",
    "validate_params",
    "write_atomically",
]
