"""Node RPC: fan-out latency to N node daemons, and config replication to 5 candidates.

Starts real ``corral-noded`` processes (one per node, each with its own
state root and a certificate from a fresh cluster CA, listening on its
own loopback address) and calls them from this process with corral's
RPC client, as the master does:

* fan-out: a no-op call (``version``) to all N nodes at once, after one
  warm-up round (connections are kept, as in the master); p50/p99 over
  the rounds, for N = 5, 20 and 50;
* replication: the master's full write path for one config change with
  1,000 and 10,000 instances, through :class:`ConfigWriter` (check, write
  locally, push the config to 5 candidates and ssconf to every node),
  median over the repeats, and the push alone.

There is no Ganeti node daemon to compare with on this machine (it needs a
whole Ganeti installation), so no ratio is printed.

    .venv/bin/python bench/rpc.py            # N = 5, 20, 50; 1,000 and 10,000 instances
    .venv/bin/python bench/rpc.py --quick    # N = 5, 20; fewer rounds
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from twisted.internet import defer
from twisted.internet import task

from corral.config import objects as o
from corral.config.store import ConfigStore
from corral.config.writer import ConfigWriter
from corral.crypto.ca import ClusterCA
from corral.crypto.tls import NodeCredentials
from corral.rpc.client import RpcClient
from corral.rpc.client import Target

PREFIX = f"127.{60 + os.getpid() % 60}.7"


def start_nodes(base: Path, ca: ClusterCA, count: int, port: int) -> list[subprocess.Popen[bytes]]:
    procs = []
    for i in range(1, count + 1):
        root = base / f"node{i}"
        state = root / "var/lib/corral"
        state.mkdir(parents=True)
        (state / "cluster-ca.pem").write_bytes(ca.cert_pem)
        (state / "server.pem").write_bytes(ca.issue(f"node{i}.bench", [f"{PREFIX}.{i}"]))
        env = {**os.environ, "CORRAL_ROOTDIR": str(root), "GNT_DISABLE_PLUGIN_AUTOLOAD": "1"}
        procs.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "corral.noded.daemon",
                    "-b",
                    f"{PREFIX}.{i}",
                    "-p",
                    str(port),
                ],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=open(root / "noded.log", "wb"),
            )
        )
    deadline = time.monotonic() + 120
    for i in range(1, count + 1):
        while True:
            try:
                socket.create_connection((f"{PREFIX}.{i}", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise SystemExit(f"node {i} did not start") from None
                time.sleep(0.05)
    return procs


def free_port() -> int:
    for _ in range(50):
        port = random.randint(20000, 45000)
        with socket.socket() as sock:
            try:
                sock.bind((f"{PREFIX}.1", port))
            except OSError:
                continue
        return port
    raise SystemExit("no free port")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def fanout(client: RpcClient, targets: list[Target], rounds: int) -> dict[str, float]:
    warm = await client.call_many(targets, "version")
    failed = [r.error for r in warm.values() if not r.ok]
    if failed:
        raise SystemExit(f"warm-up failed: {failed[:3]}")
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        results = await client.call_many(targets, "version")
        times.append((time.perf_counter() - started) * 1000)
        assert all(r.ok for r in results.values())
    return {"p50_ms": statistics.median(times), "p99_ms": percentile(times, 0.99)}


def big_config(instances: int, nodes: int, candidates: int) -> o.ConfigData:
    group = o.NodeGroup(uuid="00000000-0000-4000-8000-000000000001", name="default")
    node_list = [
        o.Node(uuid=f"00000000-0000-4000-8001-{i:012d}", name=f"node{i}.bench",
               primary_ip=f"{PREFIX}.{i}", group=group.uuid, master_candidate=i <= candidates + 1)
        for i in range(1, nodes + 1)
    ]  # fmt: skip
    inst = {}
    for k in range(instances):
        uuid = f"00000000-0000-4000-8002-{k:012d}"
        nic = o.Nic(
            uuid=f"00000000-0000-4000-8003-{k:012d}",
            mac=f"aa:00:00:{k >> 16 & 255:02x}:{k >> 8 & 255:02x}:{k & 255:02x}",
        )
        inst[uuid] = o.Instance(
            uuid=uuid, name=f"inst{k}.bench", primary_node=node_list[k % nodes].uuid, os="noop",
            hypervisor="fake", disk_template="diskless", beparams={"maxmem": 512, "vcpus": 1},
            nics=(nic,),
        )  # fmt: skip
    cluster = o.Cluster(uuid="00000000-0000-4000-8000-000000000000", cluster_name="bench",
                        master_node=node_list[0].uuid, master_ip=f"{PREFIX}.254")  # fmt: skip
    return o.ConfigData(
        cluster=cluster, nodegroups={group.uuid: group},
        nodes={n.uuid: n for n in node_list}, instances=inst,
        serial_no=instances,  # above the previous run's, which the nodes still hold
    )  # fmt: skip


async def replication(
    client: RpcClient, base: Path, instances: int, nodes: int, repeats: int
) -> dict[str, float]:
    cfg = big_config(instances, nodes, candidates=5)
    master_dir = base / f"master-{instances}"
    master_dir.mkdir()
    store = ConfigStore(master_dir / "config.data")
    writer = ConfigWriter(cfg, store, master_dir, client)
    # The push alone goes to five other nodes, with serials of its own.
    others = [Target(f"node{i}.bench", f"{PREFIX}.{i}") for i in range(7, 12)]
    update_times, push_times = [], []
    size = 0
    for index in range(repeats):
        started = time.perf_counter()
        new = await writer.update(lambda c: c)
        update_times.append(time.perf_counter() - started)
        if writer.behind:
            raise SystemExit(f"replication failed: {writer.behind}")
        data = store.path.read_bytes()
        size = len(data)
        serial = instances * 100 + index
        document = data.replace(
            f',"serial_no":{new.serial_no},"version"'.encode(),
            f',"serial_no":{serial},"version"'.encode(),
        )
        started = time.perf_counter()
        results = await client.call_many(
            others, "config_push", {"serial": serial}, document=document
        )
        push_times.append(time.perf_counter() - started)
        assert all(r.ok for r in results.values()), results
    on_node = json.loads((base / "node2/var/lib/corral/config.data").read_bytes())
    assert on_node["serial_no"] == writer.config.serial_no
    return {
        "update_s": statistics.median(update_times),
        "push_s": statistics.median(push_times),
        "bytes": float(size),
    }


async def run(reactor: Any, args: argparse.Namespace) -> dict[str, Any]:
    sizes = [5, 20] if args.quick else [5, 20, 50]
    rounds = 30 if args.quick else 100
    figures: dict[str, Any] = {"bench": "rpc"}
    with tempfile.TemporaryDirectory(prefix="corral-bench-rpc-") as tmp:
        base = Path(tmp)
        ca = ClusterCA.create("bench")
        port = free_port()
        procs = start_nodes(base, ca, max(sizes), port)
        try:
            creds = NodeCredentials(ca, (base / "node1/var/lib/corral/server.pem").read_bytes())
            client = RpcClient(reactor, creds, port=port, timeout=60)
            targets = [Target(f"node{i}.bench", f"{PREFIX}.{i}") for i in range(1, max(sizes) + 1)]
            for n in sizes:
                result = await fanout(client, targets[:n], rounds)
                print(f"fan-out of a no-op call to {n:2d} nodes: p50 {result['p50_ms']:6.1f} ms,"
                      f" p99 {result['p99_ms']:6.1f} ms ({rounds} rounds)", flush=True)  # fmt: skip
                figures[f"fanout{n}_p50_ms"] = round(result["p50_ms"], 2)
                figures[f"fanout{n}_p99_ms"] = round(result["p99_ms"], 2)
            for instances in (1000, 10000):
                repeats = 3 if args.quick else 5
                result = await replication(client, base, instances, max(sizes), repeats)
                print(
                    f"config of {instances:5d} instances ({result['bytes'] / 1e6:.1f} MB):"
                    f" change written and replicated to 5 candidates + ssconf to"
                    f" {max(sizes) - 1} nodes in {result['update_s']:.3f} s;"
                    f" push alone {result['push_s']:.3f} s (median of {repeats})",
                    flush=True,
                )
                key = "1k" if instances == 1000 else "10k"
                figures[f"push{key}_5mc_s"] = round(result["push_s"], 3)
                figures[f"update{key}_5mc_s"] = round(result["update_s"], 3)
            await client.close()
        finally:
            for proc in procs:
                proc.terminate()
            for proc in procs:
                proc.wait(timeout=30)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer nodes and rounds (< 1 minute)")
    args = parser.parse_args()

    async def go(reactor: Any) -> None:
        print(json.dumps(await run(reactor, args)), flush=True)

    task.react(lambda reactor: defer.Deferred.fromCoroutine(go(reactor)))


if __name__ == "__main__":
    main()
