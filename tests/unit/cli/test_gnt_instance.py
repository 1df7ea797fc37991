"""gnt-instance's option values: sizes with units, indexed --disk/--net, disk and NIC changes."""

from __future__ import annotations

import argparse

import pytest

from corral.api.errors import OpPrereqError
from corral.cli.gnt_instance import disk_change
from corral.cli.gnt_instance import indexed_params
from corral.cli.gnt_instance import nic_change
from corral.cli.gnt_instance import recreate_disks
from corral.cli.options import parse_size


@pytest.mark.parametrize(
    ("text", "mib"),
    [("512", 512), ("512m", 512), ("10G", 10240), ("1.5g", 1536), ("1t", 1048576),
     ("1gib", 1024), ("13", 16), ("0.1g", 104)],
)  # fmt: skip
def test_sizes_are_mib_rounded_up_to_4_as_in_ganeti(text: str, mib: int) -> None:
    assert parse_size(text) == mib


@pytest.mark.parametrize(("text", "message"), [
    ("1x", "Invalid size unit 'x' in '1x' (use m, g or t)"),
    ("big", "Invalid size 'big' (e.g. 512m, 10g, 1t)"),
    ("-1g", "Invalid size '-1g'"),
])  # fmt: skip
def test_bad_sizes_name_the_problem(text: str, message: str) -> None:
    with pytest.raises(
        argparse.ArgumentTypeError, match=message.replace("(", r"\(").replace(")", r"\)")
    ):
        parse_size(text)


def test_indexed_parameters() -> None:
    assert indexed_params("0:size=10g,mode=ro") == ("0", {"size": "10g", "mode": "ro"})
    assert indexed_params("1:link=br0") == ("1", {"link": "br0"})
    assert indexed_params("0") == ("0", {})
    assert indexed_params("link=br1") == ("", {"link": "br1"})


def test_disk_changes() -> None:
    assert disk_change("add:size=4g") == ["add", -1, {"size": 4096}]
    assert disk_change("2:add:size=1g,mode=ro") == ["add", 2, {"size": 1024, "mode": "ro"}]
    assert disk_change("remove") == ["remove", -1, {}]
    assert disk_change("1:remove") == ["remove", 1, {}]
    with pytest.raises(argparse.ArgumentTypeError, match="a new disk needs a size"):
        disk_change("add:mode=rw")
    assert disk_change("2:add,size=1g") == ["add", 2, {"size": 1024}]  # Ganeti's N:add,...
    with pytest.raises(argparse.ArgumentTypeError, match=r"use \[N:\]add"):
        disk_change("grow:size=1g")
    with pytest.raises(argparse.ArgumentTypeError, match="takes no parameters"):
        disk_change("1:remove,size=1g")


def test_nic_changes_keep_colons_in_values() -> None:
    assert nic_change("add") == ["add", -1, {}]
    assert nic_change("add:mac=aa:00:00:00:00:02,link=br1") == [
        "add", -1, {"mac": "aa:00:00:00:00:02", "link": "br1"}
    ]  # fmt: skip
    assert nic_change("1:modify,mac=aa:00:00:12:34:56") == [
        "modify", 1, {"mac": "aa:00:00:12:34:56"}
    ]  # fmt: skip
    assert nic_change("eth1:remove") == ["remove", "eth1", {}]  # by name
    assert nic_change("-1:remove") == ["remove", -1, {}]
    with pytest.raises(argparse.ArgumentTypeError, match="nothing to modify"):
        nic_change("0:modify")
    with pytest.raises(argparse.ArgumentTypeError, match="invalid NIC change 'up'"):
        nic_change("up")


def test_recreate_disk_options() -> None:
    assert recreate_disks([]) == []
    assert recreate_disks([("0", {}), ("2", {})]) == [0, 2]  # plain indices
    assert recreate_disks([("1", {"size": "2g", "spindles": "2"})]) == [
        [1, {"size": 2048, "spindles": 2}]
    ]
    with pytest.raises(OpPrereqError, match="invalid disk index 'x'"):
        recreate_disks([("x", {})])
