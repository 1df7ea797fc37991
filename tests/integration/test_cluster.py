"""A real cluster on loopback addresses: init, join, add, roles, queries, remove, destroy.

Every daemon is a real process started by the real commands; nodes talk
over TLS on their own addresses. See loopback.py.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING

import pytest

from corral.api import OpPrereqError
from corral.testing.loopback import LoopbackCluster

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[LoopbackCluster]:
    c = LoopbackCluster(tmp_path, 3)
    yield c
    c.stop()


def daemons_running(node) -> list[str]:
    return [
        d for d in ("corral-masterd", "corral-noded")
        if node.run("corral-daemon-util", "check", d, check=False).returncode == 0
    ]  # fmt: skip


def test_operator_runbook(cluster: LoopbackCluster) -> None:
    m, n2, n3 = cluster.nodes
    out = cluster.init().stdout
    assert "Starting the master daemon" in out and f"{m.name} is its master" in out
    assert daemons_running(m) == ["corral-masterd", "corral-noded"]
    assert m.run("gnt-cluster", "getmaster").stdout == f"{m.name}\n"
    assert m.run("gnt-cluster", "master-ping").returncode == 0
    info = m.run("gnt-cluster", "info").stdout
    assert f"Master node: {m.name}" in info and f"node daemon port: {cluster.port}" in info

    lines = m.run("gnt-node", "list").stdout.splitlines()
    assert lines[0].split() == [
        "Node",
        "DTotal",
        "DFree",
        "MTotal",
        "MNode",
        "MFree",
        "Pinst",
        "Sinst",
    ]
    assert lines[1].split()[0] == m.name and len(lines) == 2

    for node in (n2, n3):
        cluster.join(node)
    out = m.run(
        "gnt-node", "list", "--no-headers", "--separator=|", "-o", "name,role,pip,master_candidate"
    ).stdout
    assert out.splitlines() == [
        f"{m.name}|M|{m.ip}|Y", f"{n2.name}|C|{n2.ip}|Y", f"{n3.name}|C|{n3.ip}|Y",
    ]  # fmt: skip
    # Candidates hold the CA key too, so that any of them can sign after a failover.
    assert (n2.state / "cluster-ca.key").read_bytes() == m.pem("cluster-ca.key")
    # Every node got the ssconf; candidates got the config, at the master's serial.
    serial = json.loads(m.pem("config.data"))["serial_no"]
    for node in (n2, n3):
        assert (node.state / "ssconf_master_node").read_text() == f"{m.name}\n"
        assert json.loads(node.pem("config.data"))["serial_no"] == serial
    # Ganeti's getmaster works on any node, from ssconf.
    assert n3.run("gnt-cluster", "getmaster").stdout == f"{m.name}\n"

    info = m.run("gnt-node", "info", n2.name).stdout
    assert f"Node name: {n2.name}" in info and f"  primary ip: {n2.ip}" in info

    out = m.run("gnt-node", "modify", "-C", "no", n3.name).stdout
    assert out.splitlines() == [f"Modified node {n3.name}", " - master_candidate -> False"]
    assert not (n3.state / "config.data").exists()  # a regular node keeps no replica
    assert not (n3.state / "cluster-ca.key").exists()  # nor the CA key
    out = m.run("gnt-node", "modify", "-D", "yes", n3.name).stdout
    assert " - drained -> True" in out
    row = m.run("gnt-node", "list", "--no-headers", "-o", "role", n3.name).stdout
    assert row.strip() == "D"
    refused = m.run("gnt-node", "modify", "-O", "yes", m.name, check=False)
    assert (
        refused.returncode == 1
        and "is the master: it cannot be demoted, offlined" in refused.stderr
    )

    out = m.run("gnt-debug", "delay", "-n", n2.name, "-n", n3.name, "--repeat", "1", "0.2").stdout
    assert "Test delay iteration 2/2" in out
    unknown = m.run("gnt-debug", "delay", "-n", "nosuch.example.com", "0", check=False)
    assert "unknown node(s) nosuch.example.com" in unknown.stderr

    m.run("gnt-node", "remove", n3.name)
    deadline = time.monotonic() + 10
    while daemons_running(n3) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert daemons_running(n3) == []
    assert not (n3.state / "server.pem").exists() and not (n3.state / "ssconf_master_node").exists()
    assert n3.name not in m.run("gnt-node", "list", "-o", "name").stdout

    refused = m.run("gnt-cluster", "destroy", "--yes-do-it", check=False)
    assert f"still has other nodes ({n2.name})" in refused.stderr
    m.run("gnt-node", "remove", n2.name)
    m.run("gnt-cluster", "destroy", "--yes-do-it")
    assert daemons_running(m) == []
    assert not (m.state / "config.data").exists() and not (m.state / "cluster-ca.key").exists()
    cluster.init()  # a destroyed cluster can be made again on the same node


def test_init_refuses_bad_input_and_leaves_nothing(cluster: LoopbackCluster) -> None:
    m = cluster.master
    bad = m.run("gnt-cluster", "init", "--primary-ip", m.ip, "--master-ip", cluster.master_ip,
                "--rpc-port", str(cluster.port), "--enabled-hypervisors", "xen-pvm",
                cluster.name, check=False)  # fmt: skip
    assert bad.returncode == 1 and "pip install" in bad.stderr
    bad = m.run("gnt-cluster", "init", "--primary-ip", m.ip, "--master-ip", cluster.master_ip,
                "--rpc-port", str(cluster.port), "-B", "maxmem=lots", cluster.name,
                check=False)  # fmt: skip
    assert bad.returncode == 1 and "beparams" in bad.stderr and "maxmem" in bad.stderr
    bad = m.run("gnt-cluster", "init", "--primary-ip", m.ip, "--master-ip", m.ip, cluster.name,
                check=False)  # fmt: skip
    assert "needs an address of its own" in bad.stderr
    assert daemons_running(m) == []
    assert not m.state.exists() or not any(m.state.iterdir())
    cluster.init()
    twice = m.run("gnt-cluster", "init", "--primary-ip", m.ip, "--master-ip", cluster.master_ip,
                  cluster.name, check=False)  # fmt: skip
    assert "already part of a cluster" in twice.stderr
    assert daemons_running(m) == ["corral-masterd", "corral-noded"]


def test_luxi_queries(cluster: LoopbackCluster) -> None:
    cluster.init()
    cluster.join(cluster.nodes[1])
    m = cluster.master
    with m.luxi() as luxi:
        answer = luxi.call("Query", "node", ["name", "role", "mtotal"], ["=", "role", "C"])
        assert [f["name"] for f in answer["fields"]] == ["name", "role", "mtotal"]
        [[name, role, mtotal]] = answer["data"]
        assert name == [0, cluster.nodes[1].name] and role == [0, "C"]
        assert mtotal[0] == 0 and mtotal[1] > 0
        assert luxi.call("QueryNodes", [m.name], ["name", "master"], False) == [[m.name, True]]
        with pytest.raises(OpPrereqError, match="node nosuch not known"):
            luxi.call("QueryNodes", ["nosuch"], ["name"], False)
        assert luxi.call("QueryGroups", None, ["name", "node_cnt"], False) == [["default", 2]]
        assert luxi.call("QueryInstances", None, ["name"], False) == []
        info = luxi.call("QueryClusterInfo")
        assert info["name"] == cluster.name and info["master"] == m.name
        assert luxi.call("QueryConfigValues", ["cluster_name", "drain_flag"]) == [
            cluster.name,
            False,
        ]
        assert luxi.call("QueryTags", "cluster", None) == []
        fields = luxi.call("QueryFields", "node", ["name", "bogus"])["fields"]
        assert fields[1]["kind"] == "unknown"
        with pytest.raises(OpPrereqError, match="cannot query 'lock'"):
            luxi.call("Query", "lock", ["name"], None)
        with pytest.raises(OpPrereqError, match="unknown query filter operator"):
            luxi.call("Query", "node", ["name"], ["~", "name", "x"])
        with pytest.raises(OpPrereqError, match="unknown config value"):
            luxi.call("QueryConfigValues", ["colour"])
    listed = m.run("gnt-node", "list", "-o", "name,nosuch", check=False)
    assert "Unknown output fields selected: nosuch" in listed.stderr
    fields = m.run("gnt-node", "list-fields", "name", "mfree").stdout.splitlines()
    assert fields[1].split()[:2] == ["name", "Text"] and fields[2].split()[:3] == [
        "mfree",
        "Storage",
        "size",
    ]


def test_a_candidate_that_missed_changes_catches_up(cluster: LoopbackCluster) -> None:
    m, n2, n3 = cluster.nodes
    cluster.init()
    cluster.join(n2)
    cluster.join(n3)
    m.run("corral-daemon-util", "restart", "corral-masterd", "--catch-up-interval", "0.5")
    n2.run("corral-daemon-util", "stop", "corral-noded")
    out = m.run("gnt-node", "modify", "-D", "yes", n3.name, "--auto-promote").stdout
    assert f"could not update the config on node {n2.name}" in out
    serial = json.loads(m.pem("config.data"))["serial_no"]
    assert json.loads(n2.pem("config.data"))["serial_no"] < serial
    assert json.loads(m.pem("config.data"))["serial_no"] == serial
    n2.run("corral-daemon-util", "start", "corral-noded", "--bind", n2.ip)
    deadline = time.monotonic() + 20
    while json.loads(n2.pem("config.data"))["serial_no"] < serial:
        assert time.monotonic() < deadline, "node2 never caught up"
        time.sleep(0.2)
    assert (n2.state / "ssconf_config_serial").read_text() == f"{serial}\n"


def test_cluster_parameters_are_typed_checked_and_merged(cluster: LoopbackCluster) -> None:
    m = cluster.master
    cluster.init("-B", "maxmem=512", "-H", "fake:boot_delay=0.1")

    def stored() -> dict:
        return json.loads(m.pem("config.data"))

    assert stored()["cluster"]["beparams"] == {"default": {"maxmem": 512}}  # a number, not "512"
    m.run("gnt-cluster", "modify", "-B", "vcpus=2,maxmem=default", "-H", "fake:boot_delay=0.5",
          "--ipolicy-vcpu-ratio", "8", "-C", "3")  # fmt: skip
    cfg = stored()
    assert cfg["cluster"]["beparams"] == {"default": {"vcpus": 2}}
    assert cfg["cluster"]["hvparams"]["fake"] == {"boot_delay": 0.5}
    assert cfg["cluster"]["candidate_pool_size"] == 3
    with m.luxi() as luxi:
        info = luxi.call("QueryClusterInfo")
    assert info["beparams"]["default"]["maxmem"] == 128 and info["ipolicy"]["vcpu-ratio"] == 8.0
    serial = cfg["serial_no"]
    for options, message in [
        (("-B", "vcpus=zero"), "invalid beparams: beparams.vcpus: Not a valid integer."),
        (("-H", "fake:colour=blue"), "hvparams.fake.colour: unknown parameter"),
        (
            ("--enabled-hypervisors", "kvm"),
            "hypervisor 'kvm' is not installed: pip install corral-hv-kvm",
        ),
        (("-H", "xen-pvm:acpi=1"), "hypervisor xen-pvm is not enabled: enable it first"),
        ((), "Please give at least one modification"),
    ]:
        out = m.run("gnt-cluster", "modify", *options, check=False)
        assert out.returncode == 1 and message in out.stderr, (options, out.stderr)
    assert stored()["serial_no"] == serial  # nothing was changed by the refused ones
