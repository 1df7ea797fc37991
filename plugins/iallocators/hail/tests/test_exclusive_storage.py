"""hail on node groups with exclusive storage: real spindles, FailSpindles, dedicated ranking.

With exclusive storage a node's spindles are physical (``total_spindles``,
``free_spindles``) and each disk says how many it takes; hail(1) then ranks
a group's nodes by the allocations each policy interval would lose.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from corral_htools.alloc import AllocOptions
from corral_htools.alloc import allocation_vector
from corral_htools.alloc import answer
from corral_htools.cli_hail import build_parser
from corral_htools.cli_hail import parse_args
from corral_htools.ialloc import parse_request
from corral_htools.model import IPolicy
from corral_htools.model import ISpec

QUARTER = ISpec(1024, 1, 10240, 1, 1, 1)
HALF = ISpec(2048, 2, 20480, 1, 1, 2)


def _ipolicy() -> dict[str, Any]:
    def spec(s: ISpec) -> dict[str, int]:
        return {
            "memory-size": s.memory_size,
            "cpu-count": s.cpu_count,
            "disk-size": s.disk_size,
            "disk-count": s.disk_count,
            "nic-count": s.nic_count,
            "spindle-use": s.spindle_use,
        }

    return {
        "minmax": [
            {"min": spec(QUARTER), "max": spec(QUARTER)},
            {"min": spec(HALF), "max": spec(HALF)},
        ],
        "std": spec(QUARTER),
        "disk-templates": ["plain", "drbd", "file"],
        "vcpu-ratio": 1.0,
        "spindle-ratio": 1.0,
    }


def _node(mem: int, disk: int, spindles: int, excl: bool = True) -> dict[str, Any]:
    return {
        "offline": False,
        "drained": False,
        "group": "g1",
        "ndparams": {"spindle_count": 1, "exclusive_storage": excl},
        "total_memory": 4096,
        "reserved_memory": 0,
        "free_memory": mem,
        "total_disk": 40960,
        "free_disk": disk,
        "total_cpus": 5,
        "reserved_cpus": 1,
        "total_spindles": 4,
        "free_spindles": spindles,
        "tags": [],
    }


def _request(nodes: dict[str, dict[str, Any]], **new: Any) -> dict[str, Any]:
    req: dict[str, Any] = {
        "type": "allocate",
        "name": "new1",
        "required_nodes": 1,
        "disk_space_total": 10240,
        "disks": [{"size": 10240, "mode": "rw", "spindles": 1}],
        "nics": [],
        "vcpus": 1,
        "memory": 1024,
        "disk_template": "plain",
        "tags": [],
        "spindle_use": 1,
    }
    req.update(new)
    return {
        "cluster_tags": [],
        "enabled_hypervisors": ["xen-pvm"],
        "nodegroups": {
            "g1": {"name": "default", "alloc_policy": "preferred", "ipolicy": _ipolicy()}
        },
        "nodes": nodes,
        "instances": {},
        "request": req,
    }


def _answer(doc: dict[str, Any], **opts: Any) -> dict[str, Any]:
    cluster, request = parse_request(json.dumps(doc))
    return answer(cluster, request, AllocOptions(**opts))


def test_allocation_vector_counts_each_interval_on_the_node_as_it_is() -> None:
    policy = IPolicy(QUARTER, ((QUARTER, QUARTER), (HALF, HALF)), (), 1.0, 1.0)
    # 3 quarters fit by memory, disk and spindles; one half; largest interval first
    assert allocation_vector(policy, (3100.0, 40000.0, 3.0, 1.0, 5.0), True) == (1, 3)
    # without LVM disks only memory and CPUs count: 4 CPUs left, 3 quarters by memory
    assert allocation_vector(policy, (3100.0, 0.0, 0.0, 1.0, 5.0), False) == (1, 3)
    # no room left over means no allocation (memory must stay above zero)
    assert allocation_vector(policy, (1024.0, 40000.0, 3.0, 1.0, 5.0), True) == (0, 0)


def test_dedicated_nodes_rank_by_lost_allocations_then_free_disk() -> None:
    """The node losing no half-size allocation wins over a roomier one that would."""
    nodes = {
        "roomy": _node(4000, 40000, 4),  # before (1, 3), after (1, 2): loses (0, 1)
        "snug": _node(3000, 30000, 3),  # before (1, 2), after (0, 1): loses (1, 1)
        "tight": _node(2100, 21000, 2),  # before (1, 2)... after (0, 1): loses (1, 1)
    }
    got = _answer(_request(nodes))
    assert got["success"] and got["result"] == ["roomy"]
    assert "score: ([0,1],29760)" in got["info"]
    # equal losses: the node left with less free disk is the better fit
    nodes = {"a": _node(3000, 30000, 3), "b": _node(3000, 25000, 3)}
    assert _answer(_request(nodes))["result"] == ["b"]


def test_disks_without_spindles_cannot_go_to_exclusive_storage() -> None:
    nodes = {f"n{k}": _node(4000, 40000, 4) for k in range(3)}
    doc = _request(nodes, disks=[{"size": 10240, "mode": "rw"}])
    got = _answer(doc)
    assert got["success"] is False
    assert "FailSpindles: 3" in got["info"]
    # DRBD: every (primary, secondary) pair fails the same way
    doc = _request(nodes, disks=[{"size": 10240, "mode": "rw"}], disk_template="drbd")
    doc["request"]["required_nodes"] = 2
    assert "FailSpindles: 6" in _answer(doc)["info"]


def test_free_spindles_bound_the_placement_and_are_taken() -> None:
    """A node without free spindles fails; multi-allocate uses up what the first took.

    The second instance then fits nowhere, which fails the whole request with
    its reasons, as Ganeti's hail answers (checked on its binary).
    """
    nodes = {"full": _node(4000, 40000, 0), "one": _node(4000, 40000, 1)}
    got = _answer(_request(nodes))
    assert got["result"] == ["one"] and "failures 1 (FailSpindles: 1)" in got["info"]
    doc = _request(nodes)
    first = dict(doc["request"])
    second = dict(first, name="new2")
    doc["request"] = {"type": "multi-allocate", "instances": [first, second]}
    got = _answer(doc)
    assert got == {
        "success": False,
        "info": "Request failed: Group default (preferred): No valid allocation solutions,"
        " failure reasons: FailSpindles: 2",
        "result": [],
    }


def test_policy_spindles_are_checked_on_every_candidate() -> None:
    """Spindle use outside the policy fails each node; exclusive storage uses disk spindles."""
    plain = {f"n{k}": _node(4000, 40000, 4, excl=False) for k in range(2)}
    got = _answer(_request(plain, spindle_use=3))
    assert got["success"] is False and "FailSpindles: 2" in got["info"]
    # the same spindle use is fine with exclusive storage: the disk takes 1 spindle
    excl = {f"n{k}": _node(4000, 40000, 4) for k in range(2)}
    assert _answer(_request(excl, spindle_use=3))["success"]
    # ... but a disk taking 3 spindles is outside every interval there
    doc = _request(excl, disks=[{"size": 10240, "mode": "rw", "spindles": 3}])
    assert "FailSpindles: 2" in _answer(doc)["info"]


def test_relocation_names_the_nodes_short_of_spindles() -> None:
    nodes = {f"n{k}": _node(4000, 30000, 3) for k in range(3)}
    doc = _request(nodes)
    doc["instances"] = {
        "i1": {
            "memory": 1024,
            "disk_space_total": 10240,
            "vcpus": 1,
            "nodes": ["n0", "n1"],
            "disk_template": "drbd",
            "disks": [{"size": 10240, "mode": "rw"}],
            "spindle_use": 1,
        }
    }
    doc["request"] = {"type": "relocate", "name": "i1", "relocate_from": ["n1"]}
    got = _answer(doc)
    assert got["success"] is False
    assert got["info"] == "Request failed: Can't find any good node:  Node n2 failed: FailSpindles;"
    doc["instances"]["i1"]["disks"][0]["spindles"] = 1
    assert _answer(doc)["result"] == ["n2"]


@pytest.mark.parametrize("path", ["req.json", "/tmp/x.json"])
def test_plain_call_skips_argparse_with_the_same_options(path: str) -> None:
    assert vars(parse_args([path])) == vars(build_parser().parse_args([path]))
