"""Instance policy options: bounds pairs with units, and what they turn into."""

from __future__ import annotations

import argparse

import pytest

from corral.cli.ipolicy import add_ipolicy_options
from corral.cli.ipolicy import bounds_specs
from corral.cli.ipolicy import ipolicy_of


def test_bounds_with_units_and_several_pairs() -> None:
    assert bounds_specs("min:memory-size=128,cpu-count=1/max:memory-size=32g,disk-size=1t") == [
        {"min": {"memory-size": 128, "cpu-count": 1},
         "max": {"memory-size": 32768, "disk-size": 1048576}},
    ]  # fmt: skip
    assert (
        len(bounds_specs("min:cpu-count=1/max:cpu-count=2//min:cpu-count=4/max:cpu-count=8")) == 2
    )


@pytest.mark.parametrize(("text", "message"), [
    ("min:cpu-count=1", "need both a min and a max part"),
    ("low:cpu-count=1/max:cpu-count=2", "write min:KEY=VAL"),
    ("min:cpu-count=x/max:cpu-count=2", "invalid value for cpu-count: 'x'"),
])  # fmt: skip
def test_bad_bounds_say_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match=message):
        bounds_specs(text)


def test_options_make_a_policy_dict() -> None:
    parser = argparse.ArgumentParser()
    add_ipolicy_options(parser)
    args = parser.parse_args(["--ipolicy-vcpu-ratio", "2", "--ipolicy-disk-templates",
                              "file,sharedfile", "--ipolicy-std-specs", "memory-size=1g"])  # fmt: skip
    assert ipolicy_of(args) == {"vcpu-ratio": 2.0, "disk-templates": ["file", "sharedfile"],
                                "std": {"memory-size": 1024}}  # fmt: skip
