"""Moving instances the other ways: copy (``move``), ``recreate-disks``, ``change-group``
and ``gnt-group evacuate``, on a real three-node cluster.

Each node has its own file storage directory below its root (as Ganeti's
vcluster mode localises node paths), so a ``file`` disk really is on one
node and a move really copies it: the test writes data into the disk on
the source node and reads it back on the target.
"""

from __future__ import annotations

import hashlib
import os
from typing import TYPE_CHECKING

import pytest

from corral.testing.loopback import LoopbackCluster
from corral.testing.loopback import VNode

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

MIB = 1024 * 1024


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LoopbackCluster]:
    base = tmp_path_factory.mktemp("moves")
    c = LoopbackCluster(base, 3)
    shared = base / "shared"
    shared.mkdir()
    c.init("--enabled-disk-templates", "file,sharedfile,diskless",
           "--shared-file-storage-dir", str(shared))  # fmt: skip
    c.join(c.nodes[1])
    c.join(c.nodes[2])
    c.master.run("gnt-cluster", "modify", "--ipolicy-bounds-specs",  # small disks copy fast
                 "min:memory-size=32,cpu-count=1,disk-count=0,disk-size=1,nic-count=0,"
                 "spindle-use=0/max:memory-size=32768,cpu-count=8,disk-count=16,"
                 "disk-size=1048576,nic-count=8,spindle-use=12")  # fmt: skip
    yield c
    c.stop()


def node_of(cluster: LoopbackCluster, name: str) -> VNode:
    return next(n for n in cluster.nodes if n.name == name)


def fields(cluster: LoopbackCluster, name: str, *wanted: str) -> list[str]:
    out = cluster.master.run("gnt-instance", "list", "--no-headers", "--separator=|",
                             "-o", ",".join(wanted), name).stdout  # fmt: skip
    return out.strip().split("|")


def local_disks(node: VNode, name: str) -> list[Path]:
    """``name``'s file disks in ``node``'s own file storage directory, by disk index."""
    found = (node.root / "srv/corral/file-storage" / name).glob("*.file.disk*")
    return sorted(found, key=lambda p: int(p.name.rsplit("disk", 1)[1]))


def running_on(cluster: LoopbackCluster, name: str) -> list[str]:
    return [
        n.name for n in cluster.nodes
        if (n.state / "hypervisors/fake/instances" / f"{name}.json").exists()
    ]  # fmt: skip


def scribble(path: Path) -> str:
    """Write data at a few places of a (sparse) disk; returns the disk's sha256."""
    with path.open("r+b") as disk:
        for offset in (0, 5 * MIB + 17, 20 * MIB - 4096):
            disk.seek(offset)
            disk.write(os.urandom(4096))
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_move_copies_a_file_instance_to_another_node(cluster: LoopbackCluster) -> None:
    m, n1, n2 = cluster.master, cluster.nodes[0], cluster.nodes[1]
    name = "copied.example.com"
    m.run("gnt-instance", "add", "-t", "file", "-o", "noop", "-n", n1.name, "--disk",
          "0:size=20m", "--disk", "1:size=8m", "--no-name-check", name)  # fmt: skip
    first, _ = local_disks(n1, name)
    digest = scribble(first)
    assert running_on(cluster, name) == [n1.name]

    out = m.run("gnt-instance", "move", "-f", "-n", n2.name, name).stdout
    assert f"* copying disk/0 (20 MiB) from {n1.name} to {n2.name}" in out
    assert " - INFO:  - done: 100.0% ETA: 0s" in out
    assert fields(cluster, name, "pnode", "status") == [n2.name, "running"]
    assert running_on(cluster, name) == [n2.name]
    assert local_disks(n1, name) == []  # the source's disks are gone
    moved = local_disks(n2, name)
    assert [p.stat().st_size for p in moved] == [20 * MIB, 8 * MIB]
    assert hashlib.sha256(moved[0].read_bytes()).hexdigest() == digest
    assert moved[1].stat().st_blocks == 0  # a zero disk stays sparse: nothing was sent

    m.run("gnt-instance", "shutdown", "--timeout", "0", name)
    m.run("gnt-instance", "move", "-f", "-n", n1.name, name)  # a stopped one stays stopped
    assert fields(cluster, name, "pnode", "status") == [n1.name, "ADMIN_down"]
    assert hashlib.sha256(local_disks(n1, name)[0].read_bytes()).hexdigest() == digest
    m.run("gnt-instance", "remove", "-f", name)
    assert local_disks(n1, name) == local_disks(n2, name) == []


def test_move_refuses_what_it_cannot_do(cluster: LoopbackCluster) -> None:
    m, n1, n2 = cluster.master, cluster.nodes[0], cluster.nodes[1]
    m.run("gnt-instance", "add", "-t", "sharedfile", "-o", "noop", "-n", n1.name, "-s", "8m",
          "--no-start", "--no-name-check", "shared.example.com")  # fmt: skip
    m.run("gnt-instance", "add", "-t", "file", "-o", "noop", "-n", n1.name, "-s", "8m",
          "--no-start", "--no-name-check", "local.example.com")  # fmt: skip
    cases = [
        (["shared.example.com", "-n", n2.name], "use 'gnt-instance migrate' or 'failover'"),
        (["local.example.com", "-n", n1.name], f"already on node {n1.name}"),
        (["local.example.com", "-n", "nowhere.example.com"], "Node nowhere.example.com not known"),
        (["local.example.com", "-n", n2.name, "--compress", "gzip"], "Compression 'gzip'"),
        (["local.example.com"], "the following arguments are required: -n/--target-node"),
    ]
    for argv, message in cases:
        refused = m.run("gnt-instance", "move", "-f", *argv, check=False)
        assert refused.returncode != 0 and message in refused.stderr, (argv, refused.stderr)
    assert local_disks(n2, "local.example.com") == []  # nothing was made on the target
    assert fields(cluster, "local.example.com", "pnode") == [n1.name]
    for name in ("shared.example.com", "local.example.com"):
        m.run("gnt-instance", "remove", "-f", name)


