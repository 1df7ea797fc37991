"""The external iallocator: runs a real IAllocator script (Ganeti's hail) and
compares its answers with corral's own hail on the bench requests."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from corral_htools.alloc import AllocOptions
from corral_htools.alloc import allocate_in_group
from corral_htools.ialloc import parse_request
from corral_htools.iallocator import solve
from corral_iallocator_external.driver import ExternalIAllocator
from twisted.internet import reactor

from corral.api import DriverContext
from corral.testing import async_test

HERE = Path(__file__).resolve()
BENCH = HERE.parents[5] / "shared" / "bench-data" / "htools"
GANETI_HAIL = Path("/work/ganeti-ref/root/usr/lib/ganeti/3.0/usr/lib/ganeti/iallocators/hail")


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


def _alloc_score(request: dict[str, Any], nodes: list[str]) -> float:
    """Cluster score after placing the request's instance on ``nodes``."""
    cluster, req = parse_request(json.dumps(request))
    new = req.new[0]
    group_of = {n.name: n.group for n in cluster.nodes}
    group = cluster.group_by_uuid(group_of[nodes[0]])
    assert group is not None
    opts = AllocOptions(restrict_to=frozenset(nodes))
    result, _ = allocate_in_group(cluster, group, new, opts)
    assert result.nodes, f"{nodes} is not a feasible placement in corral's model"
    return result.score


CASES = ["pub-n10", "pub-n20", "pub-n20-tags", "pub-n40-2groups"]
KINDS = ["alloc-drbd", "alloc-plain", "reloc-drbd", "multialloc-drbd10", "node-evac"]


@pytest.mark.skipif(
    not GANETI_HAIL.exists(), reason="Ganeti's hail (reference binaries) not unpacked"
)
@pytest.mark.skipif(
    not BENCH.exists(), reason=f"no bench data at {BENCH} (../shared next to the checkout)"
)
@pytest.mark.parametrize("case", CASES)
@async_test
async def test_ganeti_hail_through_the_plugin(tmp_path: Path, case: str) -> None:
    plugin = _driver(tmp_path, str(GANETI_HAIL), ["--no-capacity-checks"])
    for kind in KINDS:
        path = BENCH / f"{case}.{kind}.json"
        request = json.loads(path.read_text())
        theirs = await plugin.run(request)
        ours = solve(request)
        assert theirs["success"] and ours["success"], (kind, theirs["info"], ours["info"])
        if kind.startswith("alloc") and theirs["result"] != ours["result"]:
            # a different choice must be at least as good by the cluster score
            assert (
                _alloc_score(request, ours["result"])
                <= _alloc_score(request, theirs["result"]) + 1e-9
            )
        elif kind.startswith("multialloc"):
            assert len(ours["result"][0]) == len(theirs["result"][0])
        elif kind == "node-evac":
            assert len(ours["result"][0]) == len(theirs["result"][0])
            assert ours["result"][1] == theirs["result"][1] == []
