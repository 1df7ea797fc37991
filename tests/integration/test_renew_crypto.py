"""``gnt-cluster renew-crypto`` on a live cluster: new node certificates, then a new CA.

Real daemons on loopback addresses keep running throughout; after each
renewal the cluster is checked by calling every node and by ``verify``,
and the credentials it replaced are checked to be refused where they must be.
"""

from __future__ import annotations

import ssl
from typing import TYPE_CHECKING

import pytest

from corral.crypto.ca import ClusterCA
from corral.crypto.ca import load_certificates
from corral.testing.loopback import LoopbackCluster
from corral.testing.loopback import https

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from cryptography import x509

REFUSED = (ssl.SSLError, ConnectionResetError, BrokenPipeError)


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[LoopbackCluster]:
    """node1 master, node2 candidate, node3 a regular node."""
    c = LoopbackCluster(tmp_path, 3)
    c.init("--candidate-pool-size", "2")
    c.join(c.nodes[1])
    c.join(c.nodes[2])
    yield c
    c.stop()


def node_cert(node) -> x509.Certificate:
    return load_certificates(node.pem("server.pem"))[0]


def all_answer(cluster: LoopbackCluster) -> None:
    """Every node answers the master (live memory figures, not '?') and verify is clean."""
    m = cluster.master
    rows = m.run("gnt-node", "list", "--no-headers", "-o", "name,mfree").stdout.splitlines()
    assert len(rows) == 3 and all(row.split()[1] != "?" for row in rows), rows
    m.run("gnt-debug", "delay", "-n", cluster.nodes[1].name, "-n", cluster.nodes[2].name, "0")
    verify = m.run("gnt-cluster", "verify", check=False)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert "ERROR" not in verify.stdout and "ECLUSTERCERT" not in verify.stdout


def call_with(cluster: LoopbackCluster, node, client_pem: bytes, tmp: Path):
    return https(node.ip, cluster.port, "version", None, server_name=node.name,
                 ca_pem=cluster.master.pem("cluster-ca.pem"), client_pem=client_pem, tmp=tmp)  # fmt: skip


def test_new_node_certificates_then_a_new_ca(cluster: LoopbackCluster, tmp_path: Path) -> None:
    m, n2, n3 = cluster.nodes
    old_ca = m.pem("cluster-ca.pem")
    old_pems = {node.name: node.pem("server.pem") for node in cluster.nodes}

    out = m.run("gnt-cluster", "renew-crypto", "--new-node-certificates", "-f").stdout
    assert "Renewing the certificates of 3 node(s)" in out and "3 node(s) renewed" in out
    for node in cluster.nodes:
        assert node.pem("server.pem") != old_pems[node.name]
        assert node.pem("cluster-ca.pem") == old_ca  # same CA
        assert ClusterCA(load_certificates(old_ca)[0]).signed(node_cert(node))
    all_answer(cluster)

    second_pems = {node.name: node.pem("server.pem") for node in cluster.nodes}
    out = m.run("gnt-cluster", "renew-crypto", "--new-cluster-certificate", "-f").stdout
    assert (
        "trust the new CA beside the old one" in out
        and "The nodes trust the current cluster CA only" in out
    )
    new_ca = m.pem("cluster-ca.pem")
    assert new_ca != old_ca and len(load_certificates(new_ca)) == 1
    ca = ClusterCA.load(m.state / "cluster-ca.pem", m.state / "cluster-ca.key")
    assert ca.key_matches()
    assert n2.pem("cluster-ca.key") == m.pem("cluster-ca.key")  # the candidate has the new key
    assert not (n3.state / "cluster-ca.key").exists()
    for node in cluster.nodes:
        assert node.pem("cluster-ca.pem") == new_ca
        assert ca.signed(node_cert(node)) and node.pem("server.pem") != second_pems[node.name]
    all_answer(cluster)

    # A certificate the old CA signed (n3's before the renewal) opens no door now.
    with pytest.raises(REFUSED):
        call_with(cluster, n2, second_pems[n3.name], tmp_path)
    status, answer = call_with(cluster, n2, n3.pem("server.pem"), tmp_path)
    assert status == 200 and answer["result"]["node"] == n2.name


