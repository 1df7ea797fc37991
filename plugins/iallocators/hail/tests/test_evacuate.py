"""hail's node-evacuate: Ganeti's answers, its rules and words, and the pair search.

The request generator and the captured answers of Ganeti's hail live in
``ganeti-evac/`` (``requests.py`` rewrites them). Where Ganeti's hail binary
is unpacked, fresh random requests are compared with it as well.
"""

from __future__ import annotations

import copy
import importlib.util
import itertools
import json
import os
import random
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from corral_htools import evacuate as evac
from corral_htools.cost import score
from corral_htools.evaluate import Evaluator
from corral_htools.ialloc import parse_request
from corral_htools.iallocator import solve
from corral_htools.moves import MoveKind
from corral_htools.state import group_state
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

GOLDEN = Path(__file__).resolve().parent / "ganeti-evac"
_REF = Path(os.environ.get("CORRAL_GANETI_REF", "/work/ganeti-ref")) / "root"
GANETI_HAIL = _REF / "usr/lib/ganeti/3.0/usr/lib/ganeti/iallocators/hail"
needs_ganeti = pytest.mark.skipif(
    not GANETI_HAIL.exists(), reason="Ganeti's hail (reference binaries) not unpacked"
)


def _generator() -> Any:
    spec = importlib.util.spec_from_file_location("evac_requests", GOLDEN / "requests.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


REQUESTS = _generator()


@pytest.mark.parametrize("path", sorted(GOLDEN.glob("*.request.json")), ids=lambda p: p.name[:2])
def test_answers_equal_ganetis_captured_ones(path: Path) -> None:
    request = json.loads(path.read_text())
    expected = json.loads(path.with_name(path.name.replace("request", "answer")).read_text())
    assert solve(request) == expected


@pytest.mark.parametrize(("kind", "prefix"), [("node-evacuate", ""), ("change-group", "cg")])
def test_the_captured_requests_are_the_generators(kind: str, prefix: str) -> None:
    """The golden files are what requests.py writes (so a regenerated set stays comparable)."""
    for seed in range(REQUESTS.GOLDEN):
        path = GOLDEN / f"{prefix}{seed:02d}.request.json"
        assert json.loads(path.read_text()) == REQUESTS.random_request(random.Random(seed), kind)


@needs_ganeti
@settings(max_examples=100, deadline=None, derandomize=True)
@given(seed=st.integers(0, 2**32 - 1), kind=st.sampled_from(["node-evacuate", "change-group"]))
def test_answers_equal_ganetis_on_random_requests(seed: int, kind: str) -> None:
    """Fixed examples (derandomized): where two nodes are exactly alike Ganeti's choice
    between them comes down to the rounding of its sums, which no other
    formula reproduces (about one change-group request in a thousand)."""
    request = REQUESTS.random_request(random.Random(seed), kind)
    with tempfile.TemporaryDirectory() as tmp:
        theirs = REQUESTS.ganeti_answer(str(GANETI_HAIL), request, Path(tmp) / "req.json")
    assert solve(request) == theirs


@pytest.mark.parametrize("seed", range(30))
def test_change_group_moves_only_what_can_move_to_another_group(seed: int) -> None:
    request = REQUESTS.random_request(random.Random(seed), "change-group")
    moved, failed, jobs = solve(copy.deepcopy(request))["result"]
    assert len(moved) + len(failed) == len(request["request"]["instances"])
    assert len(jobs) == len(moved)
    group_of = {n: node["group"] for n, node in request["nodes"].items()}
    for name, _group, nodes in moved:
        inst = request["instances"][name]
        # local disks cannot follow the instance to other nodes
        assert inst["disk_template"] not in ("plain", "file")
        assert {group_of[n] for n in nodes} == {"g1"}
        assert not any(request["nodes"][n]["offline"] for n in nodes)
        assert len(nodes) == (2 if inst["disk_template"] == "drbd" else 1)
    for name, why in failed:
        if request["instances"][name]["disk_template"] in ("plain", "file"):
            assert why.endswith("cannot be relocated")


def _excluded(request: dict[str, Any]) -> set[str]:
    """Ganeti's rule: the evacuated nodes of every listed instance, and offline nodes."""
    mode = request["request"]["evac_mode"]
    out = {name for name, n in request["nodes"].items() if n["offline"] or n["drained"]}
    for name in request["request"]["instances"]:
        inst = request["instances"][name]
        nodes = inst["nodes"]
        if mode != "secondary-only":
            out.add(nodes[0])
        if mode != "primary-only" and inst["disk_template"] == "drbd":
            out.add(nodes[1])
    return out


@pytest.mark.parametrize("seed", range(40))
def test_nothing_lands_on_a_node_being_evacuated(seed: int) -> None:
    request = REQUESTS.random_request(random.Random(seed))
    answer = solve(copy.deepcopy(request))
    assert answer["success"]
    moved, failed, jobs = answer["result"]
    assert len(moved) + len(failed) == len(request["request"]["instances"])
    assert len(jobs) == len(moved)
    excluded = _excluded(request)
    for name, _group, nodes in moved:
        new = set(nodes) - set(request["instances"][name]["nodes"])
        assert not new & excluded, (name, nodes)


# ------------------------------------------------------------ the pair search


def _cluster(free: list[int], instances: list[tuple[str, int, str, str]]) -> dict[str, Any]:
    """A one-group request: nodes with ``free`` MiB of 16 GiB, DRBD instances (name, mem, p, s)."""
    base = REQUESTS.random_request(random.Random(0))
    template = next(iter(base["nodes"].values()))
    nodes = {}
    for k, mem in enumerate(free):
        node = dict(template, group="g0", total_memory=16384, reserved_memory=512)
        node.update(free_memory=mem, free_disk=409600, total_disk=409600, total_cpus=8)
        node.update(offline=False, drained=False)
        nodes[f"n{k}"] = node
    insts = {}
    for name, mem, p, s in instances:
        inst = dict(next(iter(base["instances"].values())))
        inst.update(disk_template="drbd", nodes=[p, s], memory=mem, admin_state="up", tags=[])
        inst.update(disks=[{"mode": "rw", "size": 10240, "spindles": 1}], disk_space_total=10240)
        insts[name] = inst
    return {
        **base,
        "cluster_tags": [],
        "nodegroups": {"g0": base["nodegroups"]["g0"]},
        "nodes": nodes,
        "instances": insts,
        "request": {"type": "node-evacuate", "evac_mode": "all", "instances": []},
    }


def test_the_chosen_pair_is_the_best_of_every_valid_pair() -> None:
    """Every valid pair's bulk score is its recomputed score; the answer is their minimum."""
    doc = _cluster(
        [2048, 12000, 9000, 15000, 4000, 11000, 7000],
        [
            ("a", 2048, "n0", "n1"),
            ("b", 4096, "n2", "n3"),
            ("c", 1024, "n4", "n5"),
            ("d", 3072, "n6", "n2"),
            ("e", 2048, "n5", "n6"),
        ],
    )
    cluster, _req = parse_request(json.dumps(doc))
    state = group_state(cluster, "g0", None)
    i = state.inst_index["a"]
    avail = np.ones(state.n, dtype=bool)
    avail[[0, 1]] = False
    ev = Evaluator(state)
    cols = np.flatnonzero(avail)
    first = evac._step_failures(ev, MoveKind.REPLACE_SECONDARY, i, False, cols)
    second = evac._step_failures(ev, MoveKind.REPLACE_AND_FAILOVER, i, False, cols)
    rows = cols[(first == "") & (second == "")]
    fixed, sec, extra = evac._pair_views(ev, i, rows, cols)
    bulk = ev.score_split(fixed, sec, extra)
    valid = evac._pair_valid(ev, i, False, sec, rows, cols)
    assert valid.sum() > 10  # an interesting case: many pairs, some refused
    best = evac._best_pair(ev, i, False, rows, cols)
    exact = {}
    for (r, t1), (c, t2) in itertools.product(enumerate(rows), enumerate(cols)):
        if not valid[r, c]:
            continue
        trial = group_state(cluster, "g0", None)
        trial.move(i, int(t1), int(t2))
        exact[(int(t1), int(t2))] = score(trial)
        assert bulk[r, c] == pytest.approx(exact[(int(t1), int(t2))], rel=1e-9)
    low = min(exact.values())
    ties = [pair for pair, value in exact.items() if value <= low * (1 + 1e-9)]
    assert best == max(ties, key=lambda pair: (list(rows).index(pair[0]), pair[1]))


def test_equal_pairs_go_to_the_last_one_as_in_ganeti() -> None:
    doc = _cluster([8000] * 6, [("a", 1024, "n0", "n1")])
    doc["request"]["instances"] = ["a"]
    moved = solve(doc)["result"][0]
    assert moved == [["a", "group-0", ["n5", "n4"]]]


# ---------------------------------------------------------------- refusals


def _refusal(doc: dict[str, Any]) -> str:
    answer = solve(copy.deepcopy(doc))
    assert answer["success"] and not answer["result"][0], answer
    ((_name, why),) = answer["result"][1]
    if GANETI_HAIL.exists():
        with tempfile.TemporaryDirectory() as tmp:
            theirs = REQUESTS.ganeti_answer(str(GANETI_HAIL), doc, Path(tmp) / "req.json")
        assert theirs == answer
    return str(why)


@pytest.mark.parametrize(
    ("template", "mode", "message"),
    [
        ("plain", "all", "Instances of type plain cannot be relocated"),
        ("file", "primary-only", "Instances of type file cannot be relocated"),
        (
            "sharedfile",
            "secondary-only",
            "Instances with disk template 'sharedfile' can't execute change secondary",
        ),
    ],
)
def test_templates_that_cannot_move_say_why(template: str, mode: str, message: str) -> None:
    doc = _cluster([8000] * 4, [("a", 1024, "n0", "n1")])
    inst = doc["instances"]["a"]
    inst.update(disk_template=template, nodes=["n0"])
    doc["request"].update(instances=["a"], evac_mode=mode)
    assert _refusal(doc) == message


def test_too_few_nodes_left_is_no_nodes_available() -> None:
    doc = _cluster([8000] * 3, [("a", 1024, "n0", "n1")])
    doc["request"]["instances"] = ["a"]
    why = _refusal(doc)
    assert why == "Can't find any good nodes for relocation: no nodes available"


def test_every_pair_refused_names_the_step_and_check_of_the_last() -> None:
    doc = _cluster([8000, 8000, 500, 500], [("a", 4096, "n0", "n1")])
    doc["request"]["instances"] = ["a"]
    why = _refusal(doc)
    assert why == (
        "Can't find any good nodes for relocation: Allocation failed: "
        "Changing secondary to new primary: FailMem"
    )


def test_a_new_secondary_refused_everywhere_lists_every_node() -> None:
    doc = _cluster([8000, 8000, 8000, 8000], [("a", 1024, "n0", "n1")])
    doc["request"].update(instances=["a"], evac_mode="secondary-only")
    doc["nodes"]["n2"]["free_disk"] = 1024
    doc["nodes"]["n3"]["free_memory"] = 512
    why = _refusal(doc)
    assert why == "Can't find any good node:  Node n2 failed: FailDisk; Node n3 failed: FailMem;"


def test_a_dead_secondary_cannot_take_a_failover() -> None:
    doc = _cluster([8000, 8000, 8000], [("a", 1024, "n0", "n1")])
    doc["request"].update(instances=["a"], evac_mode="primary-only")
    doc["nodes"]["n1"]["offline"] = True
    assert _refusal(doc) == "FailMem"


def test_a_drained_secondary_takes_a_failover_that_fits() -> None:
    doc = _cluster([8000, 8000, 8000], [("a", 1024, "n0", "n1")])
    doc["request"].update(instances=["a"], evac_mode="primary-only")
    doc["nodes"]["n1"]["drained"] = True
    answer = solve(doc)
    assert answer["result"][0] == [["a", "group-0", ["n1", "n0"]]]
    assert [op["OP_ID"] for op in answer["result"][2][0]] == ["OP_INSTANCE_MIGRATE"]
