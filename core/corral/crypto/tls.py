"""TLS settings for the node daemon and its clients, built on Twisted's ssl module.

The server asks every client for a certificate and checks it against the
cluster CA during the handshake; a client without one gets through the
handshake only to reach the join method (which a node calls before it has
a certificate), and every other method refuses it. Clients always check
the node's certificate chain *and* that it was issued for the node's name.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from twisted.internet import ssl

from corral.crypto.ca import CertificateError
from corral.crypto.ca import ClusterCA
from corral.crypto.ca import load_certificate

if TYPE_CHECKING:
    from pathlib import Path

    from cryptography import x509
    from twisted.internet.interfaces import IOpenSSLClientConnectionCreator


@dataclass(frozen=True)
class NodeCredentials:
    """What one node needs for TLS: the cluster CA and its own key and certificate."""

    ca: ClusterCA
    node_pem: bytes  # key + certificate (server.pem)

    @classmethod
    def load(
        cls, ca_path: Path, node_path: Path, ca_key_path: Path | None = None
    ) -> NodeCredentials:
        ca = ClusterCA.load(ca_path, ca_key_path)
        try:
            pem = node_path.read_bytes()
        except FileNotFoundError:
            raise CertificateError(
                f"node certificate {node_path} is missing: join the node to a cluster first"
            ) from None
        creds = cls(ca, pem)
        if not ca.signed(creds.cert):
            raise CertificateError(f"node certificate {node_path} was not signed by the cluster CA")
        return creds

    @property
    def cert(self) -> x509.Certificate:
        return load_certificate(self.node_pem, "node certificate")

    def _private(self) -> ssl.PrivateCertificate:
        private: ssl.PrivateCertificate = ssl.PrivateCertificate.loadPEM(self.node_pem)
        return private

    def _trust(self) -> ssl.Certificate:
        return ssl.Certificate.loadPEM(self.ca.cert_pem)

    def server_options(self) -> ssl.CertificateOptions:
        """For noded: present the node's certificate, verify clients' against the CA."""
        private = self._private()
        return ssl.CertificateOptions(
            privateKey=private.privateKey.original,
            certificate=private.original,
            verify=True,
            caCerts=[self._trust().original],
            requireCertificate=False,  # the join method is the one exception; see module doc
            raiseMinimumTo=ssl.TLSVersion.TLSv1_2,
        )

    def client_options(self, node_name: str) -> IOpenSSLClientConnectionCreator:
        """For calls to ``node_name``: its certificate must be the CA's and name it."""
        return ssl.optionsForClientTLS(
            node_name,
            trustRoot=self._trust(),
            clientCertificate=self._private(),
            extraCertificateOptions={"raiseMinimumTo": ssl.TLSVersion.TLSv1_2},
        )


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
