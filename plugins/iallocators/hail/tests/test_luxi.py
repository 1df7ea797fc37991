"""The LUXI backend and ``hbal -X`` against a scripted master (no daemons).

The integration suite (tests/integration/test_htools_luxi.py) runs the same
code against a real cluster; here the answers are written out so that the
corner cases (unreachable nodes, fields an older master lacks, failed jobs)
are checked too.
"""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest
from corral_htools import cli_common
from corral_htools.execute import PRIORITIES
from corral_htools.execute import Executor
from corral_htools.execute import Job
from corral_htools.execute import jobs_for
from corral_htools.luxi_backend import LuxiBackendError
from corral_htools.luxi_backend import read_cluster
from corral_htools.moves import Move
from corral_htools.moves import MoveKind
from corral_htools.state import group_state
from corral_htools.textformat import parse_text
from corral_htools.textformat import serialize_text

IPOLICY = {
    "minmax": [
        {
            "min": {"cpu-count": 1, "disk-count": 1, "disk-size": 1024, "memory-size": 128,
                    "nic-count": 1, "spindle-use": 1},
            "max": {"cpu-count": 8, "disk-count": 16, "disk-size": 1048576,
                    "memory-size": 32768, "nic-count": 8, "spindle-use": 12},
        }
    ],
    "std": {"cpu-count": 1, "disk-count": 1, "disk-size": 1024, "memory-size": 128,
            "nic-count": 1, "spindle-use": 1},
    "disk-templates": ["sharedfile", "drbd", "plain"],
    "vcpu-ratio": 4.0,
    "spindle-ratio": 32.0,
}  # fmt: skip

ND = {"spindle_count": 2, "exclusive_storage": False, "cpu_speed": 1.0}
NODATA = object()


def node(name: str, **over: Any) -> dict[str, Any]:
    row = {
        "name": name, "group.uuid": "g-1", "offline": False, "drained": False,
        "vm_capable": True, "master": name == "n1", "tags": [], "ndparams": ND,
        "mtotal": 8192, "mnode": 512, "mfree": 7680, "dtotal": 102400, "dfree": 102400,
        "ctotal": 4,
    }  # fmt: skip
    return {**row, **over}


def instance(name: str, pnode: str, **over: Any) -> dict[str, Any]:
    row = {
        "name": name, "pnode": pnode, "snodes": [], "status": "running",
        "disk_template": "sharedfile", "be/maxmem": 512, "be/vcpus": 1,
        "be/auto_balance": True, "be/spindle_use": 1, "disk_usage": 2048,
        "disk.sizes": [1024, 1024], "nic.count": 1, "tags": [],
    }  # fmt: skip
    return {**row, **over}


class FakeMaster:
    """Answers Query like corral-masterd: fields it lacks come back as RS_UNKNOWN."""

    def __init__(self, nodes: list[dict[str, Any]], instances: list[dict[str, Any]]) -> None:
        group = {"uuid": "g-1", "name": "default", "alloc_policy": "preferred",
                 "ipolicy": IPOLICY, "tags": ["g:tag"], "networks": []}  # fmt: skip
        self.rows = {"group": [group], "node": nodes, "instance": instances}
        self.info = {"tags": ["htools:iextags:svc"], "ipolicy": IPOLICY}
        self.path = "/fake/socket"

    def call(self, method: str, *args: Any) -> Any:
        if method == "QueryClusterInfo":
            return self.info
        assert method == "Query"
        what, fields, _filter = args
        known = set().union(*(r.keys() for r in self.rows[what]))
        definitions = [{"name": f, "kind": "other" if f in known else "unknown"} for f in fields]
        data = [[self._cell(row, f) for f in fields] for row in self.rows[what]]
        return {"fields": definitions, "data": data}

    @staticmethod
    def _cell(row: dict[str, Any], name: str) -> list[Any]:
        if name not in row:
            return [1, None]
        if row[name] is NODATA:
            return [2, None]
        return [0, row[name]]


