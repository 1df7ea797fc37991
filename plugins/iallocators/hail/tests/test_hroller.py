"""hroller: node graph, colourings, reboot groups and the command line.

The properties are checked on generated clusters; the fixed cases are small
clusters whose answers were taken from Ganeti 3.0's hroller (and, when its
binary is around, compared with it directly).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
from corral_htools import cli_hroller
from corral_htools import nodegraph
from corral_htools.roller import Placement
from corral_htools.roller import Roller
from corral_htools.roller import RollerError
from corral_htools.roller import RollerOptions
from corral_htools.state import Options
from corral_htools.textformat import parse_text
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

POLICY = (
    "|128,1,1024,1,1,1|128,1,1024,1,1,1;32768,8,1048576,16,8,12|"
    "diskless,file,sharedfile,plain,blockdev,drbd,rbd,ext|4.0|32.0"
)


def _cluster(nodes: list[str], insts: list[str], groups: tuple[str, ...] = ("g1",)) -> str:
    lines = [f"group-0{k + 1}|{g}|preferred||" for k, g in enumerate(groups)]
    return "\n".join([*lines, "", *nodes, "", *insts, "", "", POLICY, "group-01" + POLICY, ""])


#: Ganeti's unique-reboot-order test cluster: a DRBD chain plus two plain instances.
CHAIN = _cluster(
    [
        "node-01-001|91552|0|91424|3500|1196|16|M|g1|1",
        "node-01-002|91552|0|91296|3500|1196|16|N|g1|1",
        "node-01-003|91552|0|91296|3500|1196|16|N|g1|1",
    ],
    [
        "new-0|128|1152|1|running|Y|node-01-001|node-01-002|drbd||1",
        "new-1|128|1152|1|running|Y|node-01-002|node-01-003|drbd||1",
        "nonred-0|128|1152|1|running|Y|node-01-001||plain||1",
        "nonred-1|128|1152|1|running|Y|node-01-003||plain||1",
    ],
)

#: Six nodes with two plain instances each and room for one more (the man page example).
NONRED = _cluster(
    [f"node-01-00{j}|91552|0|91424|3100|1052|16|{'M' if j == 0 else 'N'}|g1|1" for j in range(6)],
    [f"inst-{j}{k}|128|1024|1|running|Y|node-01-00{j}||plain||1" for j in range(6) for k in (0, 1)],
)

#: Four DRBD pairs (two instances each way) with room for one more disk per node.
PAIRS = _cluster(
    [
        f"node-{a}{b}|9155{3 if a == 3 else 2}|0|91424|3102|105{3 if a == 3 else 2}|16|"
        f"{'M' if (a, b) == (3, 1) else 'N'}|g1|1"
        for a in range(4)
        for b in range(2)
    ],
    [
        f"inst-{a}{b}|128|1024|1|running|Y|node-{a}{b}|node-{a}{1 - b}|drbd||1"
        for a in range(4)
        for b in range(2)
    ],
)


def _run(capsys: pytest.CaptureFixture[str], tmp_path: Path, text: str, *args: str) -> str:
    path = tmp_path / "cluster.data"
    path.write_text(text)
    assert cli_hroller.main(["-t", str(path), *args]) == 0
    return capsys.readouterr().out


def _error(capsys: pytest.CaptureFixture[str], tmp_path: Path, text: str, *args: str) -> str:
    path = tmp_path / "cluster.data"
    path.write_text(text)
    with pytest.raises(SystemExit) as exc:
        cli_hroller.main(["-t", str(path), *args])
    assert exc.value.code == 1
    return capsys.readouterr().err


# ------------------------------------------------------------------ fixed cases


def test_chain_splits_non_redundant_nodes(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    out = _run(capsys, tmp_path, CHAIN, "--print-moves")
    assert out.splitlines() == [
        "'Node Reboot Groups'",
        "node-01-002",
        "node-01-003",
        "  nonred-1 node-01-001",
        "node-01-001",
        "  nonred-0 node-01-002",
    ]


def test_chain_options(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert _run(capsys, tmp_path, CHAIN, "--no-headers", "--ignore-non-redundant") == (
        "node-01-002\nnode-01-003,node-01-001\n"
    )
    assert _run(capsys, tmp_path, CHAIN, "--no-headers", "--skip-non-redundant") == (
        "node-01-002\n"
    )
    out = _run(capsys, tmp_path, CHAIN, "--ignore-non-redundant", "-O", "node-01-003")
    assert out == "'Node Reboot Groups'\nnode-01-002\nnode-01-001\n"
    err = _error(capsys, tmp_path, CHAIN, "--full-evacuation")
    assert "Error: Not enough capacity to move secondaries" in err


def test_man_page_example(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """The moves hroller(1) shows, first fit in Ganeti's order."""
    out = _run(capsys, tmp_path, NONRED, "--print-moves")
    assert out.splitlines() == [
        "'Node Reboot Groups'",
        "node-01-002,node-01-003",
        "  inst-20 node-01-001",
        "  inst-21 node-01-000",
        "  inst-30 node-01-005",
        "  inst-31 node-01-004",
        "node-01-004,node-01-005",
        "  inst-40 node-01-001",
        "  inst-41 node-01-000",
        "  inst-50 node-01-003",
        "  inst-51 node-01-002",
        "node-01-001,node-01-000",
        "  inst-00 node-01-002",
        "  inst-01 node-01-003",
        "  inst-10 node-01-005",
        "  inst-11 node-01-004",
    ]
    err = _error(capsys, tmp_path, NONRED, "--skip-non-redundant")
    assert "Error: Cannot create node graph" in err


