"""The cluster score agrees with Ganeti's, term by term.

The first test uses the example FORMATS.md documents from the real
binary; the second asks Ganeti's own hbal (when the reference binaries are
unpacked) for its coefficient table on the bench clusters and compares.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from corral_htools.cost import TERMS
from corral_htools.cost import detailed
from corral_htools.cost import score
from corral_htools.state import group_state
from corral_htools.textformat import load_text
from corral_htools.textformat import parse_text

HERE = Path(__file__).resolve()
BENCH = HERE.parents[5] / "shared" / "bench-data" / "htools"
GANETI_HBAL = Path("/work/ganeti-ref/root/usr/lib/ganeti/3.0/usr/bin/hbal")

EXCL_TAGS = """group-01|fake-uuid-01|preferred||

node-01|16384|0|14336|409600|153600|16|N|fake-uuid-01|1
node-02|16384|0|13312|409600|153600|16|N|fake-uuid-01|1

dns1|1024|51200|1|running|Y|node-01|node-02|drbd|service-group:dns,foo|1
dns2|1024|51200|1|running|Y|node-01|node-02|drbd|service-group:dns,foo|1
ftp1|1024|51200|1|running|Y|node-02|node-01|drbd|test:ftp,bar|1
ftp2|1024|51200|1|running|Y|node-02|node-01|drbd|test:ftp,bar|1
admin|1024|51200|1|running|Y|node-02|node-01|drbd|foo|1

htools:iextags:service-group
"""


def test_documented_example() -> None:
    """FORMATS.md 3.2: total 3.67187500, with one exclusion-tag conflict."""
    st = group_state(parse_text(EXCL_TAGS), None)
    values = {name: value for name, value, _ in detailed(st)}
    assert f"{score(st):.8f}" == "3.67187500"
    assert values["pri_tags_score"] == 1.0
    assert values["cpu_load_cv"] == pytest.approx(0.5)
    assert values["reserved_mem_rtotal"] == pytest.approx(0.3125)


def test_terms_are_ganetis() -> None:
    assert len(TERMS) == 20
    assert TERMS[0] == ("free_mem_cv", 0.5) and TERMS[-1] == ("reserved_mem_rtotal", 0.25)


def _ganeti_terms(path: Path, extra: list[str]) -> dict[str, float]:
    out = subprocess.run(
        [str(GANETI_HBAL), "-t", str(path), "-v", "-v", "-l", "0", *extra],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    ).stdout
    block = out.split("Initial coefficients", 1)[1]
    return {m[1]: float(m[2]) for m in re.finditer(r"^\s+(\w+)\s+(-?[\d.]+)\s+x", block, re.M)}


@pytest.mark.skipif(not GANETI_HBAL.exists(), reason="Ganeti reference binaries not unpacked")
@pytest.mark.skipif(not BENCH.is_dir(), reason="bench data not present")
@pytest.mark.parametrize(
    "case", ["pub-n10", "pub-n20-tags", "pub-n20-offline", "pub-n30-n1fail", "pub-n40-2groups"]
)
def test_matches_ganeti_binary(case: str) -> None:
    path = BENCH / f"{case}.data"
    cluster = load_text(str(path))
    extra = ["-G", "group-01"] if len(cluster.groups) > 1 else []
    group = cluster.groups[0].uuid if extra else None
    theirs = _ganeti_terms(path, extra)
    ours = {name: value for name, value, _ in detailed(group_state(cluster, group))}
    assert set(theirs) == set(ours)
    for name, value in theirs.items():
        assert ours[name] == pytest.approx(value, abs=5e-8), name