def test_the_model_from_query_answers() -> None:
    master = FakeMaster(
        [
            node("n1"),
            node("n2", drained=True),
            node("n3", vm_capable=False),
            node("n4", mtotal=NODATA, mfree=NODATA),  # did not answer
            node("n5", dtotal=NODATA, dfree=NODATA, tags=["rack:a"]),  # no file storage
        ],
        [
            instance("i1", "n1", tags=["svc:web"], **{"disk.spindles": [1, 2]}),
            instance("i2", "n4", status=NODATA),
            instance("i3", "n1", snodes=["n5"], disk_template="drbd", status="ADMIN_down"),
        ],
    )
    cluster, warnings = read_cluster(master)  # type: ignore[arg-type]
    assert warnings == ["node n4 did not report mtotal, mfree; it is treated as offline"]
    nodes = {n.name: n for n in cluster.nodes}
    n1 = nodes["n1"]
    assert (n1.t_mem, n1.n_mem, n1.f_mem, n1.t_dsk, n1.f_dsk, n1.t_cpu) == (
        8192.0, 512, 7680, 102400.0, 102400, 4.0,
    )  # fmt: skip
    assert n1.master and not n1.offline and n1.spindles == 2
    assert (n1.nos_cpu, n1.free_spindles) == (1, 0)  # fields this master lacks
    assert [nodes[k].offline for k in ("n2", "n3", "n4", "n5")] == [True, True, True, False]
    assert nodes["n2"].t_mem == 0.0 and nodes["n4"].unknown_resources
    assert (nodes["n5"].t_dsk, nodes["n5"].f_dsk, nodes["n5"].tags) == (0.0, 0, ["rack:a"])
    insts = {i.name: i for i in cluster.instances}
    assert (insts["i1"].mem, insts["i1"].dsk, insts["i1"].disks) == (512, 2048, [1024, 1024])
    assert insts["i1"].spindles == 3 and insts["i1"].tags == ["svc:web"] and insts["i1"].running
    assert insts["i2"].status == "ERROR_nodedown"
    assert (insts["i3"].snode, insts["i3"].mirror_internal, insts["i3"].running) == (
        "n5", True, False,
    )  # fmt: skip
    assert cluster.tags == ["htools:iextags:svc"] and cluster.has_policies
    assert cluster.ipolicy.disk_templates == ("sharedfile", "drbd", "plain")
    assert cluster.groups[0].tags == ["g:tag"] and cluster.groups[0].ipolicy == cluster.ipolicy

    text = serialize_text(cluster)
    again = parse_text(text)
    # The text format writes an unreachable node as offline with zeros (it reads "?" too).
    nodes["n4"].unknown_resources = False
    assert [n.__dict__ for n in again.nodes] == [n.__dict__ for n in cluster.nodes]
    for inst in cluster.instances:
        inst.disks = []
    assert [i.__dict__ for i in again.instances] == [i.__dict__ for i in cluster.instances]
    assert serialize_text(again) == text


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"disk_template": "zfs"}, "instance i1: unknown disk template 'zfs'"),
        ({"pnode": "nx"}, "instance i1: unknown node 'nx'"),
        ({"status": "dancing"}, "instance i1: unknown run status 'dancing'"),
        ({"be/maxmem": NODATA}, "instance i1: the master gave no value for field 'be/maxmem'"),
    ],
)
def test_answers_the_model_cannot_use(change: dict[str, Any], message: str) -> None:
    master = FakeMaster([node("n1")], [{**instance("i1", "n1"), **change}])
    with pytest.raises(LuxiBackendError, match=message):
        read_cluster(master)  # type: ignore[arg-type]


def test_luxi_argument_forms() -> None:
    norm = cli_common.normalize_argv
    assert norm(["-L"]) == ["--luxi="]
    assert norm(["-L", "/run/sock", "-C"]) == ["--luxi=/run/sock", "--print-commands="]
    assert norm(["-L", "-X"]) == ["--luxi=", "-X"]
    assert norm(["-L/run/sock"]) == ["-L/run/sock"]
    assert norm(["--luxi", "./sock"]) == ["--luxi=./sock"]


