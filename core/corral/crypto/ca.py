"""The cluster CA and the node certificates it signs.

``gnt-cluster init`` creates the CA on the first master; its key stays on
the master (and, for failover, on master candidates). Each node gets a
certificate whose subject and subjectAltName carry the node's name (and its
addresses), so a client can check it talks to the node it meant
(service-identity), and the node can tell which cluster member calls it.
Keys are ECDSA P-256: small, and quick to handshake on every RPC.
"""

from __future__ import annotations

import datetime
import hashlib
import ipaddress
from dataclasses import dataclass
from typing import TYPE_CHECKING

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID
from cryptography.x509.oid import NameOID

from corral.api.errors import OpPrereqError

if TYPE_CHECKING:
    from collections.abc import Iterable
    from pathlib import Path

#: Validity of the CA and of node certificates (Ganeti's default is 5 years too).
CA_DAYS = 5 * 365
NODE_DAYS = 5 * 365


class CertificateError(OpPrereqError):
    """A certificate or key is missing, unreadable, or not the cluster's.

    A prerequisite error: it travels to clients (over RPC and LUXI) as one.
    """


def _new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def fingerprint(cert: x509.Certificate) -> str:
    """SHA-256 of the DER form, as hex: what a join token pins."""
    return hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()


def common_name(cert: x509.Certificate) -> str:
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(names[0].value) if names else ""


def load_certificate(pem: bytes, what: str = "certificate") -> x509.Certificate:
    try:
        return x509.load_pem_x509_certificate(pem)
    except ValueError as err:
        raise CertificateError(f"{what} is not a valid PEM certificate: {err}") from None


def load_certificates(pem: bytes, what: str = "certificate file") -> list[x509.Certificate]:
    """Every certificate in a PEM bundle (a CA file holds two while its CA is renewed)."""
    try:
        certs = x509.load_pem_x509_certificates(pem)
    except ValueError as err:
        raise CertificateError(f"{what} holds no valid PEM certificate: {err}") from None
    return certs


def make_csr(node_name: str) -> tuple[bytes, bytes]:
    """A new key and a certificate request for ``node_name``: (key PEM, CSR PEM).

    A joining node makes its key itself, so the key never crosses the wire.
    """
    key = _new_key()
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, node_name)]))
        .sign(key, hashes.SHA256())
    )
    return _key_pem(key), csr.public_bytes(serialization.Encoding.PEM)


