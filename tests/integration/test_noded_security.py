"""The node daemon's doors: mutual TLS, who may call what, join tokens, and bad requests.

Real daemons on loopback addresses; the clients here are raw TLS sockets
holding whatever certificate the test gives them.
"""

from __future__ import annotations

import base64
import json
import ssl
from typing import TYPE_CHECKING

import pytest

from corral.crypto.ca import ClusterCA
from corral.crypto.jointoken import JoinToken
from corral.rpc.protocol import MAX_BODY
from corral.testing.loopback import LoopbackCluster
from corral.testing.loopback import VNode
from corral.testing.loopback import https

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LoopbackCluster]:
    """node1 master, node2 candidate, node3 a regular node."""
    c = LoopbackCluster(tmp_path_factory.mktemp("security"), 3)
    c.init("--candidate-pool-size", "2")
    c.join(c.nodes[1])
    c.join(c.nodes[2])
    yield c
    c.stop()


REFUSED = (ssl.SSLError, ConnectionResetError, BrokenPipeError)


def call(cluster: LoopbackCluster, node: VNode, method: str, args=None, *, as_node: VNode | None = None,
         client_pem: bytes | None = None, tmp: Path | None = None, **kw):  # fmt: skip
    """Call ``node`` verifying it as a cluster client would, optionally holding a certificate."""
    if as_node is not None:
        client_pem = as_node.pem("server.pem")
    return https(node.ip, cluster.port, method, args, server_name=node.name,
                 ca_pem=cluster.master.pem("cluster-ca.pem"), client_pem=client_pem, tmp=tmp, **kw)  # fmt: skip


def test_roles_are_as_expected(cluster):
    out = cluster.master.run("gnt-node", "list", "--no-headers", "-o", "role").stdout.split()
    assert out == ["M", "C", "R"]


def test_without_a_certificate_only_the_ca_is_given(cluster):
    n2 = cluster.nodes[1]
    status, answer = call(cluster, n2, "version")
    assert status == 403
    assert "needs a client certificate signed by this cluster's CA" in answer["error"][1][0]
    status, answer = call(cluster, n2, "ca")
    assert status == 200 and answer["result"].encode() == cluster.master.pem("cluster-ca.pem")


def test_a_self_signed_certificate_is_refused(cluster, tmp_path):
    impostor = ClusterCA.create(cluster.name)  # same names as the real CA, another key
    with pytest.raises(REFUSED):
        call(cluster, cluster.nodes[1], "version", client_pem=impostor.key_pem + impostor.cert_pem,
             tmp=tmp_path)  # fmt: skip


def test_a_certificate_of_another_cluster_is_refused(cluster, tmp_path):
    other = ClusterCA.create("other.example.com")
    pem = other.issue(cluster.master.name, [cluster.master.ip])  # even with the master's name
    with pytest.raises(REFUSED):
        call(cluster, cluster.nodes[1], "version", client_pem=pem, tmp=tmp_path)


def test_a_member_certificate_opens_the_read_only_door(cluster, tmp_path):
    n2, n3 = cluster.nodes[1], cluster.nodes[2]
    status, answer = call(cluster, n2, "version", as_node=n3, tmp=tmp_path)
    assert status == 200 and answer["result"]["node"] == n2.name


def test_only_master_and_candidates_may_change_a_node(cluster, tmp_path):
    n2, n3 = cluster.nodes[1], cluster.nodes[2]
    status, answer = call(cluster, n2, "ssconf_write", {"values": {"cluster_name": "evil"}},
                          as_node=n3, tmp=tmp_path)  # fmt: skip
    assert status == 403
    assert f"master or a master candidate, not {n3.name}" in answer["error"][1][0]
    assert (n2.state / "ssconf_cluster_name").read_text() == f"{cluster.name}\n"


def test_the_master_refuses_a_node_whose_certificate_names_another(cluster, tmp_path):
    m = cluster.master
    joined = _fresh(cluster, tmp_path, "node10.example.com", 10)
    joined.run("corral-node-join", "--primary-ip", joined.ip, cluster.token(joined))
    try:
        # node11 "lives" at node10's address: node10's certificate does not name node11.
        out = m.run("gnt-node", "add", "--primary-ip", joined.ip, "node11.example.com", check=False)
        assert out.returncode == 1
        assert "certificate was not issued for this node name" in out.stderr
        assert "node11" not in m.run("gnt-node", "list", "-o", "name").stdout
        m.run("gnt-node", "add", "--primary-ip", joined.ip, joined.name)  # its own name is fine
        m.run("gnt-node", "remove", joined.name)
    finally:
        joined.run("corral-daemon-util", "stop", "corral-noded")


def _fresh(cluster: LoopbackCluster, tmp_path: Path, name: str, index: int) -> VNode:
    node = VNode(name, cluster.nodes[0].ip.rsplit(".", 1)[0] + f".{index}", tmp_path / name)
    node.root.mkdir(parents=True, exist_ok=True)
    return node


def test_a_token_works_once(cluster, tmp_path):
    first = _fresh(cluster, tmp_path, "node5.example.com", 5)
    token = cluster.token(first)
    first.run("corral-node-join", "--primary-ip", first.ip, token)
    try:
        again = VNode(first.name, first.ip, tmp_path / "again")
        again.root.mkdir()
        out = again.run("corral-node-join", "--primary-ip", again.ip, token, check=False)
        assert out.returncode == 1 and "unknown or was already used" in out.stderr
        assert not (again.state / "server.pem").exists()
    finally:
        first.run("corral-daemon-util", "stop", "corral-noded")