def test_text_path_does_not_import_twisted(tmp_path: Any) -> None:
    data = tmp_path / "c.data"
    data.write_text("default|g-1|preferred||\n\nn1|4096|0|4096|1024|1024|4|N|g-1\n\n\n\n")
    code = (
        "import sys\nfrom corral_htools import cli_hbal\n"
        f"cli_hbal.main(['-t', {str(data)!r}])\n"
        "assert 'twisted' not in sys.modules, 'twisted imported'\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


# -- hbal -X ------------------------------------------------------------------------


class JobMaster:
    """Runs submitted jobs at once; a job of an instance in ``fail`` errors."""

    def __init__(self, fail: frozenset[str] = frozenset()) -> None:
        self.fail = fail
        self.jobs: dict[int, tuple[str, list[dict[str, Any]]]] = {}
        self.events: list[tuple[str, Any]] = []

    def submit_many_jobs(self, jobs: list[list[dict[str, Any]]]) -> list[Any]:
        answers = []
        for ops in jobs:
            jid = len(self.jobs) + 1
            inst = str(ops[0]["instance_name"])
            self.jobs[jid] = ("error" if inst in self.fail else "success", ops)
            self.events.append(("submit", jid))
            answers.append([True, jid])
        return answers

    def wait_for_job_change(self, job_id: int, *_args: Any) -> Any:
        self.events.append(("wait", job_id))
        return [[self.jobs[job_id][0]], [[1, [0, 0], "message", "moving"]]]

    def query_jobs(self, ids: list[int], fields: list[str]) -> list[Any]:
        assert fields == ["status", "opstatus", "opresult"]
        rows = []
        for jid in ids:
            status, ops = self.jobs[jid]
            if status == "success":
                rows.append([status, ["success"] * len(ops), [None] * len(ops)])
            else:
                error: list[Any] = ["OpExecError", ["Not enough memory on node n3"]]
                results: list[Any] = [error, *([None] * (len(ops) - 1))]
                rows.append([status, ["error"] * len(ops), results])
        return rows


def _job(name: str) -> Job:
    return Job(name, [{"OP_ID": "OP_INSTANCE_MIGRATE", "instance_name": name}])


def test_jobsets_run_in_order_with_priority_and_reason() -> None:
    master = JobMaster()
    lines: list[str] = []
    runner = Executor(master, priority="high", reason="rebalance", out=lines.append,  # type: ignore[arg-type]
                      clock=lambda: 42)  # fmt: skip
    assert runner.run([[_job("a"), _job("b")], [_job("c")]]) == 0
    assert lines == [
        "Executing jobset for instances a, b",
        "Got job IDs 1, 2",
        "Executing jobset for instances c",
        "Got job IDs 3",
    ]
    # the second jobset is submitted only once both jobs of the first have ended
    assert master.events == [("submit", 1), ("submit", 2), ("wait", 1), ("wait", 2),
                             ("submit", 3), ("wait", 3)]  # fmt: skip
    op = master.jobs[3][1][0]
    assert op["priority"] == PRIORITIES["high"] == -10
    assert op["reason"] == [["gnt:client:hbal", "rebalance", 42]]


def test_a_failed_job_stops_the_run(capsys: pytest.CaptureFixture[str]) -> None:
    master = JobMaster(fail=frozenset({"b"}))
    runner = Executor(master, out=lambda line: None)  # type: ignore[arg-type]
    assert runner.run([[_job("a"), _job("b")], [_job("c")]]) == 1
    assert ("submit", 3) not in master.events
    err = capsys.readouterr().err
    assert "job 2 (b) error: OpExecError: Not enough memory on node n3" in err
    assert "later jobsets were not submitted" in err


def test_first_job_group_and_stop_request() -> None:
    master = JobMaster()
    runner = Executor(master, out=lambda line: None)  # type: ignore[arg-type]
    assert runner.run([[_job("a")], [_job("b")]], first_only=True) == 0
    assert [e for e in master.events if e[0] == "submit"] == [("submit", 1)]
    lines: list[str] = []
    runner = Executor(master, out=lines.append)  # type: ignore[arg-type]
    runner.stop.requested = True  # as after a first ^C during jobset 1
    assert runner.run([[_job("c")], [_job("d")]]) == 0
    assert lines[-1].startswith("Stopping early at the user's request")


def test_moves_become_ganeti_opcodes() -> None:
    text = (
        "default|g-1|preferred||\n\n"
        + "".join(f"n{k}|8192|0|8192|102400|102400|4|N|g-1\n" for k in (1, 2, 3))
        + "\nrun|512|1024|1|running|Y|n1||sharedfile||1\n"
        "down|512|1024|1|ADMIN_down|Y|n1||sharedfile||1\n"
        "mirror|512|1024|1|running|Y|n1|n2|drbd||1\n\n\n"
    )
    cluster = parse_text(text)
    st = group_state(cluster, "g-1")
    moves = [
        [Move(0, MoveKind.FAILOVER_TO_ANY, 1, 0, -1, 1, -1)],
        [Move(1, MoveKind.FAILOVER_TO_ANY, 2, 0, -1, 2, -1)],
        [Move(2, MoveKind.REPLACE_AND_FAILOVER, 2, 0, 1, 2, 0)],
    ]
    (run,), (down,), (mirror,) = jobs_for(st, moves)
    assert [(o["OP_ID"], o.get("target_node")) for o in run.ops] == [("OP_INSTANCE_MIGRATE", "n2")]
    assert run.ops[0]["allow_failover"] is True
    assert [(o["OP_ID"], o.get("target_node")) for o in down.ops] == [
        ("OP_INSTANCE_FAILOVER", "n3")
    ]
    assert [o["OP_ID"] for o in mirror.ops] == ["OP_INSTANCE_REPLACE_DISKS", "OP_INSTANCE_MIGRATE"]
    assert mirror.ops[0]["mode"] == "replace_new_secondary"
    assert mirror.ops[0]["remote_node"] == "n3"


@pytest.mark.parametrize("running", [True, False])
@pytest.mark.parametrize("kind", list(MoveKind))
def test_every_move_job_passes_corrals_opcode_schemas(kind: MoveKind, running: bool) -> None:
    from corral_htools.execute import annotate
    from corral_htools.moves import opcodes

    from corral.opcodes import load_opcode

    for op in annotate(opcodes(kind, "i1", "n3", running), "low", "why", 1):
        loaded = load_opcode(op)
        assert loaded.priority == 10 and loaded.reason == [["gnt:client:hbal", "why", 1]]


def test_interrupts() -> None:
    lines: list[str] = []
    runner = Executor(JobMaster(), out=lines.append)  # type: ignore[arg-type]
    runner._on_sigint(2, None)
    assert runner.stop.requested and lines[-1].startswith("Stop requested")
    with pytest.raises(SystemExit) as second:  # a second ^C: at once
        runner._on_sigint(2, None)
    assert second.value.code == 2
    with pytest.raises(SystemExit) as term:
        runner._on_sigterm(15, None)
    assert term.value.code == 2
