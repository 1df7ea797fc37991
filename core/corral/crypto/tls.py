"""TLS settings for the node daemon and its clients, built on Twisted's ssl module.

The server asks every client for a certificate and checks it against the
cluster CA during the handshake; a client without one gets through the
handshake only to reach the join method (which a node calls before it has
a certificate), and every other method refuses it. Clients always check
the node's certificate chain *and* that it was issued for the node's name.
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field
from typing import TYPE_CHECKING

from OpenSSL import SSL
from twisted.internet import ssl
from twisted.internet import threads
from twisted.internet.interfaces import IOpenSSLServerConnectionCreator
from zope.interface import implementer

from corral.crypto.ca import CertificateError
from corral.crypto.ca import ClusterCA
from corral.crypto.ca import load_certificate
from corral.crypto.ca import load_trusted

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from cryptography import x509
    from twisted.internet.interfaces import IOpenSSLClientConnectionCreator
    from twisted.protocols.tls import TLSMemoryBIOProtocol


@dataclass(frozen=True)
class NodeCredentials:
    """What one node needs for TLS: the cluster CA and its own key and certificate.

    ``trusted`` holds every CA the node accepts: the current one, and while
    the CA is being renewed, the one it replaces (``gnt-cluster renew-crypto``).
    """

    ca: ClusterCA
    node_pem: bytes  # key + certificate (server.pem)
    trusted: tuple[x509.Certificate, ...] = field(default=())

    @classmethod
    def load(
        cls, ca_path: Path, node_path: Path, ca_key_path: Path | None = None
    ) -> NodeCredentials:
        ca = ClusterCA.load(ca_path, ca_key_path)
        trusted = tuple(load_trusted(ca_path))
        try:
            pem = node_path.read_bytes()
        except FileNotFoundError:
            raise CertificateError(
                f"node certificate {node_path} is missing: join the node to a cluster first"
            ) from None
        creds = cls(ca, pem, trusted)
        if not creds.signed(creds.cert):
            raise CertificateError(f"node certificate {node_path} was not signed by the cluster CA")
        return creds

    def _authorities(self) -> tuple[x509.Certificate, ...]:
        return self.trusted or (self.ca.cert,)

    def signed(self, cert: x509.Certificate) -> bool:
        """Whether a CA this node trusts signed ``cert``."""
        return any(ClusterCA(ca).signed(cert) for ca in self._authorities())

    @property
    def cert(self) -> x509.Certificate:
        return load_certificate(self.node_pem, "node certificate")

    def _private(self) -> ssl.PrivateCertificate:
        private: ssl.PrivateCertificate = ssl.PrivateCertificate.loadPEM(self.node_pem)
        return private

    def _trust(self) -> list[ssl.Certificate]:
        return [ssl.Certificate.loadPEM(ClusterCA(ca).cert_pem) for ca in self._authorities()]

    def server_options(self) -> ssl.CertificateOptions:
        """For noded: present the node's certificate, verify clients' against the CA."""
        private = self._private()
        return ssl.CertificateOptions(
            privateKey=private.privateKey.original,
            certificate=private.original,
            verify=True,
            caCerts=[ca.original for ca in self._trust()],
            requireCertificate=False,  # the join method is the one exception; see module doc
            raiseMinimumTo=ssl.TLSVersion.TLSv1_2,
        )

    def client_options(self, node_name: str) -> IOpenSSLClientConnectionCreator:
        """For calls to ``node_name``: its certificate must be the CA's and name it."""
        return ssl.optionsForClientTLS(
            node_name,
            trustRoot=ssl.trustRootFromCertificates(self._trust()),
            clientCertificate=self._private(),
            extraCertificateOptions={"raiseMinimumTo": ssl.TLSVersion.TLSv1_2},
        )


class LiveCredentials:
    """A daemon's credentials, which ``renew-crypto`` replaces while it runs.

    The node daemon listens with :meth:`server_creator`, which builds each
    new connection from the credentials of the moment; clients ask
    :meth:`client_options` per node. After :meth:`reload`, listeners (the
    RPC client drops its cached TLS endpoints) hear of the change.
    """

    def __init__(
        self, creds: NodeCredentials, ca_path: Path, node_path: Path, key_path: Path | None = None
    ) -> None:
        self.creds = creds
        self._paths = (ca_path, node_path, key_path)
        self._server: ssl.CertificateOptions | None = None
        self.listeners: list[Callable[[], None]] = []

    @classmethod
    def load(
        cls, ca_path: Path, node_path: Path, ca_key_path: Path | None = None
    ) -> LiveCredentials:
        return cls(NodeCredentials.load(ca_path, node_path, ca_key_path), ca_path, node_path,
                   ca_key_path)  # fmt: skip

    def read(self) -> NodeCredentials:
        """Read and check the files (blocking: call it in a thread); a bad set raises."""
        return NodeCredentials.load(*self._paths)

    def use(self, creds: NodeCredentials) -> None:
        """Serve and call with ``creds`` from now on (in the reactor thread)."""
        self.creds = creds
        self._server = None
        for listener in self.listeners:
            listener()

    async def reload(self) -> NodeCredentials:
        """Read the files again, and use what they hold."""
        creds = await threads.deferToThread(self.read)
        self.use(creds)
        return creds

    def server_creator(self) -> _ServerCreator:
        return _ServerCreator(self)

    def server_options(self) -> ssl.CertificateOptions:
        if self._server is None:
            self._server = self.creds.server_options()
        return self._server

    def client_options(self, node_name: str) -> IOpenSSLClientConnectionCreator:
        return self.creds.client_options(node_name)


@implementer(IOpenSSLServerConnectionCreator)
class _ServerCreator:
    """Server TLS connections made from whatever credentials are current."""

    def __init__(self, live: LiveCredentials) -> None:
        self._live = live

    def serverConnectionForTLS(self, tlsProtocol: TLSMemoryBIOProtocol) -> SSL.Connection:
        return SSL.Connection(self._live.server_options().getContext(), None)


def peer_name(peer: object | None) -> str | None:
    """The node name in the peer's certificate (an OpenSSL X509), or None.

    Only call it on a connection made with :meth:`NodeCredentials.server_options`:
    OpenSSL verified the certificate against the cluster CA (and nothing else)
    during the handshake, so its common name can be trusted as is.
    """
    subject = getattr(peer, "get_subject", None)
    if subject is None:
        return None
    name = subject().commonName
    return str(name) if name else None
