"""What the master daemon's logical units and queries share: the config and the nodes."""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field
from typing import TYPE_CHECKING

from corral.config.writer import target

if TYPE_CHECKING:
    from corral.config.objects import ConfigData
    from corral.config.objects import Node
    from corral.config.writer import ConfigWriter
    from corral.crypto.tls import LiveCredentials
    from corral.masterd.cakey import CaKeyKeeper
    from corral.plugins.registry import DriverRegistry
    from corral.rpc.client import RpcClient
    from corral.rpc.client import Target


@dataclass
class MasterContext:
    """The cluster as the master sees it (None in a master daemon without a cluster).

    ``credentials`` are the master's own TLS identity (the cluster CA with
    its key, and the master node's certificate); ``cakeys`` hands the CA key
    to the candidates. ``reserved`` lets instance creations on one node run
    at once without promising the same memory twice (they hold the node
    locks shared).
    """

    writer: ConfigWriter
    rpc: RpcClient
    registry: DriverRegistry
    credentials: LiveCredentials
    cakeys: CaKeyKeeper = field(init=False)
    #: Memory (MiB) promised to instances being created or started, by node UUID:
    #: what the hypervisor's free memory does not show yet.
    reserved: dict[str, int] = field(default_factory=dict)

    def reserve(self, node_uuid: str, memory: int) -> None:
        self.reserved[node_uuid] = self.reserved.get(node_uuid, 0) + memory

    def unreserve(self, node_uuid: str, memory: int) -> None:
        left = self.reserved.get(node_uuid, 0) - memory
        if left > 0:
            self.reserved[node_uuid] = left
        else:
            self.reserved.pop(node_uuid, None)

    @property
    def config(self) -> ConfigData:
        return self.writer.config

    def targets(self, nodes: list[Node]) -> list[Target]:
        return [target(n) for n in nodes]

    def candidates(self) -> list[Target]:
        """The other master candidates (which hold config and job queue replicas)."""
        cfg = self.config
        return [
            target(n)
            for uuid, n in sorted(cfg.nodes.items())
            if n.master_candidate and uuid != cfg.cluster.master_node
        ]