def _altered(token: str, **changes: str) -> str:
    decoded = JoinToken.decode(token)
    body = {"master": decoded.master_name, "address": decoded.master_address,
            "port": decoded.port, "ca": decoded.ca_fingerprint, "node": decoded.node_name,
            "secret": decoded.secret, **changes}  # fmt: skip
    text = base64.urlsafe_b64encode(json.dumps(body).encode()).decode().rstrip("=")
    return "corral-join-v1:" + text


def test_a_forged_token_is_refused(cluster, tmp_path):
    node = _fresh(cluster, tmp_path, "node6.example.com", 6)
    token = cluster.token(node)
    out = node.run("corral-node-join", "--primary-ip", node.ip, _altered(token, secret="guess" * 8),
                   check=False)  # fmt: skip
    assert out.returncode == 1 and "unknown or was already used" in out.stderr
    assert not (node.state / "server.pem").exists()


def test_a_token_pins_the_ca(cluster, tmp_path):
    node = _fresh(cluster, tmp_path, "node7.example.com", 7)
    token = _altered(cluster.token(node), ca="00" * 32)
    out = node.run("corral-node-join", "--primary-ip", node.ip, token, check=False)
    assert out.returncode == 1 and "does not match the join token" in out.stderr
    assert "nothing was sent" in out.stderr


def test_a_token_is_for_one_name(cluster, tmp_path):
    token = cluster.token(_fresh(cluster, tmp_path, "node8.example.com", 8))
    other = _fresh(cluster, tmp_path, "node9.example.com", 9)
    out = other.run("corral-node-join", "--primary-ip", other.ip, token, check=False)
    assert "this join token is for node node8.example.com" in out.stderr
    # And a joining node that lies about its name is refused by the master.
    liar = VNode("node9.example.com", other.ip, tmp_path / "liar")
    liar.root.mkdir()
    out = liar.run("corral-node-join", "--primary-ip", liar.ip, _altered(token, node=liar.name),
                   check=False)  # fmt: skip
    assert "made for node node8.example.com, not for node9.example.com" in out.stderr


def test_bad_requests_get_clear_answers(cluster, tmp_path):
    m, n2 = cluster.master, cluster.nodes[1]
    status, answer = call(cluster, n2, "nosuch", as_node=m, tmp=tmp_path)
    assert status == 404 and "unknown RPC procedure 'nosuch'" in answer["error"][1][0]
    status, answer = call(cluster, n2, "test_delay", {}, as_node=m, tmp=tmp_path)
    assert status == 400 and "missing a required argument: 'duration'" in answer["error"][1][0]
    status, answer = call(
        cluster, n2, "test_delay", {"duration": 0, "x": 1}, as_node=m, tmp=tmp_path
    )
    assert status == 400 and "unexpected keyword argument 'x'" in answer["error"][1][0]
    status, answer = call(cluster, n2, "version", as_node=m, tmp=tmp_path, body=b"{nope")
    assert status == 400 and "body is not JSON" in answer["error"][1][0]
    status, answer = call(cluster, n2, "version", as_node=m, tmp=tmp_path, body=b"[1]")
    assert status == 400 and "JSON object of arguments" in answer["error"][1][0]
    status, _ = call(cluster, n2, "version", as_node=m, tmp=tmp_path, http_method="GET")
    assert status == 405
    status, _ = call(cluster, n2, "version", as_node=m, tmp=tmp_path, body=b"x" * 16,
                     content_length=MAX_BODY + 1)  # fmt: skip
    assert status == 413  # refused before the body is read
    status, answer = call(cluster, n2, "version", as_node=m, tmp=tmp_path)
    assert status == 200  # and it still serves


def test_older_pushes_are_refused(cluster, tmp_path):
    m, n2 = cluster.master, cluster.nodes[1]
    current = n2.pem("config.data")
    serial = json.loads(current)["serial_no"]
    older = current.replace(f',"serial_no":{serial},"version"'.encode(),
                            f',"serial_no":{serial - 1},"version"'.encode())  # fmt: skip
    status, answer = call(cluster, n2, f"config_push?serial={serial - 1}", as_node=m, tmp=tmp_path,
                          body=older)  # fmt: skip
    assert status == 200 and not answer["ok"]
    assert f"refused: node has serial {serial}" in answer["error"][1][0]
    status, answer = call(cluster, n2, f"config_push?serial={serial + 5}", as_node=m, tmp=tmp_path,
                          body=current)  # fmt: skip
    assert (
        not answer["ok"]
        and f"serial ({serial}) is not the announced {serial + 5}" in answer["error"][1][0]
    )
    status, answer = call(cluster, n2, "ssconf_write",
                          {"values": {"config_serial": "1", "cluster_name": "old"}},
                          as_node=m, tmp=tmp_path)  # fmt: skip
    assert not answer["ok"] and "ssconf of serial 1 refused" in answer["error"][1][0]
    assert (n2.state / "ssconf_cluster_name").read_text() == f"{cluster.name}\n"
    assert n2.pem("config.data") == current
    assert current == m.pem("config.data")  # a replica is the master's file, byte for byte
