"""The external iallocator: runs a real IAllocator script (Ganeti's hail) and
compares its answers with corral's own hail on the bench requests."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest
from corral_htools.alloc import AllocOptions
from corral_htools.alloc import allocate
from corral_htools.alloc import answer
from corral_htools.cost import score
from corral_htools.evacuate import scores_after
from corral_htools.ialloc import parse_request
from corral_htools.state import group_state
from corral_iallocator_external.driver import ExternalIAllocator
from twisted.internet import reactor

from corral.api import DriverContext
from corral.testing import async_test

HERE = Path(__file__).resolve()
BENCH = HERE.parents[5] / "shared" / "bench-data" / "htools"
_REF = Path(os.environ.get("CORRAL_GANETI_REF", "/work/ganeti-ref")) / "root"
GANETI_HAIL = _REF / "usr/lib/ganeti/3.0/usr/lib/ganeti/iallocators/hail"


def _driver(tmp_path: Path, script: str, args: list[str] | None = None) -> ExternalIAllocator:
    ctx = DriverContext.create(reactor, tmp_path)
    return ExternalIAllocator(ctx, {"script": script, "args": args or []})


def _script(tmp_path: Path, body: str) -> str:
    path = tmp_path / "ialloc.py"
    path.write_text(f"#!{sys.executable}\nimport sys, json\n{body}\n")
    path.chmod(0o755)
    return str(path)


@async_test
async def test_passes_the_request_file_and_returns_the_answer(tmp_path: Path) -> None:
    script = _script(
        tmp_path,
        "req = json.load(open(sys.argv[-1]))\n"
        "print(json.dumps({'success': True, 'info': sys.argv[1], 'result': [req['request']['name']]}))",
    )
    answer = await _driver(tmp_path, script, ["--flag"]).run({"request": {"name": "web1"}})
    assert answer == {"success": True, "info": "--flag", "result": ["web1"]}


@async_test
async def test_a_crashing_script_is_a_failed_answer(tmp_path: Path) -> None:
    script = _script(tmp_path, "sys.stderr.write('boom\\n'); sys.exit(3)")
    answer = await _driver(tmp_path, script).run({"request": {}})
    assert answer["success"] is False
    assert "exit code 3" in answer["info"] and "boom" in answer["info"]


@async_test
async def test_garbage_output_is_a_failed_answer(tmp_path: Path) -> None:
    script = _script(tmp_path, "print('not json')")
    answer = await _driver(tmp_path, script).run({"request": {}})
    assert answer == {
        "success": False,
        "info": f"external iallocator {script} printed invalid JSON",
        "result": [],
    }


def _alloc_score(
    request: dict[str, Any], placements: list[tuple[str, list[str]]], exact: bool
) -> float:
    """Sum of the group scores once the request's new instances are placed as given.

    Each placement goes through corral's allocation restricted to its nodes,
    so it is also checked to be feasible in corral's model. Unless ``exact``
    the two nodes may swap roles (whichever scores better): that can only
    flatter the answer it is compared with.
    """
    cluster, req = parse_request(json.dumps(request))
    by_name = {new.name: new for new in req.new}
    for name, nodes in placements:
        opts = AllocOptions(restrict_to=frozenset(nodes))
        ok, info, got = allocate(cluster, by_name[name], opts)
        assert ok, f"{name} on {nodes} is not feasible in corral's model: {info}"
        assert got == nodes or not exact, f"{name}: {got} scores better than {nodes}"
    return sum(score(group_state(cluster, g.uuid, None)) for g in cluster.groups)


def _reloc_score(request: dict[str, Any], nodes: list[str]) -> float:
    """The group score once the request's instance has its new secondary."""
    cluster, req = parse_request(json.dumps(request))
    inst = next(i for i in cluster.instances if i.name == req.name)
    uuid = next(n.group for n in cluster.nodes if n.name == inst.pnode)
    st = group_state(cluster, uuid, None)
    i = st.inst_index[inst.name]
    st.move(i, int(st.pnode[i]), st.node_index[nodes[0]])
    return score(st)


def _at_least_as_good(kind: str, request: dict[str, Any], ours: Any, theirs: Any) -> None:
    """A different answer must be at least as good as Ganeti's by the cluster score."""
    name = request["request"].get("name", "")
    if kind.startswith("alloc"):
        mine = _alloc_score(request, [(name, ours)], exact=True)
        assert mine <= _alloc_score(request, [(name, theirs)], exact=False) + 1e-9 * max(1, mine)
    elif kind.startswith("reloc"):
        assert _reloc_score(request, ours) <= _reloc_score(request, theirs) + 1e-9
    elif kind.startswith("multialloc"):
        # more instances placed is better; as many placed, the final score decides
        assert len(ours[0]) >= len(theirs[0])
        if len(ours[0]) == len(theirs[0]):
            mine = _alloc_score(request, ours[0], exact=True)
            assert mine <= _alloc_score(request, theirs[0], exact=False) + 1e-9 * max(1, mine)
    else:
        assert len(ours[0]) >= len(theirs[0])
        if len(ours[0]) == len(theirs[0]):
            cluster, _req = parse_request(json.dumps(request))
            mine = sum(scores_after(cluster, ours[0]).values())
            cluster, _req = parse_request(json.dumps(request))
            assert mine <= sum(scores_after(cluster, theirs[0]).values()) + 1e-9


CASES = [
    "pub-n10",
    "pub-n20",
    "pub-n20-tags",
    "pub-n20-offline",
    "pub-n30",
    "pub-n30-n1fail",
    "pub-n40-2groups",
    "pub-n50",
    "pub-n50-balanced",
]
KINDS = ["alloc-drbd", "alloc-plain", "reloc-drbd", "multialloc-drbd10", "node-evac"]


#: Ganeti's global capacity check needs seconds from 40 nodes up: checked on these.
CAPACITY_CASES = ["pub-n10", "pub-n20", "pub-n20-offline", "pub-n30-n1fail"]


@pytest.mark.skipif(
    not GANETI_HAIL.exists(), reason="Ganeti's hail (reference binaries) not unpacked"
)
@pytest.mark.skipif(
    not BENCH.exists(), reason=f"no bench data at {BENCH} (../shared next to the checkout)"
)
@pytest.mark.parametrize(
    ("case", "capacity"),
    [(c, False) for c in CASES] + [(c, True) for c in CAPACITY_CASES],
)
@async_test
async def test_ganeti_hail_through_the_plugin(tmp_path: Path, case: str, capacity: bool) -> None:
    """Ganeti's hail answers through the plugin; corral's answers are the same.

    The placements are compared exactly; were one to differ, it would have to
    be at least as good by the cluster score. Both sides run with or without
    the global capacity (N+1) checks.
    """
    plugin = _driver(tmp_path, str(GANETI_HAIL), [] if capacity else ["--no-capacity-checks"])
    for kind in KINDS:
        path = BENCH / f"{case}.{kind}.json"
        request = json.loads(path.read_text())
        theirs = await plugin.run(request)
        cluster, req = parse_request(path.read_text())
        ours = answer(cluster, req, AllocOptions(no_capacity_checks=not capacity))
        assert ours["success"] == theirs["success"], (kind, theirs["info"], ours["info"])
        if not theirs["success"]:
            # a request Ganeti cannot satisfy gets its failure reasons
            assert ours == theirs
        elif ours["result"] != theirs["result"]:
            _at_least_as_good(kind, request, ours["result"], theirs["result"])
        if kind == "node-evac":
            # the same moves, the same jobs, the same words for what failed
            assert ours == theirs
