"""Giving the cluster CA key to the master candidates, so any of them can sign after a failover.

The key goes only to candidates (over mutual TLS, to nodes whose
certificate names them), and a demoted node deletes it (see the node
daemon's ``demote``). Each candidate is sent the key once per master daemon
run; one that could not be reached is tried again with the next change or
catch-up.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from twisted.logger import Logger

if TYPE_CHECKING:
    from collections.abc import Callable

    from corral.rpc.client import RpcClient
    from corral.rpc.client import Target

log = Logger()


class CaKeyKeeper:
    def __init__(
        self, rpc: RpcClient, candidates: Callable[[], list[Target]], key_pem: bytes
    ) -> None:
        self._rpc = rpc
        self._candidates = candidates
        self._key = key_pem.decode()
        self._holders: set[str] = set()

    def replace(self, key_pem: bytes) -> None:
        """A new CA key (``renew-crypto``): every candidate is due for it."""
        self._key = key_pem.decode()
        self._holders.clear()

    async def sync(self) -> set[str]:
        """Send the key to candidates that may lack it; returns those that still do."""
        targets = {t.name: t for t in self._candidates() if not t.offline}
        self._holders &= targets.keys()
        due = [t for name, t in targets.items() if name not in self._holders]
        if not due:
            return set()
        results = await self._rpc.call_many(due, "ca_key_write", {"key": self._key}, timeout=30)
        missing = set()
        for name, result in results.items():
            if result.ok:
                self._holders.add(name)
            else:
                missing.add(name)
                log.warn("cannot give the CA key to candidate {node}: {error}", node=name,
                         error=result.error)  # fmt: skip
        return missing
