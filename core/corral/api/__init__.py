"""The public plugin API of corral: the only module plugins import from.

It holds the driver base classes (one per plugin kind), the pluggy
``hookimpl`` marker, read-only views of config objects, the errors plugins
raise, and :data:`API_VERSION`.
"""

import pluggy

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
