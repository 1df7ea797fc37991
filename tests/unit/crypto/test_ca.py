"""The cluster CA: node certificates it signs, and telling them from others'."""

from __future__ import annotations

import datetime

import pytest
from cryptography import x509

from corral.crypto.ca import CertificateError
from corral.crypto.ca import ClusterCA
from corral.crypto.ca import common_name
from corral.crypto.ca import days_left
from corral.crypto.ca import fingerprint
from corral.crypto.ca import load_certificate
from corral.crypto.ca import make_csr
from corral.crypto.tls import NodeCredentials


@pytest.fixture(scope="module")
def ca() -> ClusterCA:
    return ClusterCA.create("c1.example.com")


def _cert(pem: bytes) -> x509.Certificate:
    return load_certificate(pem)


def test_node_certificate_names_the_node_and_its_addresses(ca):
    pem = ca.issue("node1.example.com", ["192.0.2.1"])
    assert pem.startswith(b"-----BEGIN PRIVATE KEY-----")
    cert = _cert(pem)
    assert common_name(cert) == "node1.example.com"
    alt = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert alt.get_values_for_type(x509.DNSName) == ["node1.example.com"]
    assert [str(a) for a in alt.get_values_for_type(x509.IPAddress)] == ["192.0.2.1"]
    assert not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert 5 * 365 - 1 < days_left(cert) <= 5 * 365


def test_a_ca_knows_its_own_certificates_only(ca):
    other = ClusterCA.create("c2.example.com")
    mine, theirs = _cert(ca.issue("n.example.com")), _cert(other.issue("n.example.com"))
    assert ca.signed(mine) and not ca.signed(theirs)
    assert other.signed(theirs) and not other.signed(mine)
    assert not ca.signed(_self_signed("n.example.com"))


def _self_signed(name: str) -> x509.Certificate:
    """A certificate that only claims the CA's name as issuer."""
    impostor = ClusterCA.create("c1.example.com")  # same subject, other key
    return _cert(impostor.issue(name))


def test_a_request_is_signed_for_the_name_the_token_allows(ca):
    key_pem, csr_pem = make_csr("node2.example.com")
    cert = _cert(ca.sign_request(csr_pem, "node2.example.com", ["192.0.2.2"]))
    assert common_name(cert) == "node2.example.com" and ca.signed(cert)
    creds = NodeCredentials(ca, key_pem + ca.sign_request(csr_pem, "node2.example.com"))
    assert common_name(creds.cert) == "node2.example.com"


def test_a_damaged_request_is_refused(ca):
    with pytest.raises(CertificateError, match="not a valid certificate request"):
        ca.sign_request(b"-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n", "n.example.com")


def test_without_the_key_nothing_is_signed(ca, tmp_path):
    (tmp_path / "ca.pem").write_bytes(ca.cert_pem)
    public = ClusterCA.load(tmp_path / "ca.pem")
    assert public.fingerprint == fingerprint(ca.cert)
    with pytest.raises(CertificateError, match="does not hold the cluster CA key"):
        public.issue("n.example.com")
    assert public.signed(_cert(ca.issue("n.example.com")))


def test_key_round_trips_through_files(ca, tmp_path):
    (tmp_path / "ca.pem").write_bytes(ca.cert_pem)
    (tmp_path / "ca.key").write_bytes(ca.key_pem)
    loaded = ClusterCA.load(tmp_path / "ca.pem", tmp_path / "ca.key")
    assert loaded.signed(_cert(loaded.issue("n.example.com")))
    assert ca.signed(_cert(loaded.issue("n.example.com")))


def test_missing_files_say_what_to_do(tmp_path, ca):
    with pytest.raises(CertificateError, match="is missing: is this node part of a cluster"):
        ClusterCA.load(tmp_path / "nope.pem")
    (tmp_path / "ca.pem").write_bytes(ca.cert_pem)
    with pytest.raises(CertificateError, match="join the node to a cluster first"):
        NodeCredentials.load(tmp_path / "ca.pem", tmp_path / "server.pem")
    (tmp_path / "server.pem").write_bytes(ClusterCA.create("x").issue("n.example.com"))
    with pytest.raises(CertificateError, match="was not signed by the cluster CA"):
        NodeCredentials.load(tmp_path / "ca.pem", tmp_path / "server.pem")


def test_expiry_is_counted_in_days(ca):
    cert = _cert(ca.issue("n.example.com", days=10))
    later = datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=11)
    assert days_left(cert, later) < 0 < days_left(cert)


def test_garbage_is_not_a_certificate():
    with pytest.raises(CertificateError, match="not a valid PEM certificate"):
        load_certificate(b"hello")


def test_a_key_is_known_as_the_cas_own(ca):
    assert ca.key_matches()
    other = ClusterCA.create("c1.example.com")
    assert not ClusterCA(ca.cert, other.key).key_matches()
    assert not ClusterCA(ca.cert).key_matches()
