"""The text backend: errors name the line and field; writing gives back the input."""

from __future__ import annotations

from pathlib import Path

import pytest
from corral_htools.textformat import TextFormatError
from corral_htools.textformat import parse_text
from corral_htools.textformat import serialize_text
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

BENCH = Path(__file__).resolve().parents[5] / "shared" / "bench-data" / "htools"

GOOD = """g1|u1|preferred||

n1|1024|0|512|10240|5120|4|N|u1|1
n2|1024|0|512|10240|5120|4|N|u1|1

i1|128|1024|1|running|Y|n1|n2|drbd||1

"""


def test_minimal_file_parses() -> None:
    cluster = parse_text(GOOD)
    assert [n.name for n in cluster.nodes] == ["n1", "n2"]
    assert cluster.instances[0].snode == "n2"
    assert cluster.nodes[0].nos_cpu == 1  # default of the omitted field


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            "n2|1024|0|512|",
            "n2|1024|0|lots|",
            "line 4 (nodes): field 4 (free memory): 'lots' is not a number",
        ),
        ("|N|u1|1\n\n", "|N|nouuid|1\n\n", "line 4 (nodes): node n2: unknown group UUID 'nouuid'"),
        (
            "|n1|n2|drbd",
            "|n1|n9|drbd",
            "line 6 (instances): Unknown node 'n9' for instance i1",
        ),
        (
            "|n1|n2|drbd",
            "|n1|n1|drbd",
            "line 6 (instances): instance i1 has same primary and secondary node - n1",
        ),
        ("running", "sleeping", "line 6 (instances): instance i1: unknown run status 'sleeping'"),
        (
            "preferred",
            "sometimes",
            "line 1 (groups): field 3 (allocation policy): unknown policy 'sometimes'",
        ),
    ],
)
def test_errors_name_line_and_field(old: str, new: str, message: str) -> None:
    with pytest.raises(TextFormatError) as err:
        parse_text(GOOD.replace(old, new, 1))
    assert str(err.value) == message


def test_too_few_sections() -> None:
    with pytest.raises(TextFormatError, match="3 sections instead of 4 or more"):
        parse_text("g1|u1|preferred||\n\nn1|1|0|1|1|1|1|N|u1\n\ni1|1|1|1|running|Y|n1||plain|\n")


def test_bad_policy_spec_is_refused() -> None:
    text = GOOD + "\n|128,1,1024,1,1|128,1,1024,1,1,1;256,2,2048,2,2,2|drbd|4.0|32.0\n"
    with pytest.raises(TextFormatError, match="\\(policies\\): field 2 \\(std spec\\)"):
        parse_text(text)


@pytest.mark.skipif(not BENCH.is_dir(), reason="bench data (../shared/bench-data) not present")
@pytest.mark.parametrize("case", ["pub-n10", "pub-n20-tags", "pub-n20-offline", "pub-n40-2groups"])
def test_bench_files_round_trip(case: str) -> None:
    text = (BENCH / f"{case}.data").read_text()
    assert serialize_text(parse_text(text)) == text


@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_generated_clusters_round_trip(
    clusters: st.SearchStrategy[str], data: st.DataObject
) -> None:
    text = data.draw(clusters)
    assert serialize_text(parse_text(text)) == text
