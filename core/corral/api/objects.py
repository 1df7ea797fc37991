"""Read-only views of config objects, for plugins that need to look at the cluster.

They are the core's frozen config dataclasses: a plugin can read every
field but cannot change one (``dataclasses.FrozenInstanceError``); changes
go through opcodes. Parameter dicts hold only the values set at that level
(see :mod:`corral.config.inheritance` for the effective ones).
"""

from corral.config.objects import AdminState
from corral.config.objects import Cluster
from corral.config.objects import ConfigData
from corral.config.objects import Disk
from corral.config.objects import Instance
from corral.config.objects import Network
from corral.config.objects import Nic
from corral.config.objects import Node
from corral.config.objects import NodeGroup

__all__ = [
    "AdminState",
    "Cluster",
    "ConfigData",
    "Disk",
    "Instance",
    "Network",
    "Nic",
    "Node",
    "NodeGroup",
]
