"""Random node-evacuate and change-group requests, and Ganeti's hail's answers to some.

``random_request(rng, kind)`` builds one IAllocator document: one or two
groups of small nodes (some offline or drained; power-feed location and
migration class tags), DRBD, plain, file and shared-storage instances (some
stopped, some with exclusion tags), and either a node-evacuate request for
every instance on one node in one of the three modes, or (two groups) a
change-group request for up to three instances of the first group. The
nodes' free memory and disk are what their instances leave, as a real
cluster reports them.

``python requests.py HAIL`` (re)writes ``NN.request.json``/``NN.answer.json``
(node-evacuate) and ``cgNN.*`` (change-group) here: the answer is what
Ganeti's hail binary ``HAIL`` printed (run with ``--no-capacity-checks``;
corral's answers to these requests do not depend on it).
test_evacuate.py checks corral's answers against them and, where Ganeti's
hail is unpacked, against fresh requests.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
#: How many golden request/answer pairs are written, from seeds 0..N-1.
GOLDEN = 16

_POLICY = {
    "disk-templates": ["drbd", "plain", "file", "diskless", "sharedfile", "blockdev", "rbd", "ext"],
    "minmax": [
        {
            "max": {
                "cpu-count": 16,
                "disk-count": 16,
                "disk-size": 1048576,
                "memory-size": 131072,
                "nic-count": 8,
                "spindle-use": 12,
            },
            "min": {
                "cpu-count": 1,
                "disk-count": 1,
                "disk-size": 128,
                "memory-size": 128,
                "nic-count": 1,
                "spindle-use": 1,
            },
        }
    ],
    "spindle-ratio": 32.0,
    "std": {
        "cpu-count": 1,
        "disk-count": 1,
        "disk-size": 1024,
        "memory-size": 1024,
        "nic-count": 1,
        "spindle-use": 1,
    },
    "vcpu-ratio": 4.0,
}
_TEMPLATES = ["drbd"] * 6 + ["plain", "file", "sharedfile", "ext", "rbd", "diskless"]
_MODES = ["all", "all", "primary-only", "secondary-only"]
#: Exclusion tags, node locations (power feeds) and migration classes (hypervisor builds).
_CLUSTER_TAGS = [
    "htools:iextags:svc",
    "htools:nlocation:power",
    "htools:migration:hv",
    "htools:allowmigration:hv:x::hv:y",
]


def random_request(rng: random.Random, kind: str = "node-evacuate") -> dict[str, Any]:
    """One node-evacuate or change-group request document (see the module docstring)."""
    count = rng.choice([1, 1, 2])
    groups = {f"g{k}": f"group-{k}" for k in range(2 if kind == "change-group" else count)}
    nodes: dict[str, dict[str, Any]] = {}
    for uuid in groups:
        for _ in range(rng.randint(3, 8)):
            mem = rng.choice([4096, 8192, 16384])
            disk = rng.choice([51200, 102400, 204800])
            state = rng.choice(["online"] * 8 + ["offline", "drained"])
            nodes[f"node-{len(nodes):02d}"] = {
                "group": uuid,
                "total_memory": mem,
                "reserved_memory": 512,
                "free_memory": mem - 512,
                "total_disk": disk,
                "free_disk": disk,
                "total_cpus": rng.choice([4, 8]),
                "reserved_cpus": 1,
                "free_spindles": 4,
                "total_spindles": 4,
                "offline": state == "offline",
                "drained": state == "drained",
                "vm_capable": True,
                "master_candidate": True,
                "master_capable": True,
                "tags": [rng.choice(["power:a", "power:b"]), rng.choice(["hv:x", "hv:x", "hv:y"])],
                "ndparams": {"exclusive_storage": False, "spindle_count": 4},
            }
    by_group: dict[str, list[str]] = {}
    for name, node in nodes.items():
        by_group.setdefault(node["group"], []).append(name)
    instances: dict[str, dict[str, Any]] = {}
    for k in range(rng.randint(4, 4 * len(nodes))):
        members = by_group[rng.choice(sorted(by_group))]
        template = rng.choice(_TEMPLATES)
        placed = rng.sample(members, 2 if template == "drbd" else 1)
        mem = rng.choice([512, 1024, 2048])
        size = rng.choice([1024, 4096, 10240])
        up = rng.random() < 0.8
        local = template in ("drbd", "plain", "file")
        if local and any(nodes[n]["free_disk"] < size for n in placed):
            continue
        if up:
            nodes[placed[0]]["free_memory"] -= mem
        if local:
            for n in placed:
                nodes[n]["free_disk"] -= size
        instances[f"inst-{k:03d}"] = {
            "admin_state": "up" if up else "down",
            "admin_state_source": "admin",
            "disk_template": template,
            "disk_space_total": size if local else 0,
            "disks": [{"mode": "rw", "size": size, "spindles": 1}],
            "hypervisor": "xen-pvm",
            "memory": mem,
            "vcpus": rng.choice([1, 2]),
            "nodes": placed,
            "os": "noop",
            "nics": [],
            "spindle_use": 1,
            "tags": rng.choice([[], [], ["svc:web"], ["svc:db"]]),
        }
    node = rng.choice(sorted(nodes))
    mode = rng.choice(_MODES)
    wanted = []
    for name, inst in instances.items():
        placed = inst["nodes"]
        if (
            (mode == "primary-only" and placed[0] == node)
            or (mode == "secondary-only" and node in placed[1:])
            or (mode == "all" and node in placed)
        ):
            wanted.append(name)
    if rng.random() < 0.3:  # the node being evacuated has died
        nodes[node]["offline"] = True
    request: dict[str, Any] = {"type": "node-evacuate", "evac_mode": mode, "instances": wanted}
    if kind == "change-group":
        # up to three instances of the first group, to any other group or to the second
        leaving = sorted(n for n, i in instances.items() if nodes[i["nodes"][0]]["group"] == "g0")
        picked = rng.sample(leaving, min(3, len(leaving)))
        request = {"type": "change-group", "instances": picked}
        request["target_groups"] = rng.choice([[], ["g1"]])
    return {
        "version": 2,
        "cluster_name": "c.example.com",
        "cluster_tags": [tag for tag in _CLUSTER_TAGS if rng.random() < 0.4],
        "enabled_hypervisors": ["xen-pvm"],
        "ipolicy": _POLICY,
        "nodegroups": {
            uuid: {
                "name": name,
                "alloc_policy": "preferred",
                "ipolicy": _POLICY,
                "networks": [],
                "tags": [],
            }
            for uuid, name in groups.items()
        },
        "nodes": nodes,
        "instances": instances,
        "request": request,
    }


def ganeti_answer(hail: str, request: dict[str, Any], path: Path) -> dict[str, Any]:
    """What Ganeti's hail answers to ``request`` (written to ``path`` first)."""
    path.write_text(json.dumps(request, indent=1, sort_keys=True) + "\n")
    out = subprocess.run(
        [hail, "--no-capacity-checks", str(path)], capture_output=True, text=True, check=True
    ).stdout
    answer: dict[str, Any] = json.loads(out)
    return answer


def main() -> int:
    hail = sys.argv[1]
    for kind, prefix in (("node-evacuate", ""), ("change-group", "cg")):
        for seed in range(GOLDEN):
            request = random_request(random.Random(seed), kind)
            name = f"{prefix}{seed:02d}"
            answer = ganeti_answer(hail, request, HERE / f"{name}.request.json")
            (HERE / f"{name}.answer.json").write_text(json.dumps(answer, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
