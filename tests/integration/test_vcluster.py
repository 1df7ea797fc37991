"""bin/vcluster: a real cluster with every node in its own network namespace.

Everything goes through the real commands: ``bin/vcluster start|exec|status|stop``, and
through ``vcluster exec`` the gnt-* tools in each node's namespace. Needs root.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING
from typing import Any

import pytest

if TYPE_CHECKING:
    from collections.abc import Iterator

ROOT = Path(__file__).resolve().parents[2]
VCLUSTER = ROOT / "bin" / "vcluster"

#: Tries to connect to each HOST:PORT given; prints "ok" or the error's name for each.
PROBE = """
import socket, sys
for target in sys.argv[1:]:
    host, port = target.rsplit(":", 1)
    try:
        socket.create_connection((host, int(port)), timeout=1).close()
        print("ok")
    except OSError as err:
        print(type(err).__name__)
"""


def namespaces_unavailable() -> str | None:
    """Why network namespaces cannot be made here, or None if they can."""
    if os.geteuid() != 0:
        return "needs root: bin/vcluster creates network namespaces"
    if shutil.which("ip") is None:
        return "needs iproute2 ('ip netns')"
    probe = f"vcprobe{os.getpid()}"
    made = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True)
    if made.returncode != 0:
        return f"'ip netns add' does not work here: {made.stderr.strip()}"
    subprocess.run(["ip", "netns", "del", probe], check=True)
    return None


def namespaces() -> set[str]:
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True)
    return {line.split()[0] for line in out.stdout.splitlines() if line.strip()}


def processes_below(directory: Path) -> list[int]:
    """Live processes whose CORRAL_ROOTDIR is below ``directory`` (root reads every environ)."""
    marker = f"CORRAL_ROOTDIR={directory}/".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes().split(b"\0")
        except OSError:  # it ended meanwhile
            continue
        if any(v.startswith(marker) for v in environ) and alive(int(entry.name)):
            found.append(int(entry.name))
    return found


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie does not: PID 1 reaps the daemons, maybe later)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def pids_in(namespace: str) -> list[str]:
    out = subprocess.run(["ip", "netns", "pids", namespace], capture_output=True, text=True)
    return out.stdout.split()


def probe(*targets: str, via: list[str] | None = None) -> list[str]:
    argv = [*(via or []), sys.executable, "-c", PROBE, *targets]
    return subprocess.run(argv, capture_output=True, text=True, check=True).stdout.split()


class VCluster:
    """``bin/vcluster ACTION --name NAME --dir DIR ...``, run with the venv's python."""

    def __init__(self, directory: Path) -> None:
        pid = os.getpid()
        self.dir = directory
        self.name = f"t{pid}"
        self.net = f"10.77.{pid % 250}"
        self.port = 46000 + pid % 10000
        self.nodes = [f"node{i}.{self.name}.vcluster" for i in range(1, 5)]
        self.ips = [f"{self.net}.{i}" for i in range(1, 5)]

    def argv(self, action: str, *args: str) -> list[str]:
        return [sys.executable, str(VCLUSTER), action, "--name", self.name, "--dir", str(self.dir),
                *args]  # fmt: skip

    def __call__(
        self, action: str, *args: str, check: bool = True, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(self.argv(action, *args), capture_output=True, text=True,
                              timeout=timeout)  # fmt: skip
        if check and proc.returncode != 0:
            raise AssertionError(
                f"vcluster {action} {' '.join(args)} exited {proc.returncode}:\n"
                f"{proc.stdout}{proc.stderr}"
            )
        return proc

    def on(self, index: int, *command: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """``vcluster exec INDEX -- COMMAND``: the command in node INDEX's namespace."""
        return self("exec", str(index), "--", *command, check=check)

    def namespaces(self) -> set[str]:
        return {ns for ns in namespaces() if ns.startswith(f"{self.name}-")}

    def state(self) -> dict[str, Any]:
        return json.loads((self.dir / "vcluster.json").read_text())  # type: ignore[no-any-return]


@pytest.fixture
def vcluster(tmp_path: Path) -> Iterator[VCluster]:
    reason = namespaces_unavailable()
    if reason:
        pytest.skip(reason)
    vc = VCluster(tmp_path / "vc")
    assert not vc.namespaces(), f"namespaces of an earlier run are left: {vc.namespaces()}"
    yield vc
    vc("stop", check=False)
    left, stray = vc.namespaces(), processes_below(tmp_path)
    for pid in stray:  # never leave anything behind, even when stop is broken
        os.kill(pid, signal.SIGKILL)
    for namespace in left:
        subprocess.run(["ip", "netns", "del", namespace], check=False)
    assert not left and not stray, f"vcluster stop left namespaces {left}, processes {stray}"


def test_four_nodes_each_in_its_own_namespace(vcluster: VCluster) -> None:
    vc = vcluster
    out = vc("start", "-n", "4", "--net", vc.net, "--port", str(vc.port)).stdout
    assert f"Initialising cluster {vc.name}.vcluster on {vc.nodes[0]}" in out
    assert f"vcluster {vc.name} runs: 4 node(s), master {vc.nodes[0]}" in out
    state = vc.state()
    assert state["state"] == "running"
    assert [n["namespace"] for n in state["nodes"]] == [f"{vc.name}-node{i}" for i in range(1, 5)]
    assert vc.namespaces() == {f"{vc.name}-sw", *(f"{vc.name}-node{i}" for i in range(1, 5))}
    again = vc("start", "-n", "2", check=False)
    assert again.returncode == 1
    assert (
        f"vcluster {vc.name} is already running: bin/vcluster stop --name {vc.name}" in again.stderr
    )

    # The real CLIs, each run in its node's namespace as that node.
    rows = vc.on(1, "gnt-node", "list", "--no-headers", "--separator=|", "-o", "name,role,pip")
    expected = [f"{vc.nodes[0]}|M|{vc.ips[0]}"]
    expected += [f"{name}|C|{ip}" for name, ip in zip(vc.nodes[1:], vc.ips[1:], strict=True)]
    assert rows.stdout.splitlines() == expected
    assert vc.on(3, "gnt-cluster", "getmaster").stdout == f"{vc.nodes[0]}\n"  # from its ssconf
    info = vc.on(1, "gnt-node", "info", vc.nodes[1]).stdout
    assert f"Node name: {vc.nodes[1]}" in info and f"  primary ip: {vc.ips[1]}" in info
    out = vc.on(1, "gnt-node", "modify", "-C", "no", vc.nodes[2]).stdout
    assert out.splitlines() == [f"Modified node {vc.nodes[2]}", " - master_candidate -> False"]
    role = vc.on(1, "gnt-node", "list", "--no-headers", "-o", "role", vc.nodes[2]).stdout
    assert role.strip() == "R"
    others = [arg for name in vc.nodes[1:] for arg in ("-n", name)]
    out = vc.on(1, "gnt-debug", "delay", *others, "--repeat", "1", "0.1").stdout
    assert "Test delay iteration 2/2" in out  # the master reached every other node's daemon
    assert vc.on(2, "sh", "-c", "exit 7", check=False).returncode == 7  # exec passes it through

    # An instance placed by the allocator, live-migrated and failed over between
    # namespaces, then removed (diskless: every node reaches its no disks).
    inst = "web.vcluster"
    vc.on(1, "gnt-instance", "add", "-t", "diskless", "-o", "noop", "-I", ".",
          "--no-name-check", inst)  # fmt: skip

    def where() -> list[str]:
        out = vc.on(1, "gnt-instance", "list", "--no-headers", "--separator=|",
                    "-o", "pnode,status", inst).stdout  # fmt: skip
        return out.strip().split("|")

    first, status = where()
    assert status == "running"
    vc.on(1, "gnt-instance", "migrate", "-f", inst)
    second, status = where()
    assert second != first and status == "running"
    vc.on(1, "gnt-instance", "failover", "-f", inst)
    third, status = where()
    assert third != second and status == "running"
    vc.on(1, "gnt-instance", "remove", "-f", inst)
    assert vc.on(1, "gnt-instance", "list", "--no-headers", "-o", "name").stdout == ""

    # Isolation: each daemon runs in its node's namespace, and only there is its address.
    for i in range(1, 5):
        pid = (vc.dir / f"node{i}/var/run/corral/corral-noded.pid").read_text().strip()
        ident = subprocess.run(["ip", "netns", "identify", pid], capture_output=True, text=True)
        assert ident.stdout.strip() == f"{vc.name}-node{i}"
    root_addresses = subprocess.run(["ip", "-br", "addr"], capture_output=True, text=True).stdout
    assert f"{vc.net}." not in root_addresses
    node2 = f"{vc.ips[1]}:{vc.port}"
    # from the root namespace: no noded on loopback, and node2's address is not here
    assert probe(f"127.0.0.1:{vc.port}") == ["ConnectionRefusedError"]
    assert probe(node2) != ["ok"]
    # from node3, over the switch: node2 and the master answer; node3's own loopback does not
    in_node3 = vc.argv("exec", "3", "--")
    assert probe(node2, f"{vc.ips[0]}:{vc.port}", f"127.0.0.1:{vc.port}", via=in_node3) == [
        "ok", "ok", "ConnectionRefusedError"
    ]  # fmt: skip
    listed = vc.on(2, "ip", "-br", "-4", "addr").stdout.splitlines()
    links = {line.split()[0].split("@")[0]: line.split()[2:] for line in listed}
    assert links == {"lo": ["127.0.0.1/8"], "eth0": [f"{vc.ips[1]}/24"]}

    # A removed node's daemon stops by itself.
    vc.on(1, "gnt-node", "remove", vc.nodes[3])
    deadline = time.monotonic() + 15
    while vc.on(4, "corral-daemon-util", "check", "corral-noded", check=False).returncode == 0:
        assert time.monotonic() < deadline, "the removed node's daemon still runs"
        time.sleep(0.2)
    assert vc.nodes[3] not in vc.on(1, "gnt-node", "list", "-o", "name").stdout
    status = vc("status").stdout.splitlines()
    assert status[0].startswith(f"vcluster {vc.name}: running")
    by_node = {line.split()[0]: line.split()[3:] for line in status[4:]}
    # node1's eth0 also carries the cluster IP: it is the master
    assert by_node["1"][0] == f"{vc.ips[0]}/24,{vc.net}.254/32"
    assert by_node["1"][1::2] == ["pid", "pid"]
    assert by_node["4"] == [f"{vc.ips[3]}/24", "-", "-"]

    # The cluster IP is up on the master's eth0, and moves with a master failover.
    cluster_ip = f"{vc.net}.254"

    def has_cluster_ip(index: int) -> bool:
        out = vc.on(index, "ip", "-br", "-4", "addr", "show", "dev", "eth0").stdout
        return f"{cluster_ip}/32" in out

    assert has_cluster_ip(1) and not has_cluster_ip(2)
    out = vc.on(2, "gnt-cluster", "master-failover").stdout
    assert f"Node {vc.nodes[1]} is the master of {vc.name}.vcluster now" in out
    assert has_cluster_ip(2) and not has_cluster_ip(1)
    # node3 reaches the cluster IP at node2 now (refused: nothing listens on that port there)
    assert probe(f"{cluster_ip}:{vc.port}", via=vc.argv("exec", "3", "--")) == [
        "ConnectionRefusedError"
    ]
    assert vc.on(3, "gnt-cluster", "getmaster").stdout == f"{vc.nodes[1]}\n"
    assert vc.on(2, "gnt-cluster", "verify").returncode == 0

    # A real partition: node1 (a candidate now) loses its link; alone it cannot take over.
    subprocess.run(["ip", "-n", f"{vc.name}-node1", "link", "set", "eth0", "down"], check=True)
    try:
        refused = vc.on(1, "gnt-cluster", "master-failover", check=False)
        assert refused.returncode == 1 and "only 1 of 3 nodes answered" in refused.stderr
        assert not has_cluster_ip(1)
    finally:
        subprocess.run(["ip", "-n", f"{vc.name}-node1", "link", "set", "eth0", "up"], check=True)
    assert vc.on(3, "gnt-cluster", "getmaster").stdout == f"{vc.nodes[1]}\n"

    # stop: no namespace, no process of this cluster; a second stop has nothing to do.
    inside = [int(pid) for ns in vc.namespaces() for pid in pids_in(ns)]
    assert len(inside) >= 4  # masterd and noded on node1, nodeds on node2 and node3
    out = vc("stop").stdout
    assert f"vcluster {vc.name} stopped (5 namespace(s) deleted)" in out
    assert vc.namespaces() == set()
    assert processes_below(vc.dir) == []
    assert not any(alive(pid) for pid in inside)
    assert vc.state()["state"] == "stopped"
    assert "is not running: nothing to stop" in vc("stop").stdout
    assert vc("status", check=False).returncode == 1
    gone = vc.on(1, "true", check=False)
    assert gone.returncode == 1 and f"vcluster {vc.name} is not running" in gone.stderr


def test_an_interrupted_start_leaves_nothing(vcluster: VCluster) -> None:
    vc = vcluster
    argv = vc.argv("start", "-n", "3", "--net", vc.net, "--port", str(vc.port))
    with subprocess.Popen(argv, stdout=subprocess.PIPE, text=True) as proc:
        assert proc.stdout is not None
        lines = []
        for line in proc.stdout:  # SIGTERM while it adds node2, when node1's daemons run
            lines.append(line)
            if "Adding node2" in line:
                proc.send_signal(signal.SIGTERM)
        out = "".join(lines)
        assert proc.wait(timeout=60) == 130, out
    assert "Interrupted: tearing down what was made" in out and "Nothing is left running" in out
    assert vc.namespaces() == set()
    assert processes_below(vc.dir) == []
    assert vc.state()["state"] == "failed"
    # and a new start in the same directory works
    vc("start", "-n", "1", "--net", vc.net, "--port", str(vc.port))
    assert vc.on(1, "gnt-cluster", "getmaster").stdout == f"node1.{vc.name}.vcluster\n"
