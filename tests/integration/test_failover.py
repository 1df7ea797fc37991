"""Master failover on a real cluster: nothing acknowledged is lost, and only a majority wins.

The master's daemons are killed with SIGKILL (a crashed master node), a
candidate takes over through the real command, and the cluster it leads
has every job id and every config change that was acknowledged before.
"""

from __future__ import annotations

import json
import os
import signal
import time
from typing import TYPE_CHECKING

import pytest

from corral.testing.loopback import LoopbackCluster

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from corral.testing.loopback import VNode


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[LoopbackCluster]:
    c = LoopbackCluster(tmp_path, 3)
    c.init()
    c.join(c.nodes[1])
    c.join(c.nodes[2])
    yield c
    c.stop()


def kill(node: VNode, daemon: str) -> None:
    pid = int((node.root / f"var/run/corral/{daemon}.pid").read_text())
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while node.run("corral-daemon-util", "check", daemon, check=False).returncode == 0:
        assert time.monotonic() < deadline
        time.sleep(0.05)


def running(node: VNode, daemon: str) -> bool:
    return node.run("corral-daemon-util", "check", daemon, check=False).returncode == 0


def wait_for(predicate, what: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def test_failover_after_a_crash_keeps_every_acknowledged_job_and_change(cluster) -> None:
    m, n2, n3 = cluster.nodes
    with m.luxi() as luxi:
        ids = [luxi.call("SubmitJob", [{"OP_ID": "OP_TEST_DELAY", "duration": 0.0}])
               for _ in range(20)]  # fmt: skip
        ids.append(luxi.call("SubmitJob", [{"OP_ID": "OP_TEST_DELAY", "duration": 60.0}]))
    m.run("gnt-node", "modify", "--node-parameters", "spindle_count=3", n3.name)
    serial = json.loads(m.pem("config.data"))["serial_no"]
    # Every acknowledged job is on both candidates already, not only on the master.
    for node in (n2, n3):
        assert {f"job-{i}" for i in ids} <= {p.name for p in (node.state / "queue").iterdir()}
    kill(m, "corral-masterd")
    kill(m, "corral-noded")

    out = n2.run("gnt-cluster", "master-failover").stdout
    assert "Asking 2 node(s) who the master is" in out
    assert f"could not reach {m.name}" in out and f"{n2.name} is the master of" in out
    assert n2.run("gnt-cluster", "getmaster").stdout == f"{n2.name}\n"
    wait_for(lambda: (n3.state / "ssconf_master_node").read_text() == f"{n2.name}\n",
             "node3 to learn of the new master")  # fmt: skip
    with n2.luxi() as luxi:

        def statuses() -> dict[int, str]:
            return dict(luxi.call("QueryJobs", ids, ["id", "status"]))

        # Jobs still queued at the crash run on the new master; none is lost.
        wait_for(lambda: set(statuses().values()) <= {"success", "error"}, "every job to end")
        jobs = statuses()
        assert set(jobs) == set(ids)
        assert jobs[ids[-1]] == "error"  # it was running when the master died
        [result] = luxi.call("QueryJobs", [ids[-1]], ["opresult"])[0]
        assert "master daemon stopped while this job was running" in result[0]
        [new_id] = [luxi.call("SubmitJob", [{"OP_ID": "OP_TEST_DELAY", "duration": 0.0}])]
        assert new_id > max(ids)  # no id is handed out twice
        info = luxi.call("QueryNodes", [n3.name], ["custom_ndparams"], False)
        assert info == [[{"spindle_count": 3}]]
        assert luxi.call("QueryClusterInfo")["serial_no"] > serial
    # The new master can sign for new nodes: it got the CA key as a candidate.
    assert "corral-join-v1:" in n2.run("gnt-node", "join-token", "node9.example.com").stdout
    listed = n2.run("gnt-node", "list", "--no-headers", "-o", "name,role").stdout.split()
    assert listed == [m.name, "C", n2.name, "M", n3.name, "C"]

    # The old master comes back: it learns that it is not the master any more.
    m.run("corral-daemon-util", "start", "corral-noded", "--bind", m.ip)
    wait_for(lambda: (m.state / "ssconf_master_node").read_text() == f"{n2.name}\n",
             "the old master to get the new ssconf", timeout=30)  # fmt: skip
    refused = m.run("corral-daemon-util", "start", "corral-masterd", check=False)
    assert refused.returncode == 1 and "is not the master" in refused.stderr + refused.stdout


def test_a_master_that_was_cut_off_steps_down(cluster) -> None:
    m, n2, _ = cluster.nodes
    # The master's node daemon is gone, its master daemon still runs: a partition.
    kill(m, "corral-noded")
    assert running(m, "corral-masterd")
    n2.run("gnt-cluster", "master-failover")
    m.run("corral-daemon-util", "start", "corral-noded", "--bind", m.ip)
    wait_for(lambda: not running(m, "corral-masterd"), "the old master daemon to stop", 30)
    assert n2.run("gnt-cluster", "getmaster").stdout == f"{n2.name}\n"


def test_a_minority_cannot_take_over(cluster) -> None:
    m, n2, n3 = cluster.nodes
    kill(m, "corral-masterd")
    kill(m, "corral-noded")
    kill(n3, "corral-noded")
    refused = n2.run("gnt-cluster", "master-failover", check=False)
    assert refused.returncode == 1
    assert "only 1 of 3 nodes answered" in refused.stderr
    assert not running(n2, "corral-masterd")
    no_voting = n2.run("gnt-cluster", "master-failover", "--no-voting", check=False)
    assert "add --yes-do-it once you are sure" in no_voting.stderr
    assert (n2.state / "ssconf_master_node").read_text() == f"{m.name}\n"  # nothing changed


def test_only_a_candidate_takes_over(cluster) -> None:
    m, _, n3 = cluster.nodes
    m.run("gnt-node", "modify", "-C", "no", n3.name)
    refused = n3.run("gnt-cluster", "master-failover", check=False)
    assert "is not a master candidate" in refused.stderr
    refused = m.run("gnt-cluster", "master-failover", check=False)
    assert "is already the master" in refused.stderr