def test_recreate_disks_after_a_disk_is_lost(cluster: LoopbackCluster) -> None:
    m, n1, n3 = cluster.master, cluster.nodes[0], cluster.nodes[2]
    name = "lost.example.com"
    m.run("gnt-instance", "add", "-t", "file", "-o", "noop", "-n", n1.name, "--disk",
          "0:size=8m", "--disk", "1:size=4m", "--no-name-check", name)  # fmt: skip
    refused = m.run("gnt-instance", "recreate-disks", name, check=False)
    assert f"Instance {name} is running" in refused.stderr
    m.run("gnt-instance", "shutdown", "--timeout", "0", name)

    refused = m.run("gnt-instance", "recreate-disks", "--disk", "1", name, check=False)
    assert (
        "cannot create disk/1 of instance" in refused.stderr and "already exists" in refused.stderr
    )
    first, second = local_disks(n1, name)
    second.unlink()
    # info asks the node where each disk is: the lost one is reported, not hidden.
    info = m.run("gnt-instance", "info", name).stdout
    assert f"      on primary: {first}, status ok" in info
    assert f"      on primary: missing on {n1.name}, status *DEGRADED*" in info
    m.run("gnt-instance", "recreate-disks", "--disk", "1:size=12m", name)
    assert [p.stat().st_size for p in local_disks(n1, name)] == [8 * MIB, 12 * MIB]
    assert fields(cluster, name, "disk.sizes") == ["8,12"]

    refused = m.run("gnt-instance", "recreate-disks", "--disk", "0", "-n", n3.name, name,
                    check=False)  # fmt: skip
    assert "Changing the nodes needs every disk recreated" in refused.stderr
    m.run("gnt-instance", "recreate-disks", "-n", n3.name, name)  # e.g. node1 died
    assert fields(cluster, name, "pnode") == [n3.name]
    assert [p.stat().st_size for p in local_disks(n3, name)] == [8 * MIB, 12 * MIB]
    m.run("gnt-instance", "startup", name)
    assert running_on(cluster, name) == [n3.name]
    m.run("gnt-instance", "remove", "-f", name)
    for path in local_disks(n1, name):  # the old ones were left for the operator
        path.unlink()


def test_change_group_and_group_evacuate(cluster: LoopbackCluster) -> None:
    m, n1, n3 = cluster.master, cluster.nodes[0], cluster.nodes[2]
    m.run("gnt-group", "add", "rack2")
    m.run("gnt-group", "assign-nodes", "rack2", n3.name)
    try:
        m.run("gnt-instance", "add", "-t", "sharedfile", "-o", "noop", "-n", n1.name, "-s",
              "8m", "--no-name-check", "mover.example.com")  # fmt: skip
        m.run("gnt-instance", "add", "-t", "file", "-o", "noop", "-n", n1.name, "-s", "8m",
              "--no-start", "--no-name-check", "copier.example.com")  # fmt: skip
        refused = m.run("gnt-instance", "change-group", "--to", "default",
                        "mover.example.com", check=False)  # fmt: skip
        assert "the instance is already in it" in refused.stderr
        refused = m.run("gnt-instance", "change-group", "--to", "nogroup",
                        "mover.example.com", check=False)  # fmt: skip
        assert "Node group 'nogroup' not known" in refused.stderr

        # hail places the copied instance anew in rack2 (every other group) while that
        # one-node group is empty: once it holds a running instance, no node there
        # could take over from another and hail refuses to add more (as Ganeti's does)
        out = m.run("gnt-instance", "change-group", "-I", "hail", "copier.example.com").stdout
        assert f"Selected node {n3.name} for instance copier.example.com via iallocator hail" in out
        assert fields(cluster, "copier.example.com", "pnode") == [n3.name]
        assert len(local_disks(n3, "copier.example.com")) == 1
        # ... and answers a change-group request for the shared-storage one
        out = m.run("gnt-instance", "change-group", "-I", "hail", "--to", "rack2",
                    "mover.example.com").stdout  # fmt: skip
        assert f"Selected node {n3.name} for instance mover.example.com via iallocator hail" in out
        assert fields(cluster, "mover.example.com", "pnode", "status") == [n3.name, "running"]
        assert running_on(cluster, "mover.example.com") == [n3.name]  # migrated, still up

        out = m.run("gnt-group", "evacuate", "rack2").stdout
        assert "Moving instance copier.example.com (1/2)" in out
        for name in ("mover.example.com", "copier.example.com"):
            assert fields(cluster, name, "pnode") != [n3.name]
        assert running_on(cluster, "mover.example.com") != [n3.name]
        assert local_disks(n3, "copier.example.com") == []
        out = m.run("gnt-group", "evacuate", "rack2").stdout
        assert "No instances in group rack2, nothing to evacuate" in out
    finally:
        for name in ("mover.example.com", "copier.example.com"):
            m.run("gnt-instance", "remove", "-f", name, check=False)
        m.run("gnt-group", "assign-nodes", "default", n3.name)
        m.run("gnt-group", "remove", "rack2")
