"""``gnt-cluster verify`` on a real cluster: clean, then one planted problem at a time.

The problems are real states of the nodes (a daemon down, a replica gone,
an instance or a disk the config does not know, a certificate about to
expire), made the way they happen, and each must be named as Ganeti names
it, with its error code.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from corral_hv_fake.driver import FakeHypervisor
from corral_storage_file.driver import FileTemplate
from twisted.internet import defer
from twisted.internet import reactor

from corral.api import DriverContext
from corral.api import InstanceSpec
from corral.crypto.ca import ClusterCA
from corral.testing.loopback import LoopbackCluster

if TYPE_CHECKING:
    from collections.abc import Iterator


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LoopbackCluster]:
    c = LoopbackCluster(tmp_path_factory.mktemp("verify"), 3)
    c.init()
    c.join(c.nodes[1])
    c.join(c.nodes[2])
    yield c
    c.stop()


def verify(cluster: LoopbackCluster, *options: str) -> tuple[int, list[str]]:
    out = cluster.master.run("gnt-cluster", "verify", "--error-codes", *options, check=False)
    problems = [line.split(" - ", 1)[1] for line in out.stdout.splitlines() if " - " in line]
    return out.returncode, problems


def test_a_healthy_cluster_verifies_clean(cluster):
    out = cluster.master.run("gnt-cluster", "verify")
    steps = [line.split(" * ", 1)[1] for line in out.stdout.splitlines() if " * " in line]
    assert steps == [
        "Verifying cluster config", "Verifying all nodes belong to an existing group",
        "Gathering data (3 nodes)", "Verifying node status",
        "Verifying configuration file consistency", "Verifying instance status",
        "Verifying orphan volumes", "Verifying N+1 Memory redundancy",
    ]  # fmt: skip
    assert " - " not in out.stdout


def test_an_unreachable_node(cluster):
    n3 = cluster.nodes[2]
    n3.run("corral-daemon-util", "stop", "corral-noded")
    try:
        rc, problems = verify(cluster)
        assert rc == 1
        assert problems == [f"ERROR:ENODERPC:node:{n3.name}:while contacting node: cannot connect:"
                            " Connection was refused by other side: 111: Connection refused"]  # fmt: skip
        rc, problems = verify(cluster, "--ignore-errors", "ENODERPC")
        assert rc == 0 and problems[0].startswith("WARNING:ENODERPC")
    finally:
        n3.run("corral-daemon-util", "start", "corral-noded", "--bind", n3.ip)


def test_a_candidate_without_its_replica(cluster):
    n2 = cluster.nodes[1]
    saved = n2.pem("config.data")
    (n2.state / "config.data").unlink()
    try:
        rc, problems = verify(cluster)
        assert rc == 1
        assert problems == [
            f"ERROR:ENODEFILECHECK:node:{n2.name}:the config file is missing on this master candidate"
        ]
    finally:
        (n2.state / "config.data").write_bytes(saved)
    assert verify(cluster) == (0, [])


def _driver_ctx(node) -> DriverContext:
    return DriverContext.create(reactor, node.state, node.name)


def test_an_instance_the_config_does_not_know(cluster):
    n2 = cluster.nodes[1]
    fake = FakeHypervisor(_driver_ctx(n2))
    spec = InstanceSpec(name="ghost.example.com", uuid="0" * 8 + "-0000-4000-8000-" + "0" * 12,
                        memory=128, vcpus=1)  # fmt: skip
    started = defer.Deferred.fromCoroutine(fake.start(spec))
    assert started.called  # no boot delay: the record is written at once
    try:
        rc, problems = verify(cluster)
        assert rc == 1
        assert problems == [
            f"ERROR:ENODEORPHANINSTANCE:node:{n2.name}:instance ghost.example.com is unknown"
        ]
    finally:
        defer.Deferred.fromCoroutine(fake.stop(spec, force=True, timeout=0))
    assert verify(cluster) == (0, [])


def test_a_disk_the_config_does_not_know(cluster, tmp_path):
    n3 = cluster.nodes[2]
    template = FileTemplate(_driver_ctx(n3))
    storage = tmp_path / "file-storage"
    template.index.add(str(storage))
    orphan = storage / "lost.example.com" / "1234.file.disk0"
    orphan.parent.mkdir(parents=True)
    orphan.write_bytes(b"\0" * 4096)
    try:
        rc, problems = verify(cluster)
        assert rc == 1
        assert problems == [f"ERROR:ENODEORPHANLV:node:{n3.name}:volume {orphan} is unknown"]
        listed = cluster.master.run("gnt-node", "volumes", "--no-headers", "--separator=|").stdout
        assert listed.splitlines() == [f"{n3.name}|file|{orphan}|0|lost.example.com"]
    finally:
        orphan.unlink()
    assert verify(cluster) == (0, [])


def test_a_certificate_about_to_expire(cluster):
    m, n2 = cluster.master, cluster.nodes[1]
    ca = ClusterCA.load(m.state / "cluster-ca.pem", m.state / "cluster-ca.key")
    saved = n2.pem("server.pem")
    (n2.state / "server.pem").write_bytes(ca.issue(n2.name, [n2.ip], days=20))
    n2.run("corral-daemon-util", "restart", "corral-noded", "--bind", n2.ip)
    try:
        rc, problems = verify(cluster)
        assert rc == 0  # a warning only, at 20 days
        assert problems == [
            f"WARNING:ECLUSTERCERT:node:{n2.name}:the node certificate expires in 20 days"
        ]
    finally:
        (n2.state / "server.pem").write_bytes(saved)
        n2.run("corral-daemon-util", "restart", "corral-noded", "--bind", n2.ip)
    assert verify(cluster) == (0, [])


def test_storage_units_are_listed(cluster):
    out = cluster.master.run("gnt-node", "list-storage", "--separator=|", "--no-headers").stdout
    rows = [line.split("|") for line in out.splitlines()]
    assert [r[0] for r in rows] == [n.name for n in cluster.nodes]
    for node, (_node, kind, name, size, used, free, allocatable) in zip(
        cluster.nodes, rows, strict=True
    ):
        storage = str(node.root / "srv/corral/file-storage")  # each node's own
        assert (kind, name, allocatable) == ("file", storage, "Y")
        assert int(size) == int(used) + int(free) > 0
    header = cluster.master.run("gnt-node", "list-storage", cluster.master.name).stdout
    assert header.splitlines()[0].split() == ["Node", "Type", "Name", "Size", "Used", "Free",
                                              "Allocatable"]  # fmt: skip
    bad = cluster.master.run("gnt-node", "volumes", "-o", "node,colour", check=False)
    assert "unknown field(s) colour" in bad.stderr
