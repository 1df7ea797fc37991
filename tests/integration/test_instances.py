"""An operator's instance runbook on a real three-node cluster, checked against the nodes.

Real daemons on loopback addresses; instances run on the fake hypervisor
(a record file per running instance in the node's state directory) with
``sharedfile`` disks in one directory all nodes share. After each step
the test looks at the config (through the commands) *and* at what the
nodes really hold.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest

from corral.testing.loopback import LoopbackCluster

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

INST = "web1.example.com"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LoopbackCluster]:
    base = tmp_path_factory.mktemp("instances")
    c = LoopbackCluster(base, 3)
    c.shared = base / "shared"  # type: ignore[attr-defined]
    c.shared.mkdir()  # type: ignore[attr-defined]  # the operator's shared mount
    c.init("--enabled-disk-templates", "sharedfile,file,diskless",
           "--shared-file-storage-dir", str(c.shared))  # type: ignore[attr-defined]  # fmt: skip
    c.join(c.nodes[1])
    c.join(c.nodes[2])
    yield c
    c.stop()


def field(cluster: LoopbackCluster, name: str, *fields: str) -> list[str]:
    out = cluster.master.run("gnt-instance", "list", "--no-headers", "--separator=|",
                             "-o", ",".join(fields), name).stdout  # fmt: skip
    return out.strip().split("|")


def running_on(cluster: LoopbackCluster, name: str) -> list[str]:
    """The nodes whose fake hypervisor has a record of ``name`` (what really runs there)."""
    return [
        node.name for node in cluster.nodes
        if (node.state / "hypervisors/fake/instances" / f"{name}.json").exists()
    ]  # fmt: skip


def disk_files(cluster: LoopbackCluster, name: str) -> list[Path]:
    return sorted((cluster.shared / name).glob("*.file.disk*"))  # type: ignore[attr-defined]


def instance_names(cluster: LoopbackCluster) -> list[str]:
    out = cluster.master.run("gnt-instance", "list", "--no-headers", "-o", "name").stdout
    return out.split()


def test_runbook(cluster: LoopbackCluster) -> None:
    m = cluster.master
    out = m.run("gnt-instance", "add", "-t", "sharedfile", "-o", "noop", "-I", ".",
                "--disk", "0:size=1g", "-B", "memory=256", "--no-name-check", INST).stdout  # fmt: skip
    assert "via iallocator builtin" in out and "* creating instance disks..." in out
    pnode, status, ram = field(cluster, INST, "pnode", "status", "oper_ram")
    assert status == "running" and ram == "256"
    assert running_on(cluster, INST) == [pnode]
    files = disk_files(cluster, INST)
    assert len(files) == 1 and files[0].stat().st_size == 1024 * 1024 * 1024

    info = m.run("gnt-instance", "info", INST).stdout
    assert f"Instance name: {INST}" in info and f"    - primary: {pnode}" in info
    assert "    - disk/0: sharedfile, size 1.0G" in info
    assert f"      on primary: {files[0]}, status ok" in info  # as the node found it
    static = m.run("gnt-instance", "info", "-s", INST).stdout
    assert "on primary" not in static and "      access mode: rw" in static

    out = m.run("gnt-instance", "modify", "-B", "maxmem=512,minmem=512", INST).stdout
    assert " - be/maxmem -> 512" in out
    assert field(cluster, INST, "be/maxmem", "oper_ram") == ["512", "256"]  # at next start

    m.run("gnt-instance", "modify", "--disk", "add:size=1g", INST)
    m.run("gnt-instance", "grow-disk", INST, "1", "1g")
    assert field(cluster, INST, "disk.sizes") == ["1024,2048"]
    sizes = sorted(f.stat().st_size for f in disk_files(cluster, INST))
    assert sizes == [1024**3, 2 * 1024**3]

    m.run("gnt-instance", "shutdown", "--timeout", "0", INST)
    assert field(cluster, INST, "status") == ["ADMIN_down"] and running_on(cluster, INST) == []
    m.run("gnt-instance", "startup", INST)
    assert field(cluster, INST, "status", "oper_ram") == ["running", "512"]
    m.run("gnt-instance", "reboot", INST)
    assert running_on(cluster, INST) == [pnode]

    out = m.run("gnt-instance", "migrate", "-f", INST).stdout
    assert "* migrating instance to" in out
    (moved,) = field(cluster, INST, "pnode")
    assert moved != pnode and running_on(cluster, INST) == [moved]
    record = json.loads((cluster.nodes[[n.name for n in cluster.nodes].index(moved)].state
                         / "hypervisors/fake/instances" / f"{INST}.json").read_text())  # fmt: skip
    assert record["state"] == "running" and len(record["disks"]) == 2

    out = m.run("gnt-instance", "failover", "-f", INST).stdout
    assert "* shutting down instance on source node" in out
    (failed_to,) = field(cluster, INST, "pnode")
    assert failed_to != moved and running_on(cluster, INST) == [failed_to]

    m.run("gnt-node", "migrate", "-f", failed_to)
    (after,) = field(cluster, INST, "pnode")
    assert after != failed_to and running_on(cluster, INST) == [after]
    out = m.run("gnt-node", "list", "--no-headers", "-o", "name,pinst_cnt", failed_to).stdout
    assert out.split() == [failed_to, "0"]

    out = m.run("gnt-node", "evacuate", "-f", "-s", after).stdout
    assert f"No instances to evacuate from node {after}" in out
    assert field(cluster, INST, "pnode") == [after]

    verify = m.run("gnt-cluster", "verify", check=False)
    assert verify.returncode == 0, verify.stdout

    m.run("gnt-instance", "remove", "-f", INST)
    assert INST not in instance_names(cluster)
    assert running_on(cluster, INST) == [] and disk_files(cluster, INST) == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-o", "nosuch-os"], "Directory for OS nosuch-os not found in search path"),
        (["-n", "nosuch.example.com"], "Node nosuch.example.com not known"),
        (["-g", "nosuch-group"], "Node group nosuch-group not known"),
        (
            ["-n", "{master}", "-B", "memory=1000000", "--ignore-ipolicy"],
            "Not enough memory on node node1",
        ),
        (["-B", "memory=1000000"], "No valid allocation solutions, failure reasons: FailMem: 3"),
        (["-B", "memory=64"], "violates policy: memory-size value 64 is not in range [128,"),
        (["--disk", "0:size=1x"], "disk 0: Invalid size unit 'x' in '1x' (use m, g or t)"),
        (["-t", "plain"], "Disk template 'plain' is not enabled in cluster"),
        (["-H", "nosuch-hv"], "Selected hypervisor (nosuch-hv) not enabled in the cluster"),
    ],
)
def test_bad_input_is_refused_and_leaves_nothing(
    cluster: LoopbackCluster, args: list[str], message: str
) -> None:
    m = cluster.master
    before = instance_names(cluster)
    name = "bad.example.com"
    base = ["-t", "sharedfile", "-o", "noop", "--disk", "0:size=1g", "--no-name-check"]
    args = [a.replace("{master}", m.name) for a in args]
    refused = m.run("gnt-instance", "add", *base, *args, name, check=False)
    assert refused.returncode != 0 and message in refused.stderr, refused.stderr
    assert instance_names(cluster) == before
    assert disk_files(cluster, name) == [] and running_on(cluster, name) == []


def test_duplicate_name_and_failed_install_leave_nothing(cluster: LoopbackCluster) -> None:
    m = cluster.master
    m.run(
        "gnt-instance", "add", "-t", "diskless", "-o", "noop", "--no-name-check", "dup.example.com"
    )
    refused = m.run("gnt-instance", "add", "-t", "diskless", "-o", "noop", "--no-name-check",
                    "dup.example.com", check=False)  # fmt: skip
    assert "Instance 'dup.example.com' is already in the cluster" in refused.stderr
    m.run("gnt-instance", "remove", "-f", "dup.example.com")

    # An OS whose create script fails: the disks and the config entry go again.
    osdir = cluster.master.root / "srv/ganeti/os/broken"
    osdir.mkdir(parents=True)
    (osdir / "ganeti_api_version").write_text("20\n")
    (osdir / "parameters.list").write_text("")
    for script, body in (("create", "echo 'cannot partition the disk' >&2; exit 3"),
                         ("import", "exit 0"), ("export", "exit 0"), ("rename", "exit 0"),
                         ("verify", "exit 0")):  # fmt: skip
        path = osdir / script
        path.write_text(f"#!/bin/sh\n{body}\n")
        path.chmod(0o755)
    before = instance_names(cluster)
    failed = m.run("gnt-instance", "add", "-t", "sharedfile", "-o", "broken", "--disk",
                   "0:size=1g", "-n", cluster.master.name, "--no-name-check",
                   "broken.example.com", check=False)  # fmt: skip
    assert failed.returncode == 1 and "Could not add os for instance" in failed.stderr
    assert "cannot partition the disk" in failed.stderr
    assert instance_names(cluster) == before
    assert disk_files(cluster, "broken.example.com") == []


def test_tags_on_every_kind_and_search(cluster: LoopbackCluster) -> None:
    m = cluster.master
    node = cluster.nodes[1].name
    m.run("gnt-instance", "add", "-t", "diskless", "-o", "noop", "--no-name-check",
          "--tags", "env:test", "tagged.example.com")  # fmt: skip
    m.run("gnt-instance", "add-tags", "tagged.example.com", "web", "owner:ops")
    m.run("gnt-node", "add-tags", node, "rack:r1")
    m.run("gnt-cluster", "add-tags", "site:lab")
    tags = m.run("gnt-instance", "list-tags", "tagged.example.com").stdout.split()
    assert tags == ["env:test", "owner:ops", "web"]
    assert m.run("gnt-node", "list-tags", node).stdout.split() == ["rack:r1"]
    assert m.run("gnt-cluster", "list-tags").stdout.split() == ["site:lab"]
    found = m.run("gnt-cluster", "search-tags", "^(rack|owner|site):").stdout.splitlines()
    assert found == ["/cluster site:lab", "/instances/tagged.example.com owner:ops",
                     f"/nodes/{node} rack:r1"]  # fmt: skip

    bad = m.run("gnt-instance", "add-tags", "tagged.example.com", "no spaces", check=False)
    assert bad.returncode == 1 and "Invalid tag name ('no spaces')" in bad.stderr
    missing = m.run("gnt-instance", "remove-tags", "tagged.example.com", "absent", check=False)
    assert missing.returncode == 1 and "Tag(s) 'absent' not found" in missing.stderr
    m.run("gnt-instance", "remove-tags", "tagged.example.com", "web")
    assert m.run("gnt-instance", "list-tags", "tagged.example.com").stdout.split() == [
        "env:test", "owner:ops",
    ]  # fmt: skip
    m.run("gnt-instance", "remove", "-f", "tagged.example.com")


def test_gnt_os_sees_every_node(cluster: LoopbackCluster) -> None:
    m = cluster.master
    site = m.root / "srv/ganeti/os/siteos"  # on the master only
    site.mkdir(parents=True)
    (site / "ganeti_api_version").write_text("20\n")
    (site / "parameters.list").write_text("size the size\n")
    (site / "variants.list").write_text("small\nbig\n")
    for script in ("create", "import", "export", "rename", "verify"):
        (site / script).write_text("#!/bin/sh\nexit 0\n")
        (site / script).chmod(0o755)

    listed = m.run("gnt-os", "list", "--no-headers").stdout.split()
    assert "noop" in listed and not any(n.startswith("siteos") for n in listed)
    out = m.run("gnt-os", "diagnose").stdout
    assert "OS: siteos [global status: invalid - not valid on all nodes]" in out
    assert f"  Node: {m.name}, status: valid (path: {site}) [variants: small, big]" in out
    assert "OS: noop [global status: valid]" in out

    m.run("gnt-os", "modify", "-O", "size=10", "--blacklisted", "yes", "noop")
    info = m.run("gnt-os", "info", "noop").stdout
    assert "  blacklisted: True" in info and "    - size: 10" in info
    assert "noop" not in m.run("gnt-os", "list", "--no-headers").stdout.split()
    refused = m.run("gnt-instance", "add", "-t", "diskless", "-o", "noop", "--no-name-check",
                    "blocked.example.com", check=False)  # fmt: skip
    assert "Guest OS 'noop' is not allowed for installation (it is blacklisted" in refused.stderr
    m.run("gnt-os", "modify", "-O", "size=default", "--blacklisted", "no", "noop")
    assert "noop" in m.run("gnt-os", "list", "--no-headers").stdout.split()


def test_reinstall_rename_console_and_disks(cluster: LoopbackCluster) -> None:
    m = cluster.master
    name = "maint.example.com"
    m.run("gnt-instance", "add", "-t", "sharedfile", "-o", "noop", "--disk", "0:size=1g",
          "--no-name-check", name)  # fmt: skip
    out = m.run("gnt-instance", "console", name).stdout
    assert "runs on the fake hypervisor" in out and "which has no console" in out
    refused = m.run("gnt-instance", "reinstall", "-f", name, check=False)
    assert "is running, a reinstall needs it stopped" in refused.stderr
    m.run("gnt-instance", "shutdown", "--timeout", "0", name)
    out = m.run("gnt-instance", "reinstall", "-f", name).stdout
    assert "Running the instance OS create scripts (noop)" in out
    logs = list((m.root / "var/log/corral/os").glob(f"add-noop-{name}-*.log"))
    assert len(logs) == 2  # the first install and the reinstall, each with its log

    out = m.run("gnt-instance", "activate-disks", name).stdout.strip()
    node, disk, path = out.split(":")
    assert (
        node == field(cluster, name, "pnode")[0]
        and disk == "disk/0"
        and path == str(disk_files(cluster, name)[0])
    )
    assert field(cluster, name, "disks_active") == ["Y"]
    m.run("gnt-instance", "deactivate-disks", name)
    assert field(cluster, name, "disks_active") == ["N"]

    out = m.run("gnt-instance", "rename", "--no-name-check", name, "renamed.example.com").stdout
    assert f"Instance '{name}' renamed to 'renamed.example.com'" in out
    assert "renamed.example.com" in instance_names(cluster) and name not in instance_names(cluster)
    m.run("gnt-instance", "startup", "renamed.example.com")
    assert running_on(cluster, "renamed.example.com") != []
    m.run("gnt-instance", "remove", "-f", "renamed.example.com")


def test_native_hail_places_instances(cluster: LoopbackCluster) -> None:
    m = cluster.master
    out = m.run("gnt-instance", "add", "-t", "sharedfile", "-o", "noop", "-I", "hail",
                "--disk", "0:size=1g", "--no-name-check", "hailed.example.com").stdout  # fmt: skip
    chosen = out.split("via iallocator hail: ")[1].split()[0]
    assert chosen in [n.name for n in cluster.nodes]
    assert field(cluster, "hailed.example.com", "pnode", "status") == [chosen, "running"]
    refused = m.run("gnt-instance", "add", "-t", "sharedfile", "-o", "noop", "-I", "hail",
                    "--disk", "0:size=1g", "-B", "memory=2000000", "--ignore-ipolicy",
                    "--no-name-check", "huge.example.com", check=False)  # fmt: skip
    assert (
        refused.returncode == 1 and "Can't compute nodes using iallocator 'hail'" in refused.stderr
    )
    m.run("gnt-instance", "remove", "-f", "hailed.example.com")


def test_groups_bound_placement_and_policy(cluster: LoopbackCluster) -> None:
    m = cluster.master
    n3 = cluster.nodes[2].name
    m.run("gnt-group", "add", "--ipolicy-bounds-specs",
          "min:memory-size=128,cpu-count=1,disk-count=1,disk-size=1g,nic-count=1,spindle-use=1"
          "/max:memory-size=512,cpu-count=2,disk-count=4,disk-size=10g,nic-count=4,spindle-use=4",
          "small")  # fmt: skip
    m.run("gnt-group", "assign-nodes", "small", n3)
    rows = m.run("gnt-group", "list", "--no-headers", "-o", "name,node_cnt").stdout.split()
    assert rows == ["default", "2", "small", "1"]
    out = m.run("gnt-instance", "add", "-t", "diskless", "-o", "noop", "-g", "small",
                "--no-name-check", "grouped.example.com").stdout  # fmt: skip
    assert f"via iallocator builtin: {n3}" in out
    refused = m.run("gnt-instance", "add", "-t", "diskless", "-o", "noop", "-g", "small",
                    "-B", "memory=1024", "--no-name-check", "toobig.example.com", check=False)  # fmt: skip
    assert "violates policy: memory-size value 1024 is not in range [128, 512]" in refused.stderr
    info = m.run("gnt-group", "info", "small").stdout
    assert f"  Nodes: {n3}" in info and "  Instances: grouped.example.com" in info
    refused = m.run("gnt-group", "remove", "small", check=False)
    assert f"Group 'small' not empty, has the following node(s): {n3}" in refused.stderr
    m.run("gnt-instance", "remove", "-f", "grouped.example.com")
    m.run("gnt-group", "assign-nodes", "default", n3)
    m.run("gnt-group", "rename", "small", "tiny")
    m.run("gnt-group", "remove", "tiny")
    assert m.run("gnt-group", "list", "--no-headers", "-o", "name").stdout.split() == ["default"]


def test_disks_are_wiped_on_create_with_progress(cluster: LoopbackCluster) -> None:
    m = cluster.master
    m.run("gnt-cluster", "modify", "--prealloc-wipe-disks", "yes")
    try:
        out = m.run("gnt-instance", "add", "-t", "sharedfile", "-o", "noop", "--disk",
                    "0:size=1g", "--no-start", "--no-name-check", "wiped.example.com").stdout  # fmt: skip
    finally:
        m.run("gnt-cluster", "modify", "--prealloc-wipe-disks", "no")
    assert "* Wiping disk 0" in out and "using a chunk size of 102" in out
    progress = [line for line in out.splitlines() if " - done: " in line]
    assert len(progress) == 11 and progress[-1].split(" - INFO:  - done: ")[1].startswith(
        "100.0% ETA: 0s"
    )
    (disk,) = disk_files(cluster, "wiped.example.com")
    assert disk.stat().st_blocks * 512 >= 1024**3  # written, no longer sparse
    m.run("gnt-instance", "remove", "-f", "wiped.example.com")


def test_batch_create_checks_everything_first(cluster: LoopbackCluster, tmp_path: Path) -> None:
    m = cluster.master
    batch = tmp_path / "batch.json"
    entries = [{"instance_name": f"batch{i}.example.com", "disk_template": "diskless",
                "os_type": "noop", "disks": [], "nics": [{}], "name_check": False,
                "ip_check": False} for i in range(3)]  # fmt: skip
    batch.write_text(json.dumps([*entries, {"instance_name": "bad.example.com", "disks": "x"}]))
    refused = m.run("gnt-instance", "batch-create", str(batch), check=False)
    assert refused.returncode == 1 and "instance 3 (bad.example.com)" in refused.stderr
    assert not any(n.startswith("batch") for n in instance_names(cluster))

    batch.write_text(json.dumps(entries))
    out = m.run("gnt-instance", "batch-create", "-I", ".", str(batch)).stdout
    assert out.startswith("Submitted jobs ") and out.count(": created (job ") == 3
    assert [n for n in instance_names(cluster) if n.startswith("batch")] == [
        "batch0.example.com", "batch1.example.com", "batch2.example.com",
    ]  # fmt: skip
    for entry in entries:
        m.run("gnt-instance", "remove", "-f", entry["instance_name"])


def test_nic_changes_with_modify(cluster: LoopbackCluster) -> None:
    m, name = cluster.master, "nics.example.com"
    m.run("gnt-instance", "add", "-t", "diskless", "-o", "noop", "--no-start",
          "--net", "0:link=br0", "--no-name-check", name)  # fmt: skip
    (mac0,) = field(cluster, name, "nic.macs")[0].split(",")
    out = m.run("gnt-instance", "modify", "--net", "add:link=br1,ip=10.0.0.5", name).stdout
    assert " - nic.1 -> add:mac=" in out and ",ip=10.0.0.5,link=br1" in out
    out = m.run("gnt-instance", "modify", "--net", "1:modify,link=br2,mac=aa:00:00:12:34:56",
                name).stdout  # fmt: skip
    assert " - nic.link/1 -> br2" in out and " - nic.mac/1 -> aa:00:00:12:34:56" in out
    assert field(cluster, name, "nic.count", "nic.links", "nic.macs") == [
        "2", "br0,br2", f"{mac0},aa:00:00:12:34:56"
    ]  # fmt: skip
    # Bad input changes nothing: a MAC in use, an unknown NIC, a malformed change.
    for argv, message in [
        (["--net", f"1:modify,mac={mac0}"], f"MAC address {mac0} already in use"),
        (["--net", "5:remove"], "Invalid NIC index 5 (the instance has 2 NICs)"),
        (["--net", "1:modify,colour=red"], "colour: unknown NIC parameter"),
        (["--net", "frob"], "invalid NIC change 'frob'"),
    ]:
        refused = m.run("gnt-instance", "modify", *argv, name, check=False)
        assert refused.returncode != 0 and message in refused.stderr, (argv, refused.stderr)
    assert field(cluster, name, "nic.count", "nic.links") == ["2", "br0,br2"]
    # No hypervisor here can hot-plug: --hotplug is refused before any change (as
    # Ganeti does off KVM); --hotplug-if-possible makes it at the next start.
    refused = m.run("gnt-instance", "modify", "--hotplug", "--net", "add:link=br3", name,
                    check=False)  # fmt: skip
    assert refused.returncode != 0
    assert "hot-plugging is not supported by hypervisor fake" in refused.stderr
    assert "--hotplug-if-possible" in refused.stderr
    assert field(cluster, name, "nic.count") == ["2"]
    done = m.run("gnt-instance", "modify", "--hotplug-if-possible", "--net", "add:link=br3",
                 name)  # fmt: skip
    assert "the disk and NIC changes apply at the next start" in done.stdout + done.stderr
    assert field(cluster, name, "nic.links") == ["br0,br2,br3"]
    m.run("gnt-instance", "modify", "--net", "2:remove", name)
    out = m.run("gnt-instance", "modify", "--net", "0:remove", name).stdout
    assert " - nic.0 -> remove" in out
    assert field(cluster, name, "nic.links", "nic.macs") == ["br2", "aa:00:00:12:34:56"]
    m.run("gnt-instance", "remove", "-f", name)


def test_hook_scripts_run_on_the_instances_node_too(cluster: LoopbackCluster) -> None:
    m, n2 = cluster.master, cluster.nodes[1]
    name = "hooked.example.com"
    m.run("gnt-instance", "add", "-t", "diskless", "-o", "noop", "-n", n2.name, "--no-start",
          "--no-name-check", name)  # fmt: skip
    master_dir = m.root / "etc/corral/hooks/instance-start-pre.d"
    node_dir = n2.root / "etc/corral/hooks/instance-start-pre.d"
    seen = n2.root / "hook-saw"
    master_dir.mkdir(parents=True)  # empty on the master: the node's scripts still run
    node_dir.mkdir(parents=True)
    check = node_dir / "10-check"
    check.write_text(f'#!/bin/sh\necho "$GANETI_INSTANCE_NAME $GANETI_HOOKS_PHASE" > {seen}\n'
                     f'[ ! -e {n2.root}/frozen ] || {{ echo "node is frozen"; exit 1; }}\n')  # fmt: skip
    check.chmod(0o755)
    try:
        m.run("gnt-instance", "startup", name)
        assert seen.read_text() == f"{name} pre\n"  # ran on node2, with the master's env
        m.run("gnt-instance", "shutdown", "--timeout", "0", name)
        (n2.root / "frozen").touch()
        refused = m.run("gnt-instance", "startup", name, check=False)
        assert refused.returncode != 0
        assert f"{n2.name}: instance-start-pre.d/10-check failed (exit 1)" in refused.stderr
        assert "node is frozen" in refused.stderr
        assert field(cluster, name, "status") == ["ADMIN_down"]  # nothing changed
        assert running_on(cluster, name) == []
    finally:
        check.unlink()
        node_dir.rmdir()
        master_dir.rmdir()
        m.run("gnt-instance", "remove", "-f", name)