@dataclass(frozen=True)
class ClusterCA:
    """The CA certificate, and its key where this node holds it."""

    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey | None = None

    @classmethod
    def create(cls, cluster_name: str, days: int = CA_DAYS) -> ClusterCA:
        key = _new_key()
        # A serial in the subject tells a renewed CA from the one it replaces:
        # while both are trusted, OpenSSL finds a certificate's issuer by name.
        name = x509.Name(
            [
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "corral"),
                x509.NameAttribute(NameOID.COMMON_NAME, f"corral cluster CA {cluster_name}"),
                x509.NameAttribute(NameOID.SERIAL_NUMBER, f"{x509.random_serial_number():x}"),
            ]
        )
        start = _now() - datetime.timedelta(minutes=5)  # tolerate a little clock skew
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(start + datetime.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=False,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
            .sign(key, hashes.SHA256())
        )
        return cls(cert, key)

    @classmethod
    def load(cls, cert_path: Path, key_path: Path | None = None) -> ClusterCA:
        """Read the CA certificate (and its key, if ``key_path`` is given and exists).

        The file may hold several CAs (while the CA is renewed): the current
        one is the first, or where the key is held, the one the key is for.
        """
        certs = load_trusted(cert_path)
        key = None
        if key_path is not None and key_path.exists():
            loaded = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
            if not isinstance(loaded, ec.EllipticCurvePrivateKey):
                raise CertificateError(f"cluster CA key {key_path} is not an ECDSA key")
            key = loaded
            for cert in certs:
                if cls(cert, key).key_matches():
                    return cls(cert, key)
        return cls(certs[0], key)

    @property
    def cert_pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    @property
    def key_pem(self) -> bytes:
        return _key_pem(self._signing_key())

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.cert)

    def _signing_key(self) -> ec.EllipticCurvePrivateKey:
        if self.key is None:
            raise CertificateError(
                "this node does not hold the cluster CA key: sign certificates on the master"
            )
        return self.key

    def issue(self, node_name: str, addresses: Iterable[str] = (), days: int = NODE_DAYS) -> bytes:
        """A new key and certificate for a node, as one PEM (key first, like server.pem)."""
        key = _new_key()
        cert = self._sign(key.public_key(), node_name, addresses, days)
        return _key_pem(key) + cert.public_bytes(serialization.Encoding.PEM)

    def sign_request(
        self, csr_pem: bytes, node_name: str, addresses: Iterable[str] = (), days: int = NODE_DAYS
    ) -> bytes:
        """Sign a joining node's request; the name is the one the token was made for."""
        try:
            csr = x509.load_pem_x509_csr(csr_pem)
        except ValueError as err:
            raise CertificateError(f"not a valid certificate request: {err}") from None
        if not csr.is_signature_valid:
            raise CertificateError("the certificate request's signature does not match its key")
        public = csr.public_key()
        if not isinstance(public, ec.EllipticCurvePublicKey):
            raise CertificateError("the certificate request must carry an ECDSA key")
        cert = self._sign(public, node_name, addresses, days)
        return cert.public_bytes(serialization.Encoding.PEM)

    def _sign(
        self,
        public: ec.EllipticCurvePublicKey,
        node_name: str,
        addresses: Iterable[str],
        days: int,
    ) -> x509.Certificate:
        alt: list[x509.GeneralName] = [x509.DNSName(node_name)]
        alt += [x509.IPAddress(ipaddress.ip_address(a)) for a in addresses]
        start = _now() - datetime.timedelta(minutes=5)
        return (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, node_name)]))
            .issuer_name(self.cert.subject)
            .public_key(public)
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(start + datetime.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.SubjectAlternativeName(alt), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self._ca_public()),
                critical=False,
            )
            .add_extension(
                x509.ExtendedKeyUsage(
                    [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
                ),
                critical=False,
            )
            .sign(self._signing_key(), hashes.SHA256())
        )

    def _ca_public(self) -> ec.EllipticCurvePublicKey:
        public = self.cert.public_key()
        if not isinstance(public, ec.EllipticCurvePublicKey):
            raise CertificateError("the cluster CA certificate must carry an ECDSA key")
        return public

    def key_matches(self) -> bool:
        """Whether the key held is the CA certificate's own."""
        public = self.cert.public_key()
        if self.key is None or not isinstance(public, ec.EllipticCurvePublicKey):
            return False
        return self.key.public_key().public_numbers() == public.public_numbers()

    def signed(self, cert: x509.Certificate) -> bool:
        """Whether this CA signed ``cert`` (signature only; validity is checked apart)."""
        public = self.cert.public_key()
        if cert.issuer != self.cert.subject or not isinstance(public, ec.EllipticCurvePublicKey):
            return False
        try:
            cert.verify_directly_issued_by(self.cert)
        except (ValueError, TypeError, InvalidSignature):
            return False
        return True


def is_ca(cert: x509.Certificate) -> bool:
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False


def public_key_matches(key_pem: bytes, cert: x509.Certificate) -> bool:
    """Whether ``cert`` is for the private key in ``key_pem``."""
    key = serialization.load_pem_private_key(key_pem, password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        return False
    public = cert.public_key()
    return (
        isinstance(public, ec.EllipticCurvePublicKey)
        and key.public_key().public_numbers() == public.public_numbers()
    )


def load_trusted(cert_path: Path) -> list[x509.Certificate]:
    """The CA certificates a node trusts: its CA file, current CA first."""
    try:
        pem = cert_path.read_bytes()
    except FileNotFoundError:
        raise CertificateError(
            f"cluster CA certificate {cert_path} is missing: is this node part of a cluster?"
        ) from None
    return load_certificates(pem, f"cluster CA {cert_path}")


def days_left(cert: x509.Certificate, now: datetime.datetime | None = None) -> float:
    """Days until ``cert`` expires (negative once it has)."""
    left = cert.not_valid_after_utc - (now or _now())
    return left.total_seconds() / 86400
