"""hbal, hinfo and hcheck print what Ganeti 3.0's own binaries print, byte for byte.

``ganeti-output/`` holds a small cluster (names sharing a domain suffix,
exclusion tags, a node that reports more free memory than its instances'
sizes leave) and an empty one, with the stdout and stderr of Ganeti's tools
on them, captured by ``ganeti-output/regen.sh``. The cases cover the
verbosity levels (``-q`` to ``-v -v -v``), ``-p``/``--print-instances``
tables, ``-C`` command lists and the machine-readable hcheck output.
"""

from __future__ import annotations

import contextlib
import io
import os
from pathlib import Path

import pytest
from corral_htools import cli_hbal
from corral_htools import cli_hcheck
from corral_htools import cli_hinfo
from corral_htools.clusterstats import show_double
from corral_htools.loadinfo import show_ipolicy
from corral_htools.textformat import load_text

HERE = Path(__file__).parent / "ganeti-output"
TOOLS = {"hbal": cli_hbal.main, "hinfo": cli_hinfo.main, "hcheck": cli_hcheck.main}


def _cases() -> list[tuple[str, str, str, str]]:
    lines = (HERE / "cases.txt").read_text().splitlines()
    rows = [line.split("|") for line in lines if line and not line.startswith("#")]
    return [(name, tool, file, args) for name, tool, file, args in rows]


@pytest.mark.parametrize(("name", "tool", "file", "args"), _cases(), ids=lambda v: str(v))
def test_output_is_ganetis(
    name: str, tool: str, file: str, args: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(HERE)
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            rc = TOOLS[tool](["-t", file, *args.split()])
        except SystemExit as exc:
            rc = int(exc.code or 0)
    rc_file = HERE / f"{name}.rc"
    expected_rc = int(rc_file.read_text()) if rc_file.exists() else 0
    assert out.getvalue() == (HERE / f"{name}.out").read_text()
    assert err.getvalue() == (HERE / f"{name}.err").read_text()
    assert rc == expected_rc


def test_policy_is_shown_as_haskell_shows_it() -> None:
    cluster = load_text(os.fspath(HERE / "cluster.data"))
    shown = show_ipolicy(cluster.ipolicy)
    expected = (HERE / "hbal-v-C-p.out").read_text().splitlines()[1]
    assert "Loaded cluster ipolicy: " + shown == expected


@pytest.mark.parametrize(
    ("value", "text"),
    [(4.0, "4.0"), (32.0, "32.0"), (0.5, "0.5"), (0.01, "1.0e-2"), (0.0, "0.0"),
     (15000000.0, "1.5e7"), (-2.5, "-2.5"), (0.125, "0.125")],
)  # fmt: skip
def test_haskell_double(value: float, text: str) -> None:
    assert show_double(value) == text


def test_hcheck_counts_instances_on_offline_secondaries(monkeypatch: pytest.MonkeyPatch) -> None:
    """The one deliberate difference (see cli_hcheck): Ganeti would say OFFLINE_SEC=1 here.

    ``offline.data`` has one offline node holding a primary and no secondary;
    Ganeti 3.0 counts the offline node itself as "an instance having a
    secondary node offline".
    """
    monkeypatch.chdir(HERE)
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        cli_hcheck.main(["-t", "offline.data", "--machine-readable"])
    keys = dict(line.split("=", 1) for line in out.getvalue().splitlines())
    assert keys["HCHECK_INIT_CLUSTER_OFFLINE_PRI"] == "1"
    assert keys["HCHECK_INIT_CLUSTER_OFFLINE_SEC"] == "0"
