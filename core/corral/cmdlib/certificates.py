"""``gnt-cluster renew-crypto`` (OP_CLUSTER_RENEW_CRYPTO): new node certificates, a new CA.

Nothing stops while it runs: the node daemons swap their certificates and
trust in place. A new CA is brought in so that no node is ever cut off:

1. every online node trusts the new CA *and* the old one;
2. the master (and every candidate) takes the new CA key;
3. each node makes a new key and certificate request, the master signs it
   with the current CA, and the node serves with the new certificate;
4. once every online node has one, nodes trust the current CA only.

A node that misses step 3 keeps working with its old certificate, and the
old CA stays trusted until a later ``renew-crypto --new-node-certificates``
completes everywhere. Offline nodes are left alone (after a CA renewal they
must be re-added), as in Ganeti.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from typing import Any

from twisted.internet import defer
from twisted.internet import threads

from corral.api.errors import OpExecError
from corral.api.errors import OpPrereqError
from corral.atomicfile import write_atomically
from corral.cmdlib.base import LogicalUnit
from corral.config.writer import target
from corral.crypto.ca import ClusterCA
from corral.paths import ca_key_file

if TYPE_CHECKING:
    from corral.config.objects import Node
    from corral.rpc.client import NodeResult


def _failed(results: dict[str, NodeResult]) -> dict[str, str]:
    return {name: r.error or "" for name, r in sorted(results.items()) if not r.ok}


class LUClusterRenewCrypto(LogicalUnit):
    OP_ID = "OP_CLUSTER_RENEW_CRYPTO"
    REQ_BGL = True  # alone on the cluster: no other job calls nodes mid-swap

    def check_arguments(self) -> None:
        if self.op.renew_ssh_keys:
            raise OpPrereqError(
                "corral keeps no SSH keys between nodes (they join with one-time tokens,"
                " see docs/security.md): renew SSH keys with your site's tools"
            )
        if not (self.op.node_certificates or self.op.cluster_certificate):
            raise OpPrereqError(
                "nothing to renew: ask for --new-cluster-certificate or --new-node-certificates"
            )

    async def execute(self) -> Any:
        cfg = self.master.config
        online = [n for _, n in sorted(cfg.nodes.items()) if not n.offline]
        offline = sorted(n.name for n in cfg.nodes.values() if n.offline)
        result: dict[str, Any] = {"offline": offline}
        if self.op.cluster_certificate:
            result["ca_fingerprint"] = await self._new_ca(online, cfg.cluster.cluster_name)
            for name in offline:
                self.feedback(
                    f"WARNING: node {name} is offline and keeps the old CA: it cannot rejoin"
                    " the cluster as it is; remove it and add it again"
                )
        failed = await self._new_certificates(online)
        result["renewed"] = sorted(n.name for n in online if n.name not in failed)
        if failed:
            details = "; ".join(f"{name}: {error}" for name, error in failed.items())
            raise OpExecError(
                f"{len(failed)} node(s) could not get a new certificate ({details}). They keep"
                " their old ones, and every CA that signed one stays trusted: fix them and run"
                " 'gnt-cluster renew-crypto --new-node-certificates' again"
            )
        await self._trust_only_current(online)
        return result

    async def _new_ca(self, online: list[Node], cluster_name: str) -> str:
        """Steps 1 and 2: trust the new CA beside the old one, then sign with the new one."""
        live = self.master.credentials
        old_pem = b"".join(ClusterCA(c).cert_pem for c in live.creds.trusted)
        new = await threads.deferToThread(ClusterCA.create, cluster_name)
        self.feedback(f"Created a new cluster CA ({new.fingerprint[:16]}...)")
        bundle = (new.cert_pem + old_pem).decode()
        results = await self.master.rpc.call_many(
            self.master.targets(online), "ca_trust_write", {"ca": bundle}, timeout=30
        )
        failed = _failed(results)
        if failed:
            took = [n for n in online if n.name not in failed]
            await self.master.rpc.call_many(
                self.master.targets(took), "ca_trust_write", {"ca": old_pem.decode()}, timeout=30
            )
            details = "; ".join(f"{name}: {error}" for name, error in failed.items())
            raise OpExecError(
                f"cannot bring the new CA to every online node ({details}); nothing changed:"
                " bring those nodes back (or mark them offline) and try again"
            )
        self.feedback(f"All {len(online)} online node(s) trust the new CA beside the old one")

        await threads.deferToThread(write_atomically, ca_key_file(), new.key_pem, 0o600)
        await live.reload()
        self.master.cakeys.replace(new.key_pem)
        missing = await self.master.cakeys.sync()
        for name in sorted(missing):
            self.feedback(
                f"WARNING: master candidate {name} did not take the new CA key;"
                " the master tries again at its next catch-up"
            )
        self.feedback(
            "The master signs with the new CA from now on (join tokens made before it"
            " are no longer valid)"
        )
        return new.fingerprint

    async def _new_certificates(self, online: list[Node]) -> dict[str, str]:
        """Step 3 on every online node at once; returns the nodes that failed, with why."""
        rpc = self.master.rpc
        targets = {n.name: target(n) for n in online}
        self.feedback(f"Renewing the certificates of {len(online)} node(s)")
        requests = await rpc.call_many(list(targets.values()), "node_cert_request", timeout=30)
        failed = _failed(requests)
        ca = self.master.credentials.creds.ca
        signed: dict[str, str] = {}
        for node in online:
            request = requests[node.name]
            if not request.ok:
                continue
            addresses = [a for a in dict.fromkeys([node.primary_ip, node.secondary_ip]) if a]
            try:
                signed[node.name] = ca.sign_request(
                    str(request.result).encode(), node.name, addresses
                ).decode()
            except OpPrereqError as err:
                failed[node.name] = str(err)
        installs: list[NodeResult] = await defer.gatherResults(
            [
                defer.Deferred.fromCoroutine(
                    rpc.call(targets[name], "node_cert_install", {"cert": cert}, timeout=30)
                )
                for name, cert in signed.items()
            ]
        )
        for answer in installs:
            if not answer.ok:
                failed[answer.node] = answer.error or ""
        # The master node's own certificate is the master daemon's client certificate.
        await self.master.credentials.reload()
        self.feedback(f"{len(signed) - len(failed.keys() & signed.keys())} node(s) renewed")
        return failed

    async def _trust_only_current(self, online: list[Node]) -> None:
        """Step 4: every certificate is the current CA's, so only it stays trusted.

        Sent to every node even when no CA changed: it also ends a CA
        renewal that an earlier run could not finish.
        """
        live = self.master.credentials
        current = live.creds.ca.cert_pem.decode()
        results = await self.master.rpc.call_many(
            self.master.targets(online), "ca_trust_write", {"ca": current}, timeout=30
        )
        for name, error in _failed(results).items():
            self.feedback(f"WARNING: node {name} may still trust an old CA: {error}")
        await live.reload()
        self.feedback("The nodes trust the current cluster CA only")
