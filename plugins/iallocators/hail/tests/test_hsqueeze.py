"""hsqueeze: power-off and power-on plans, their commands and the command line.

The fixed cases are small clusters whose answers were taken from Ganeti
3.0's hsqueeze; when its binary is around, they and Ganeti's own hsqueeze
test data are compared with it directly.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from corral_htools import cli_hsqueeze
from corral_htools.model import ISpec
from corral_htools.squeeze import Action
from corral_htools.squeeze import Probe
from corral_htools.squeeze import Squeezer
from corral_htools.squeeze import all_on_online_nodes
from corral_htools.squeeze import room_everywhere
from corral_htools.state import Options
from corral_htools.state import group_state
from corral_htools.textformat import parse_text
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st


def _cluster(nodes: list[str], insts: list[str]) -> str:
    """One group, no policy section (Ganeti's default policy: standard memory 128)."""
    return "\n".join(["group-01|g1|preferred||", "", *nodes, "", *insts, "", "", ""])


#: Three nodes besides the master, the master and node-01 busier than the others.
SPREAD = _cluster(
    [
        f"node-0{j}|2048|0|{1536 if j < 2 else 1792}|102400|102400|8|{'M' if j == 0 else 'N'}|g1|1"
        for j in range(4)
    ],
    [
        *(f"inst-{j}{k}|256|0|1|running|Y|node-0{j}||ext||1" for j in (0, 1) for k in (0, 1)),
        "inst-20|256|0|1|running|Y|node-02||ext||1",
        "inst-30|256|0|1|running|Y|node-03||ext||1",
    ],
)

#: Two full nodes; three offline ones, two of them tagged standby.
STANDBY = _cluster(
    [
        "node-00|1024|0|256|102400|102400|8|M|g1|1",
        "node-01|1024|0|256|102400|102400|8|N|g1|1",
        "node-02|1024|0|1024|102400|102400|8|Y|g1|1|htools:standby:auto",
        "node-03|1024|0|1024|102400|102400|8|Y|g1|1",
        "node-04|1024|0|1024|102400|102400|8|Y|g1|1|htools:standby:manual",
    ],
    [f"inst-{j}{k}|384|0|1|running|Y|node-0{j}||ext||1" for j in (0, 1) for k in (0, 1)],
)

#: Which nodes may be taken out: not the master, not one holding a DRBD or plain disk.
MIXED = _cluster(
    [
        *(
            f"node-0{j}|4096|0|{4096 - used}|102400|{102400 - disk}|8|{'M' if j == 0 else 'N'}|g1|1"
            for j, used, disk in (
                (0, 256, 0),
                (1, 256, 1024),
                (2, 0, 1024),
                (3, 256, 1024),
                (4, 512, 0),
                (5, 256, 0),
                (6, 0, 0),
            )
        ),
    ],
    [
        "m-0|256|0|1|running|Y|node-00||ext||1",
        "d-1|256|1024|1|running|Y|node-01|node-02|drbd||1",
        "p-3|256|1024|1|running|Y|node-03||plain||1",
        "f-4|256|0|1|running|Y|node-04||file||1",
        "s-4|256|0|1|running|Y|node-04||sharedfile||1",
        "e-5|256|0|1|running|Y|node-05||ext||1",
    ],
)


def _write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "cluster.data"
    path.write_text(text)
    return str(path)


def _run(capsys: pytest.CaptureFixture[str], tmp_path: Path, text: str, *args: str) -> str:
    assert cli_hsqueeze.main(["-t", _write(tmp_path, text), *args]) == 0
    return capsys.readouterr().out


# ------------------------------------------------------------------ plans


def test_power_off_keeps_the_target_room(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """Least loaded first; node-01 stays, or a node would have room for under 4 x 128 MB."""
    out = _run(capsys, tmp_path, SPREAD, "-v", "--target-resources=4", "-C")
    assert out.splitlines() == [
        "Offline candidates: node-01,node-02,node-03",
        "Online candidates: ",
        "'Nodes to offline'",
        "node-02",
        "node-03",
        "",
        "Commands to run:",
        "  ",
        "  echo jobset 1, 2 jobs",
        "    echo job 1/1",
        "    gnt-instance migrate -f -n node-00 inst-20",
        "    echo job 1/2",
        "    gnt-instance migrate -f -n node-01 inst-30",
        "  ",
        "  echo Tagging Commands",
        "    gnt-node add-tags node-02 htools:standby:auto",
        "    gnt-node add-tags node-03 htools:standby:auto",
        "  ",
        "  echo Power Commands",
        "    gnt-node power -f off node-02",
        "    gnt-node power -f off node-03",
    ]
    # the default target (2 x 128 MB) lets every non-master node go
    out = _run(capsys, tmp_path, SPREAD, "--no-headers")
    assert out == "node-01\nnode-02\nnode-03\n"


def test_power_on_the_shortest_standby_prefix(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """256 MB free is less than 2 x 128 MB leaves: standby nodes come back, untagged ones stay."""
    out = _run(capsys, tmp_path, STANDBY, "-v", "-C")
    assert out.splitlines() == [
        "Offline candidates: node-01",
        "Online candidates: node-02,node-04",
        "'Nodes to online'",
        "node-02",
        "node-04",
        "",
        "Commands to run:",
        "  echo Power Commands",
        "    gnt-node power -f on node-02",
        "    gnt-node power -f on node-04",
        "  ",
        "  echo jobset 1, 2 jobs",
        "    echo job 1/1",
        "    gnt-instance migrate -f -n node-02 inst-00",
        "    echo job 1/2",
        "    gnt-instance migrate -f -n node-04 inst-10",
    ]
    # 1 x 128 MB still fits everywhere, and nothing can go: no action
    out = _run(capsys, tmp_path, STANDBY, "--minimal-resources=1", "-C")
    assert out == "'No action'\n\nCommands to run:\n  echo Nothing to do\n"


def test_not_enough_capacity(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """Every standby node is proposed; only -v says it will not do."""
    warning = "Onlining all nodes will not yield enough capacity"
    out = _run(capsys, tmp_path, STANDBY, "--minimal-resources=6")
    assert out == "'Nodes to online'\nnode-02\nnode-04\n"
    out = _run(capsys, tmp_path, STANDBY, "--minimal-resources=6", "-v")
    assert out.splitlines()[-1] == warning
    # without standby nodes the list is empty and the power section too
    out = _run(capsys, tmp_path, SPREAD, "--minimal-resources=13", "-v", "-C")
    assert out.splitlines()[-5:] == [
        "'Nodes to online'",
        warning,
        "",
        "Commands to run:",
        "  echo Power Commands",
    ]


def test_offline_candidates(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """DRBD (either side) and plain disks keep a node on; a file disk does not, yet stays."""
    out = _run(capsys, tmp_path, MIXED, "-v")
    assert out.splitlines() == [
        "Offline candidates: node-04,node-05,node-06",
        "Online candidates: ",
        "'Nodes to offline'",
        "node-05",
        "node-06",
    ]


def test_offline_nodes_need_room_too(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """Ganeti checks the probe on offline nodes as well: one with 100 MB free blocks squeezing."""
    low = SPREAD.replace(
        "node-03|2048|0|1792|102400|102400|8|N|g1|1",
        "node-03|2048|0|1792|102400|102400|8|N|g1|1\nnode-04|100|0|100|102400|102400|8|Y|g1|1",
    )
    assert _run(capsys, tmp_path, low, "--minimal-resources=0") == "'No action'\n"
    out = _run(capsys, tmp_path, low, "--minimal-resources=0", "--target-resources=0.7")
    assert out == "'Nodes to offline'\nnode-01\nnode-02\nnode-03\n"
    assert _run(capsys, tmp_path, low) == "'Nodes to online'\n"


def test_stopped_instances_count(tmp_path: Path) -> None:
    """Memory a stopped instance would take once started is not room for the probe."""
    text = _cluster(
        ["n1|1000|0|1000|102400|102400|4|M|g1|1"],
        ["down|600|0|1|ADMIN_down|Y|n1||ext||1"],
    )
    st = group_state(parse_text(text), None)
    assert room_everywhere(st, Probe(399, 1), soft=False)
    assert not room_everywhere(st, Probe(400, 1), soft=False)
    # CPUs: 4 x 4.0 allowed, 2 in use (the node's own and the stopped instance's)
    assert room_everywhere(st, Probe(0, 14), soft=False)
    assert not room_everywhere(st, Probe(0, 15), soft=False)
    assert room_everywhere(st, Probe(0, 15), soft=True)


def test_no_free_memory_fails_a_zero_probe() -> None:
    text = _cluster(["n1|512|0|0|102400|102400|4|M|g1|1"], ["full|512|0|1|running|Y|n1||ext||1"])
    assert not room_everywhere(group_state(parse_text(text), None), Probe(0, 0), soft=False)


def test_probe_rounds_down() -> None:
    std = ISpec(127, 1, 1024, 1, 1, 1)
    assert Probe.scaled(std, 2.25) == Probe(285, 2)
    assert Probe.scaled(std, 0.5) == Probe(63, 0)


# ------------------------------------------------------------------ output files and names


def test_saved_states(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """The squeezed state: power flags and placements change, reported free memory does not."""
    base = tmp_path / "state"
    assert (
        cli_hsqueeze.main(["-t", _write(tmp_path, SPREAD), "--target-resources=4", f"-S{base}"])
        == 0
    )
    err = capsys.readouterr().err
    original = (tmp_path / "state.original").read_text()
    squeezed = (tmp_path / "state.squeezed").read_text()
    assert original.splitlines()[5] == "node-03|2048|0|1792|102400|102400|8|N|g1|1||N|0|1|1.0"
    assert squeezed.splitlines()[5] == "node-03|2048|0|1792|102400|102400|8|Y|g1|1||N|0|1|1.0"
    changed = [
        (a, b) for a, b in zip(original.splitlines(), squeezed.splitlines(), strict=True) if a != b
    ]
    assert [b.split("|")[0] for _, b in changed] == ["node-02", "node-03", "inst-20", "inst-30"]
    assert f"The cluster state after hsqueeze run has been written to file '{base}.squeezed'" in err
    # doing nothing writes the loaded state again
    _run(capsys, tmp_path, STANDBY, "--minimal-resources=1", f"-S{base}")
    assert (tmp_path / "state.squeezed").read_text() == (tmp_path / "state.original").read_text()


def test_script_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    script = tmp_path / "cmds.sh"
    out = _run(capsys, tmp_path, STANDBY, f"-C{script}")
    assert out.endswith(f"The commands have been written to file '{script}'\n")
    lines = script.read_text().splitlines()
    assert lines[0] == "#!/bin/sh"
    assert lines[lines.index("}") :] == [
        "}",
        "",
        "echo Power Commands",
        "  gnt-node power -f on node-02",
        "  gnt-node power -f on node-04",
        "",
        "echo jobset 1, 2 jobs",
        "  echo job 1/1",
        "  check",
        "  gnt-instance migrate -f -n node-02 inst-00",
        "  echo job 1/2",
        "  check",
        "  gnt-instance migrate -f -n node-04 inst-10",
    ]
    _run(capsys, tmp_path, STANDBY, "--minimal-resources=1", f"-C{script}")
    assert script.read_text().endswith("}\n\necho Nothing to do")


def test_only_node_names_are_shortened(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    text = "\n".join(
        "|".join(
            f"{field}.example.com" if field.startswith(("node-", "inst-")) else field
            for field in line.split("|")
        )
        for line in SPREAD.splitlines()
    )
    out = _run(capsys, tmp_path, text, "--target-resources=4", "-C")
    assert "node-02.example.com\n" in out
    assert "    gnt-instance migrate -f -n node-00 inst-20.example.com\n" in out
    assert "    gnt-node power -f off node-02\n" in out


# ------------------------------------------------------------------ command line


def test_exec_needs_luxi(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = _write(tmp_path, SPREAD)
    with pytest.raises(SystemExit) as exc:
        cli_hsqueeze.main(["-t", path, "-X"])
    assert exc.value.code == 1
    out = capsys.readouterr()
    assert out.out == "'Nodes to offline'\nnode-01\nnode-02\nnode-03\n"
    assert out.err == "Error: hsqueeze: Execution of commands possible only on LUXI\n"
    # nothing to execute: no error
    assert cli_hsqueeze.main(["-t", _write(tmp_path, STANDBY), "-X", "--minimal-resources=1"]) == 0


def test_options(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit, match="0"):
        cli_hsqueeze.main(["--help-completion"])
    listed = capsys.readouterr().out.split()
    assert {"--minimal-resources", "--target-resources", "-C", "-S", "-X", "--no-headers"} <= set(
        listed
    )
    with pytest.raises(SystemExit) as exc:
        cli_hsqueeze.main(["--bogus"])
    assert exc.value.code == 2
    with pytest.raises(SystemExit) as exc:
        cli_hsqueeze.main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.startswith("hsqueeze (corral-htools) version ")


# ------------------------------------------------------------------ properties


@settings(max_examples=25, deadline=None)
@given(data=st.data(), minimal=st.sampled_from([0.0, 1.0, 2.0, 8.0]))
def test_plans_keep_their_promise(
    clusters: st.SearchStrategy[str], data: st.DataObject, minimal: float
) -> None:
    """A power-off plan leaves every instance on an online node and the target room everywhere."""
    cluster = parse_text(data.draw(clusters))
    squeezer = Squeezer(cluster, Options())
    plan = squeezer.plan(minimal, 1.0)
    std = cluster.ipolicy.std
    final = plan.trial.state
    if plan.action is Action.OFFLINE:
        assert set(plan.trial.nodes) <= set(squeezer.offline_candidates())
        assert all_on_online_nodes(final)
        assert room_everywhere(final, Probe.scaled(std, 1.0), soft=False)
    elif plan.action is Action.ONLINE:
        assert not room_everywhere(squeezer.base, Probe.scaled(std, minimal), soft=False)
        assert set(plan.trial.nodes) <= set(squeezer.online_candidates())
        assert plan.enough == (
            all_on_online_nodes(final)
            and room_everywhere(final, Probe.scaled(std, minimal), soft=False)
        )
    else:
        assert plan.trial.nodes == [] and plan.trial.moves == []


# ------------------------------------------------------------------ Ganeti itself

_REF = Path(os.environ.get("CORRAL_GANETI_REF", "/work/ganeti-ref")) / "root"
_GANETI = _REF / "usr/lib/ganeti/3.0/usr/bin/hsqueeze"
_DATA = _REF / "usr/share/ganeti/testsuite/test/data/htools"
_needs_ganeti = pytest.mark.skipif(
    not _GANETI.exists(), reason="Ganeti's hsqueeze binary is not unpacked"
)
_ARGS = [
    ["-v", "-C"],
    ["--no-headers", "--target-resources=0", "-C"],
    ["--target-resources=1.0", "-v"],
    ["--minimal-resources=0", "-C"],
    ["--minimal-resources=4.0", "--target-resources=5.0", "-v", "-C"],
]


def _same_as_ganeti(path: str, args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    real = subprocess.run(
        [str(_GANETI), "-t", path, *args], capture_output=True, text=True, check=False
    )
    try:
        code = cli_hsqueeze.main(["-t", path, *args])
    except SystemExit as exc:
        code = int(exc.code or 0)
    assert (code, capsys.readouterr().out) == (real.returncode, real.stdout)


@_needs_ganeti
@pytest.mark.parametrize(
    "name", ["hsqueeze-underutilized", "hsqueeze-overutilized", "hsqueeze-mixed-instances"]
)
@pytest.mark.parametrize("args", _ARGS)
def test_same_as_ganeti(name: str, args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    _same_as_ganeti(str(_DATA / f"{name}.data"), args, capsys)


@_needs_ganeti
@pytest.mark.parametrize("text", [SPREAD, STANDBY, MIXED], ids=["spread", "standby", "mixed"])
@pytest.mark.parametrize("args", _ARGS)
def test_fixed_cases_same_as_ganeti(
    text: str, args: list[str], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    _same_as_ganeti(_write(tmp_path, text), args, capsys)


@_needs_ganeti
@pytest.mark.parametrize(
    ("name", "args"),
    [
        ("underutilized", []),
        ("underutilized", ["--target-resources=0"]),
        ("overutilized", []),
        ("overutilized", ["--minimal-resources=0"]),
        ("mixed-instances", []),
    ],
)
def test_files_same_as_ganeti(name: str, args: list[str], tmp_path: Path) -> None:
    """-S and -CFILE write what Ganeti writes."""
    data = str(_DATA / f"hsqueeze-{name}.data")
    subprocess.run(
        [str(_GANETI), "-t", data, *args, f"-S{tmp_path}/g", f"-C{tmp_path}/g.sh"],
        capture_output=True,
        check=True,
    )
    assert cli_hsqueeze.main(["-t", data, *args, f"-S{tmp_path}/c", f"-C{tmp_path}/c.sh"]) == 0
    for suffix in (".original", ".squeezed", ".sh"):
        assert (tmp_path / f"c{suffix}").read_text() == (tmp_path / f"g{suffix}").read_text()
