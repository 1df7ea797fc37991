"""corral's htools against a live cluster: ``-L`` loads it, ``hbal -L -X`` rebalances it.

A real three-node loopback cluster (fake hypervisor, ``sharedfile`` disks in
one shared directory) starts with every instance on the master, so hbal
has work to do. After ``-X`` the test checks what the config says *and*
where the fake hypervisor really runs each instance.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING

import pytest
from corral_htools.luxi_backend import load_luxi
from corral_htools.model import common_suffix
from corral_htools.textformat import parse_text
from corral_htools.textformat import serialize_text

from corral.testing.loopback import LoopbackCluster

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

INSTANCES = [f"inst{k}.example.com" for k in range(4)]
STEP = re.compile(r"^\s+\d+\. (\S+) (\S+)\s+=> (\S+)\s+[\d.]+ a=(\S+)$")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LoopbackCluster]:
    base = tmp_path_factory.mktemp("htools")
    c = LoopbackCluster(base, 3)
    shared = base / "shared"
    shared.mkdir()
    c.init("--enabled-disk-templates", "sharedfile,file,diskless",
           "--shared-file-storage-dir", str(shared))  # fmt: skip
    c.join(c.nodes[1])
    c.join(c.nodes[2])
    for node in c.nodes:  # the same, known resources on every node
        fake = node.state / "hypervisors/fake"
        fake.mkdir(parents=True, exist_ok=True)
        resources = {"memory_total": 4096, "cpu_total": 4, "memory_dom0": 256}
        (fake / "node.json").write_text(json.dumps(resources))
    for name in INSTANCES:  # all on the master: unbalanced
        c.master.run("gnt-instance", "add", "-t", "sharedfile", "-o", "noop",
                     "--disk", "0:size=1g", "-B", "memory=512", "--no-name-check",
                     "-n", c.master.name, name)  # fmt: skip
    yield c
    c.stop()


def socket_of(cluster: LoopbackCluster) -> str:
    return str(cluster.master.luxi().path)


def pnodes(cluster: LoopbackCluster) -> dict[str, str]:
    out = cluster.master.run("gnt-instance", "list", "--no-headers", "--separator=|",
                             "-o", "name,pnode").stdout  # fmt: skip
    return dict(line.split("|") for line in out.splitlines())


def running_on(cluster: LoopbackCluster) -> dict[str, list[str]]:
    """Instance -> the nodes whose fake hypervisor holds its record (what really runs)."""
    found: dict[str, list[str]] = {}
    for node in cluster.nodes:
        for record in (node.state / "hypervisors/fake/instances").glob("*.json"):
            found.setdefault(record.name.removesuffix(".json"), []).append(node.name)
    return found


def score(out: str, label: str = "Initial score: ") -> float:
    (line,) = [x for x in out.splitlines() if x.startswith(label)]
    return float(line.removeprefix(label))


def test_hbal_plans_then_executes_the_moves(cluster: LoopbackCluster, tmp_path: Path) -> None:
    m, sock = cluster.master, socket_of(cluster)
    assert set(pnodes(cluster).values()) == {m.name}

    plan = m.run("hbal", f"-L{sock}", "-C", "-S", str(tmp_path / "state")).stdout
    assert "Loaded 3 nodes, 4 instances" in plan and "Selected node group: default" in plan
    initial = score(plan)
    improved = re.search(r"Cluster score improved from ([\d.]+) to ([\d.]+)", plan)
    assert improved is not None and float(improved[1]) == initial
    final = float(improved[2])
    assert final < initial
    # as Ganeti, hbal prints the names without the domain suffix they all share
    names = [n.name for n in cluster.nodes] + list(INSTANCES)
    cut = len(common_suffix(names))
    full = {(name[:-cut] if cut else name): name for name in names}
    steps = [STEP.match(line) for line in plan.splitlines()]
    shown = {s[1]: s[3] for s in steps if s is not None}
    moves = {full[inst]: full[target] for inst, target in shown.items()}
    assert moves and all(full[s[2]] == m.name for s in steps if s is not None)
    assert all(s[4] == f"fa:{s[3]}" for s in steps if s is not None)  # failover to any
    assert f"Solution length={len(moves)}" in plan
    for inst, target in shown.items():
        assert f"gnt-instance migrate -f -n {target} {inst}" in plan

    # The saved state, read back by the text backend, gives the very same run.
    again = m.run("hbal", "-t", str(tmp_path / "state.original"), "-C").stdout
    assert again == plan

    executed = m.run("hbal", "-L", sock, "-X", "--reason", "integration test")
    out = executed.stdout
    assert executed.returncode == 0
    assert out.count("Executing jobset for instances") >= 1
    assert re.search(r"^Got job IDs \d+", out, re.MULTILINE)
    where = pnodes(cluster)
    for inst in INSTANCES:
        expected = moves.get(inst, m.name)
        assert where[inst] == expected
        assert running_on(cluster)[inst] == [expected]

    after = m.run("hbal", f"-L{sock}").stdout
    assert score(after) == pytest.approx(final, abs=1e-6) and score(after) < initial
    assert "No solution found" in after or "Solution length=0" in after

    jobs = m.run("gnt-job", "list", "--no-headers").stdout
    assert sum("INSTANCE_MIGRATE" in line and "success" in line for line in jobs.splitlines()) == (
        len(moves)
    )


def test_hcheck_and_hinfo_over_luxi(cluster: LoopbackCluster) -> None:
    m, sock = cluster.master, socket_of(cluster)
    check = m.run("hcheck", f"-L{sock}")
    assert "Cluster statistics initially" in check.stdout
    assert "Nodes not N+1 happy: 0" in check.stdout
    info = m.run("hinfo", "-L")  # the default socket (under this node's CORRAL_ROOTDIR)
    assert "Loaded 3 nodes, 4 instances, 1 node group" in info.stdout
    assert "Cluster is N+1 happy" in info.stdout
    verbose = m.run("hinfo", "-L", "-v").stdout
    assert re.search(r"^   default +3 +4 +0 +0 True [\d.]+$", verbose, re.MULTILINE)


def test_luxi_load_round_trips_through_the_text_format(cluster: LoopbackCluster) -> None:
    live = load_luxi(socket_of(cluster))
    text = serialize_text(live)
    loaded = parse_text(text)
    assert [g.__dict__ for g in loaded.groups] == [g.__dict__ for g in live.groups]
    assert [n.__dict__ for n in loaded.nodes] == [n.__dict__ for n in live.nodes]
    # The text format keeps the disk total, not the per-disk sizes nor the NIC count.
    for inst in live.instances:
        assert inst.disks == [1024] and inst.nics == 1
        inst.disks, inst.nics = [], 1
    assert [i.__dict__ for i in loaded.instances] == [i.__dict__ for i in live.instances]
    assert (loaded.tags, loaded.ipolicy) == (live.tags, live.ipolicy)
    assert serialize_text(loaded) == text
    master = next(n for n in live.nodes if n.name == cluster.master.name)
    assert master.master and (master.t_mem, master.n_mem, master.t_cpu) == (4096.0, 256, 4.0)
    assert {i.template for i in live.instances} == {"sharedfile"}
    assert all(i.status == "running" and i.mem == 512 for i in live.instances)


def test_unreachable_socket_is_named(cluster: LoopbackCluster, tmp_path: Path) -> None:
    m = cluster.master
    missing = tmp_path / "no-such-socket"
    for tool in ("hbal", "hcheck", "hinfo"):
        proc = m.run(tool, f"-L{missing}", check=False)
        assert proc.returncode == 1
        assert f"cannot reach the master daemon at {missing}" in proc.stderr, proc.stderr
        assert "Traceback" not in proc.stderr
    proc = m.run("hbal", "-t", str(tmp_path / "x"), "-X", check=False)
    assert proc.returncode == 1 and "Execution of commands possible only on LUXI" in proc.stderr
