"""The network driver interface (entry-point group ``corral.network``).

One driver per NIC link mode (``bridged``, ``routed``, ``openvswitch``):
``nicparams["mode"]`` selects it, the rest of nicparams are its parameters.
"""

from __future__ import annotations

from abc import abstractmethod
from typing import TYPE_CHECKING

from corral.api.driver import Driver

if TYPE_CHECKING:
    from corral.api.hypervisor import NicSpec


class NetworkLink(Driver):
    """Connects an instance's host-side interface to the network."""

    kind = "network"

    @abstractmethod
    async def connect(self, nic: NicSpec, interface: str) -> None:
        """Attach host interface ``interface`` (a tap, a veth) as ``nic`` says."""

    @abstractmethod
    async def disconnect(self, nic: NicSpec, interface: str) -> None:
        """Undo :meth:`connect`; a missing interface is not an error."""

    async def verify(self, link: str) -> list[str]:
        """Problems with ``link`` on this node (a missing bridge, ...)."""
        return []
