"""Instance creation rate and ``gnt-instance list`` latency on a real three-node cluster.

Starts a cluster on loopback addresses with the real commands (three node
daemons, the master daemon), then:

* creates: N diskless instances on the fake hypervisor through LUXI
  (``OP_INSTANCE_CREATE``, ``--no-install``, started), one job each,
  submitted all at once and spread over the three nodes; the rate is N over
  the time from the first submission to the last job's end;
* list: ``gnt-instance list`` (Ganeti's default columns, live state from
  every node) as an operator runs it, a new process each time, with 1,000
  and 10,000 instances; median of 5 runs. Instances beyond those created
  are added to the config file while the master daemon is stopped
  (copies of a created one, stopped), which is what a large cluster's list
  costs, without waiting for 10,000 creates.

There is no Ganeti master on this machine to compare with, so no ratio is printed.

    .venv/bin/python bench/instances.py            # 1,000 creates; lists of 1,000 and 10,000
    .venv/bin/python bench/instances.py --quick    # 200 creates; same lists, 3 runs each
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from corral.config import objects as o
from corral.config.store import ConfigStore
from corral.config.store import serialize
from corral.testing.loopback import LoopbackCluster

DONE = ("success", "error", "canceled")
#: What each node's fake hypervisor offers: enough for 10,000 small instances.
FAKE_NODE = {"memory_total": 2 * 1024 * 1024, "cpu_total": 64, "memory_dom0": 1024}


def create_op(name: str, node: str) -> dict[str, object]:
    return {
        "OP_ID": "OP_INSTANCE_CREATE", "instance_name": name, "disk_template": "diskless",
        "os_type": "noop", "no_install": True, "start": True, "name_check": False,
        "ip_check": False, "pnode": node, "disks": [], "nics": [{}], "mode": "create",
        "beparams": {"maxmem": 128, "minmem": 128},
    }  # fmt: skip


def create_many(cluster: LoopbackCluster, count: int) -> float:
    """Seconds from the first submission to the last job's end (all must succeed)."""
    names = [n.name for n in cluster.nodes]
    with cluster.master.luxi() as client:
        start = time.monotonic()
        jobs = [[create_op(f"inst{i:05d}.bench", names[i % len(names)])] for i in range(count)]
        ids = []
        for batch in range(0, count, 100):
            for ok, job_id in client.submit_many_jobs(jobs[batch : batch + 100]):
                if not ok:
                    raise SystemExit(f"submission refused: {job_id}")
                ids.append(job_id)
        statuses: dict[int, str] = {}
        pending = list(ids)
        while pending:  # only the unfinished jobs are asked about, as a waiting client does
            time.sleep(0.1)
            rows = client.query_jobs(pending, ["status"])
            for job_id, row in zip(pending, rows, strict=True):
                if row[0] in DONE:
                    statuses[job_id] = row[0]
            pending = [i for i in pending if i not in statuses]
        elapsed = time.monotonic() - start
        failed = [i for i in ids if statuses[i] != "success"]
        if failed:
            detail = client.query_jobs(failed[:1], ["opresult"])
            raise SystemExit(f"{len(failed)} creates failed, e.g. job {failed[0]}: {detail}")
    return elapsed


def grow_config(cluster: LoopbackCluster, total: int) -> None:
    """Add stopped copies of an instance to the config while the master daemon is down."""
    m = cluster.master
    m.run("corral-daemon-util", "stop", "corral-masterd")
    store = ConfigStore(m.state / "config.data")
    cfg = store.load()
    template = next(iter(cfg.instances.values()))
    nodes = sorted(cfg.nodes)
    instances = dict(cfg.instances)
    for i in range(len(instances), total):
        copy = dataclasses.replace(
            template, uuid=str(uuid.uuid4()), name=f"extra{i:05d}.bench",
            primary_node=nodes[i % len(nodes)], admin_state=o.AdminState.DOWN,
            nics=tuple(dataclasses.replace(n, uuid=str(uuid.uuid4()),
                                           mac=f"aa:01:{i >> 16 & 255:02x}:{i >> 8 & 255:02x}:"
                                               f"{i & 255:02x}:00") for n in template.nics),
        )  # fmt: skip
        instances[copy.uuid] = copy
    cfg = dataclasses.replace(cfg, instances=instances, serial_no=cfg.serial_no + 1)
    store.write(serialize(cfg))
    m.run("corral-daemon-util", "start", "corral-masterd")
    deadline = time.monotonic() + 60
    while m.run("gnt-cluster", "master-ping", check=False).returncode != 0:
        if time.monotonic() > deadline:
            raise SystemExit("the master daemon did not come back")
        time.sleep(0.2)


def list_seconds(cluster: LoopbackCluster, runs: int, expect: int) -> float:
    times = []
    for _ in range(runs):
        start = time.monotonic()
        out = cluster.master.run("gnt-instance", "list", "--no-headers", timeout=120).stdout
        times.append(time.monotonic() - start)
        if len(out.splitlines()) != expect:
            raise SystemExit(f"gnt-instance list showed {len(out.splitlines())} rows, not {expect}")
    return statistics.median(times)


def query_seconds(cluster: LoopbackCluster, runs: int) -> float:
    """The master's part of a list: the same query over LUXI, without the command's start."""
    fields = ["name", "hypervisor", "os", "pnode", "status", "oper_ram"]
    times = []
    with cluster.master.luxi() as client:
        for _ in range(runs):
            start = time.monotonic()
            client.call("Query", "instance", fields, None)
            times.append(time.monotonic() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="200 creates, 3 list runs")
    args = parser.parse_args()
    count, runs = (200, 3) if args.quick else (1000, 5)
    with tempfile.TemporaryDirectory(prefix="corral-bench-instances-") as tmp:
        cluster = LoopbackCluster(Path(tmp), 3, domain="bench")
        try:
            cluster.init("--enabled-disk-templates", "diskless")
            for node in cluster.nodes[1:]:
                cluster.join(node)
            cluster.master.run("gnt-cluster", "modify", "--max-running-jobs", "30")
            for node in cluster.nodes:  # room for every instance on the fake hypervisor
                fake = node.state / "hypervisors/fake"
                fake.mkdir(parents=True, exist_ok=True)
                (fake / "node.json").write_text(json.dumps(FAKE_NODE))
            elapsed = create_many(cluster, count)
            rate = count / elapsed
            print(f"created {count} instances in {elapsed:.1f} s: {rate:.1f} creates/s")
            grow_config(cluster, 1000)
            list1k = list_seconds(cluster, runs, 1000)
            print(f"gnt-instance list, 1,000 instances: {list1k:.2f} s (median of {runs})")
            grow_config(cluster, 10000)
            list10k = list_seconds(cluster, runs, 10000)
            print(f"gnt-instance list, 10,000 instances: {list10k:.2f} s (median of {runs})")
            query10k = query_seconds(cluster, runs)
            print(f"  of which the LUXI query: {query10k:.2f} s")
        finally:
            cluster.stop()
    print(json.dumps({"bench": "instances", "creates": count, "creates_per_s": round(rate, 1),
                      "list1k_s": round(list1k, 3), "list10k_s": round(list10k, 3),
                      "list10k_query_s": round(query10k, 3)}))  # fmt: skip


if __name__ == "__main__":
    main()
