"""The built-in allocator on request documents shaped like Ganeti's (bench-data's format)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from corral.iallocator import builtin

BENCH = Path(__file__).resolve().parents[3] / ".." / "shared" / "bench-data" / "htools"


def node(group: str = "g1", free: int = 4096, disk: int = 100_000, **flags: object) -> dict:
    base = {"group": group, "free_memory": free, "free_disk": disk, "total_cpus": 4,
            "free_spindles": 12, "offline": False, "drained": False, "vm_capable": True,
            "ndparams": {"exclusive_storage": False}}  # fmt: skip
    return {**base, **flags}


def request(memory: int = 1024, template: str = "plain", disk: int = 10_000) -> dict:
    return {"type": "allocate", "name": "new", "memory": memory, "vcpus": 1, "spindle_use": 1,
            "disk_template": template, "disk_space_total": disk, "required_nodes": 1}  # fmt: skip


def cluster(nodes: dict, groups: dict | None = None) -> dict:
    return {
        "nodes": nodes,
        "nodegroups": groups or {"g1": {"name": "default", "alloc_policy": "preferred",
                                        "ipolicy": {"vcpu-ratio": 4.0}}},
        "instances": {},
    }  # fmt: skip


def test_takes_the_node_with_most_memory_left() -> None:
    data = cluster({"a": node(free=2048), "b": node(free=8192), "c": node(free=4096)})
    data["request"] = request()
    assert builtin.run(data) == {
        "success": True, "info": "Request successful: placed in group default (preferred)",
        "result": ["b"],
    }  # fmt: skip


def test_counts_why_nothing_fits_in_hails_words() -> None:
    data = cluster({
        "a": node(free=512), "b": node(disk=10), "c": node(offline=True), "d": node(drained=True),
    })  # fmt: skip
    data["request"] = request()
    answer = builtin.run(data)
    assert answer["success"] is False and answer["result"] == []
    assert answer["info"] == (
        "Request failed: Group default (preferred): No valid allocation solutions, failure"
        " reasons: FailDisk: 1, FailDrained: 1, FailMem: 1, FailOffline: 1"
    )


def test_shared_templates_need_no_node_disk_and_cpu_ratio_counts() -> None:
    data = cluster({"a": node(disk=0)})
    data["request"] = request(template="sharedfile")
    assert builtin.run(data)["result"] == ["a"]
    data["instances"] = {f"i{n}": {"vcpus": 4, "nodes": ["a"]} for n in range(4)}
    assert "FailCPU: 1" in builtin.run(data)["info"]


def test_preferred_groups_first_unallocable_never() -> None:
    groups = {
        "g1": {"name": "spare", "alloc_policy": "last_resort", "ipolicy": {}},
        "g2": {"name": "main", "alloc_policy": "preferred", "ipolicy": {}},
        "g3": {"name": "closed", "alloc_policy": "unallocable", "ipolicy": {}},
    }
    data = cluster({"a": node("g1", free=9000), "b": node("g2", free=2000),
                    "c": node("g3", free=99999)}, groups)  # fmt: skip
    data["request"] = request()
    assert builtin.run(data)["result"] == ["b"]
    data["nodes"]["b"]["free_memory"] = 10
    assert builtin.run(data)["result"] == ["a"]


def test_other_request_types_are_refused_with_the_way_out() -> None:
    answer = builtin.run({"request": {"type": "relocate"}, "nodes": {}})
    assert (
        answer["success"] is False and "name an allocator plugin (e.g. -I hail)" in answer["info"]
    )


@pytest.mark.skipif(not BENCH.exists(), reason="no ../shared/bench-data on this machine")
def test_answers_a_real_ganeti_request_file() -> None:
    data = json.loads((BENCH / "pub-n10.alloc-plain.json").read_text())
    answer = builtin.run(data)
    assert answer["success"] is True
    (chosen,) = answer["result"]
    picked = data["nodes"][chosen]
    assert picked["free_memory"] >= data["request"]["memory"] and not picked["offline"]