def test_a_node_that_is_down_stops_the_ca_change_and_nothing_changes(
    cluster: LoopbackCluster,
) -> None:
    m, n2, n3 = cluster.nodes
    before = {node.name: (node.pem("cluster-ca.pem"), node.pem("server.pem"))
              for node in cluster.nodes}  # fmt: skip
    key = m.pem("cluster-ca.key")
    n3.run("corral-daemon-util", "stop", "corral-noded")
    failed = m.run("gnt-cluster", "renew-crypto", "--new-cluster-certificate", "-f", check=False)
    assert failed.returncode == 1
    assert f"cannot bring the new CA to every online node ({n3.name}: " in failed.stderr
    assert "nothing changed" in failed.stderr
    for node in (m, n2):  # the nodes that took the new CA were given the old one back
        assert (node.pem("cluster-ca.pem"), node.pem("server.pem")) == before[node.name]
    assert m.pem("cluster-ca.key") == key and n2.pem("cluster-ca.key") == key

    # Node certificates: the others are renewed, the one that is down is named.
    failed = m.run("gnt-cluster", "renew-crypto", "--new-node-certificates", "-f", check=False)
    assert failed.returncode == 1
    assert "1 node(s) could not get a new certificate" in failed.stderr
    assert n3.name in failed.stderr and "--new-node-certificates' again" in failed.stderr
    assert m.pem("server.pem") != before[m.name][1] and n2.pem("server.pem") != before[n2.name][1]

    n3.run("corral-daemon-util", "start", "corral-noded", "--bind", n3.ip)
    assert n3.pem("server.pem") == before[n3.name][1]  # its old certificate still works
    all_answer(cluster)


def test_an_unfinished_ca_change_is_reported_and_ended(
    cluster: LoopbackCluster, tmp_path: Path
) -> None:
    m, _, n3 = cluster.nodes
    current = m.pem("cluster-ca.pem")
    stray = ClusterCA.create(cluster.name).cert_pem
    status, answer = https(n3.ip, cluster.port, "ca_trust_write", {"ca": (stray + current).decode()},
                           server_name=n3.name, ca_pem=current, client_pem=m.pem("server.pem"),
                           tmp=tmp_path)  # fmt: skip
    assert status == 200 and answer["result"] == 2
    verify = m.run("gnt-cluster", "verify", check=False).stdout
    assert (f"WARNING: node {n3.name}: it trusts 2 cluster CAs: a CA renewal did not finish;"
            " run 'gnt-cluster renew-crypto --new-node-certificates'") in verify  # fmt: skip
    m.run("gnt-cluster", "renew-crypto", "--new-node-certificates", "-f")
    assert n3.pem("cluster-ca.pem") == current
    all_answer(cluster)

    # A node refuses a trust list that would cut it off from its own cluster.
    status, answer = https(n3.ip, cluster.port, "ca_trust_write", {"ca": stray.decode()},
                           server_name=n3.name, ca_pem=current, client_pem=m.pem("server.pem"),
                           tmp=tmp_path)  # fmt: skip
    assert status == 200 and "none of these CAs signed node" in answer["error"][1][0]
    assert n3.pem("cluster-ca.pem") == current


def test_bad_requests_are_refused_before_anything_runs(cluster: LoopbackCluster) -> None:
    m = cluster.master
    before = m.pem("server.pem")
    for args, message in (
        ((), "nothing to renew: give --new-cluster-certificate or --new-node-certificates"),
        (("--new-rapi-certificate",), "--new-rapi-certificate: corral has no RAPI daemon yet"),
        (("--new-ssh-keys",), "corral keeps no SSH keys between nodes"),
    ):
        refused = m.run("gnt-cluster", "renew-crypto", "-f", *args, check=False)
        assert refused.returncode == 1 and message in refused.stderr, refused.stderr
    assert m.pem("server.pem") == before