def test_full_evacuation_moves(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    out = _run(capsys, tmp_path, PAIRS, "--no-headers")
    assert out == "node-00,node-10,node-20,node-30\nnode-01,node-11,node-21,node-31\n"
    out = _run(
        capsys,
        tmp_path,
        PAIRS,
        "--no-headers",
        "--full-evacuation",
        "--one-step-only",
        "--print-moves",
    )
    assert out.splitlines() == [
        "node-01",
        "node-11",
        "  inst-00 node-00 node-20",
        "  inst-01 node-00 node-10",
        "  inst-10 node-10 node-21",
        "  inst-11 node-10 node-00",
    ]


def test_verbose_output(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    out = _run(capsys, tmp_path, CHAIN, "-v", "-v")
    assert out.splitlines()[:2] == [
        "Node Graph: array (0,2) [(0,[0,1]),(1,[1,2,0]),(2,[1])]",
        "Dcolor: 2 (1,2) TIE Dsatur: 2 (1,2) TIE LF: 2 (1,2)",
    ]


def test_master_checks(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    no_master = CHAIN.replace("|M|", "|N|")
    assert "Error: No master node found" in _error(capsys, tmp_path, no_master)
    _run(capsys, tmp_path, no_master, "-f")
    two = CHAIN.replace(
        "node-01-002|91552|0|91296|3500|1196|16|N", "node-01-002|91552|0|91296|3500|1196|16|M"
    )
    err = _error(capsys, tmp_path, two, "-f")
    assert 'Found more than one master node: ["node-01-001","node-01-002"]' in err
    assert "Cannot find target group." in _error(capsys, tmp_path, CHAIN, "-G", "nosuch")


def test_node_tags_and_repeated_names(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """Ganeti's multiple-tags data repeats an instance name; it still loads."""
    text = _cluster(
        [
            "node-01-001|91552|0|91424|953674|953674|16|M|g1|1|red",
            "node-01-002|91552|0|91296|953674|953674|16|N|g1|1|blue",
            "node-01-003|91552|0|91296|953674|953674|16|N|g1|1|",
            "node-01-004|91552|0|91296|953674|953674|16|N|g1|1|blue,red",
            "node-01-005|91552|0|91296|953674|953674|16|N|g1|1|red",
            "node-01-006|91552|0|91296|953674|953674|16|N|g1|1|blue",
        ],
        [
            "new-0|128|1152|1|running|Y|node-01-001|node-01-002|drbd||1",
            "new-1|128|1152|1|running|Y|node-01-003|node-01-004|drbd||1",
            "new-1|128|1152|1|running|Y|node-01-005|node-01-006|drbd||1",
        ],
    )
    assert _run(capsys, tmp_path, text, "--no-headers", "--node-tags=red") == (
        "node-01-004,node-01-005,node-01-001\n"
    )
    assert _run(capsys, tmp_path, text, "--no-headers", "--node-tags=blue") == (
        "node-01-002,node-01-004,node-01-006\n"
    )


def test_other_group_is_no_target(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """Non-redundant instances only move within their node group."""
    text = _cluster(
        [
            *(f"node-01-00{j}|91552|0|91424|3100|1052|16|N|g1|1" for j in range(3)),
            "node-02-000|91552|0|91552|3100|3100|16|M|g2|1",
        ],
        [
            f"inst-{j}{k}|128|1024|1|running|Y|node-01-00{j}||plain||1"
            for j in range(3)
            for k in (0, 1)
        ],
        groups=("g1", "g2"),
    )
    out = _run(capsys, tmp_path, text, "--no-headers", "--print-moves")
    assert "node-02-000" not in "".join(x for x in out.splitlines() if x.startswith("  "))
    assert out.splitlines()[-3] == "node-01-000,node-02-000"
    assert _run(capsys, tmp_path, text, "--no-headers", "-G", "group-02") == "node-02-000\n"


# ------------------------------------------------------------------ colourings


@st.composite
def _graphs(draw: st.DrawFn) -> nodegraph.NodeGraph:
    n = draw(st.integers(1, 12))
    pairs = draw(
        st.lists(
            st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)).filter(lambda x: x[0] != x[1])
        )
    )
    members = set(draw(st.lists(st.integers(0, n - 1), min_size=1)))
    shared = draw(st.booleans())
    graph = nodegraph.build_graph(pairs, members, shared)
    assert graph is not None
    return graph


@settings(max_examples=60, deadline=None)
@given(_graphs())
def test_colourings_are_proper(graph: nodegraph.NodeGraph) -> None:
    found = nodegraph.colourings(graph)
    for classes in found.values():
        assert sorted(v for c in classes for v in c) == list(range(graph.lo, graph.hi + 1))
        colour = {v: k for k, c in enumerate(classes) for v in c}
        for v in range(graph.lo, graph.hi + 1):
            assert all(colour[u] != colour[v] for u in graph.neighbours(v) if u != v)
    assert len(nodegraph.best(found)) == min(len(c) for c in found.values())


def test_stats_line_ranks_best_first() -> None:
    found = {"LF": [[0], [1], [2]], "Dsatur": [[0, 2], [1]], "Dcolor": [[0], [1, 2]]}
    assert nodegraph.stats_line(found) == "Dcolor: 2 (1,2) TIE Dsatur: 2 (2,1) LOOSE LF: 3 (1,1,1)"
    assert nodegraph.best(found) == [[0, 2], [1]]


def test_no_members_no_graph() -> None:
    assert nodegraph.build_graph([(0, 1)], set(), True) is None


# ------------------------------------------------------------------ properties


@settings(max_examples=40, deadline=None)
@given(st.data(), st.booleans(), st.booleans(), st.booleans())
def test_reboot_groups_are_safe(
    clusters: st.SearchStrategy[str],
    data: st.DataObject,
    offline_mode: bool,
    full: bool,
    ignore: bool,
) -> None:
    """Groups partition the selected nodes; no instance loses both its nodes at once."""
    cluster = parse_text(data.draw(clusters))
    opts = RollerOptions(
        offline_maintenance=offline_mode, full_evacuation=full, ignore_non_redundant=ignore
    )
    roller = Roller(cluster, Options(), opts)
    try:
        plan = roller.plan()
    except RollerError:
        return
    members = roller.members()
    planned = [k for g in plan.groups for k in g.nodes]
    assert sorted(planned) == sorted(members)
    assert [len(g.nodes) for g in plan.groups] == sorted(
        (len(g.nodes) for g in plan.groups), reverse=True
    )
    index = {n.name: k for k, n in enumerate(cluster.nodes)}
    for group in plan.groups:
        inside = set(group.nodes)
        by_secondary: dict[int, set[int]] = {}
        for gi, inst in enumerate(cluster.instances):
            p, s = index[inst.pnode], index.get(inst.snode, -1)
            assert not (p in inside and s in inside), inst.name
            if s >= 0 and p in inside:
                by_secondary.setdefault(s, set()).add(p)
            dest = group.moves.get(gi)
            if dest is not None:
                assert dest[0] not in inside and dest[1] not in inside
            elif not ignore and s < 0 and p in inside:
                raise AssertionError(f"{inst.name} stays on a rebooting node")
        if not offline_mode:
            assert all(len(ps) <= 1 for ps in by_secondary.values())


@settings(max_examples=30, deadline=None)
@given(st.data())
def test_undo_restores_the_state(clusters: st.SearchStrategy[str], data: st.DataObject) -> None:
    cluster = parse_text(data.draw(clusters))
    pl = Placement(cluster, Options())
    before = [pl.where(gi) for gi in range(len(cluster.instances))]
    stacks = ([list(x) for x in pl.plist], [list(x) for x in pl.slist])
    arrays = [st.fmem.copy() for st in pl.states]
    online = [k for k, n in enumerate(cluster.nodes) if not n.offline]
    mark = pl.mark()
    for gi in data.draw(st.lists(st.integers(0, len(cluster.instances) - 1), max_size=5)):
        p, s = pl.where(gi)
        if s >= 0:
            pl.move(gi, s, p)
        else:
            pl.move(gi, data.draw(st.sampled_from(online)), -1)
    pl.undo(mark)
    assert [pl.where(gi) for gi in range(len(cluster.instances))] == before
    assert ([list(x) for x in pl.plist], [list(x) for x in pl.slist]) == stacks
    for st_, fmem in zip(pl.states, arrays, strict=True):
        np.testing.assert_allclose(st_.fmem, fmem)


# ------------------------------------------------------------------ Ganeti itself

_REF = Path(os.environ.get("CORRAL_GANETI_REF", "/work/ganeti-ref")) / "root"
_GANETI = _REF / "usr/lib/ganeti/3.0/usr/bin/hroller"
_DATA = _REF / "usr/share/ganeti/testsuite/test/data/htools"


@pytest.mark.skipif(not _GANETI.exists(), reason="Ganeti's hroller binary is not unpacked")
@pytest.mark.parametrize(
    "name", ["unique-reboot-order", "hroller-online", "hroller-nonredundant", "hroller-full"]
)
@pytest.mark.parametrize(
    "args",
    [
        ["--print-moves"],
        ["--offline-maintenance", "-v"],
        ["--full-evacuation", "--print-moves", "--ignore-non-redundant", "-v", "-v"],
    ],
)
def test_same_as_ganeti(name: str, args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    path = str(_DATA / f"{name}.data")
    real = subprocess.run(
        [str(_GANETI), "-t", path, *args], capture_output=True, text=True, check=False
    )
    try:
        code = cli_hroller.main(["-t", path, *args])
    except SystemExit as exc:
        code = int(exc.code or 0)
    out = capsys.readouterr()
    assert (code, out.out) == (real.returncode, real.stdout)
