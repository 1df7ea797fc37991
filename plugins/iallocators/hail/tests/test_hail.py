"""hail: request parsing errors, the allocation choice, and the corral plugin."""

from __future__ import annotations

import importlib.metadata
import itertools
import json
from typing import TYPE_CHECKING
from typing import Any

import numpy as np
import pytest
from corral_htools.alloc import AllocOptions
from corral_htools.alloc import answer
from corral_htools.cost import score
from corral_htools.ialloc import RequestError
from corral_htools.ialloc import parse_request
from corral_htools.iallocator import Hail
from corral_htools.state import GroupState
from twisted.internet import reactor

from corral.api import DriverContext
from corral.api import IAllocator
from corral.testing import async_test

if TYPE_CHECKING:
    from pathlib import Path


def _node(mem: int, free: int, disk: int = 102400) -> dict[str, Any]:
    return {
        "offline": False,
        "drained": False,
        "group": "g1",
        "vm_capable": True,
        "ndparams": {"spindle_count": 1, "exclusive_storage": False},
        "total_memory": mem,
        "reserved_memory": 0,
        "free_memory": free,
        "total_disk": disk,
        "free_disk": disk,
        "total_cpus": 8,
        "reserved_cpus": 1,
        "free_spindles": 1,
        "tags": [],
    }


def _request(kind: str = "drbd", nodes: int = 4) -> dict[str, Any]:
    sizes = [4096, 8192, 8192, 16384, 4096][:nodes]
    return {
        "version": 2,
        "cluster_name": "c",
        "cluster_tags": [],
        "enabled_hypervisors": ["xen-pvm"],
        "nodegroups": {
            "g1": {"name": "default", "alloc_policy": "preferred", "networks": [], "tags": []}
        },
        "nodes": {f"n{i}": _node(m, m // 2) for i, m in enumerate(sizes)},
        "instances": {},
        "request": {
            "type": "allocate",
            "name": "new1",
            "required_nodes": 2 if kind == "drbd" else 1,
            "disk_space_total": 1024,
            "disks": [{"size": 1024, "mode": "rw"}],
            "nics": [],
            "vcpus": 1,
            "memory": 1024,
            "disk_template": kind,
            "tags": [],
            "spindle_use": 1,
            "os": "noop",
            "hypervisor": "xen-pvm",
        },
    }


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "Invalid JSON"),
        ("[]", "Unable to read JSObject"),
        ("{}", "key 'request' not found"),
        ('{"request": 0}', "key 'request': Unable to read JSObject"),
    ],
)
def test_bad_requests_say_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(RequestError) as err:
        parse_request(text)
    assert str(err.value) == message


@pytest.mark.parametrize("kind", ["drbd", "plain"])
def test_allocation_is_the_best_placement(kind: str) -> None:
    """The answer equals the exhaustive search by recomputed score.

    Of equally good placements the last in (primary, secondary) node order
    wins, as in Ganeti's hail.
    """
    req = _request(kind)
    cluster, request = parse_request(json.dumps(req))
    got = answer(cluster, request, AllocOptions())
    assert got["success"]
    cluster, request = parse_request(json.dumps(req))
    inst = request.new[0].as_instance()
    st = GroupState(cluster, cluster.nodes, [*cluster.instances, inst], cluster.ipolicy)
    i = st.m - 1
    best: tuple[float, list[str]] = (np.inf, [])
    pairs = (
        itertools.permutations(range(st.n), 2) if kind == "drbd" else ((p, -1) for p in range(st.n))
    )
    for p, s in pairs:
        st.move(i, p, s)
        value = score(st)
        if value <= best[0] + 1e-12:
            best = (value, [st.nodes[p].name] + ([st.nodes[s].name] if s >= 0 else []))
        st.move(i, -1, -1)
    assert got["result"] == best[1]


def test_no_room_is_a_failed_answer_with_reasons() -> None:
    req = _request("plain")
    req["request"]["memory"] = 20000  # within the policy, above every free figure
    cluster, request = parse_request(json.dumps(req))
    got = answer(cluster, request, AllocOptions())
    assert got["success"] is False and got["result"] == []
    assert "FailMem: 4" in got["info"]


def test_entry_point_names_the_plugin() -> None:
    eps = importlib.metadata.entry_points(group="corral.iallocators")
    hail = next(ep for ep in eps if ep.name == "hail")
    assert hail.load() is Hail and issubclass(Hail, IAllocator)


@async_test
async def test_plugin_answers_in_a_thread(tmp_path: Path) -> None:
    plugin = Hail(DriverContext.create(reactor, tmp_path))
    got = await plugin.run(_request("drbd"))
    assert got["success"] and len(got["result"]) == 2
