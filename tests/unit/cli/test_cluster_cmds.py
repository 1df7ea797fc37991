"""Option syntax and output of the gnt-cluster and gnt-node commands (no daemon needed)."""

from __future__ import annotations

import argparse

import pytest

from corral.cli.cluster_cmds import info_lines
from corral.cli.gnt_node import info_lines as node_info_lines
from corral.cli.options import hv_key_values
from corral.cli.options import key_values
from corral.cli.options import timespec
from corral.cli.options import yes_no
from corral.cli.query import format_unit
from corral.cli.query import format_value
from corral.cli.query import parse_fields


def test_key_values_follow_ganetis_syntax():
    assert key_values("maxmem=512,vcpus=2") == {"maxmem": "512", "vcpus": "2"}
    assert key_values("no_acpi,serial_console,-kernel_path") == {
        "acpi": False, "serial_console": True, "kernel_path": None,
    }  # fmt: skip
    assert hv_key_values("kvm:acpi=true") == ("kvm", {"acpi": "true"})
    assert hv_key_values("fake") == ("fake", {})
    with pytest.raises(argparse.ArgumentTypeError):
        hv_key_values(":acpi=1")


@pytest.mark.parametrize(("text", "seconds"), [("30", 30), ("30s", 30), ("5m", 300),
                                                ("2h", 7200), ("1d", 86400), ("1w", 604800)])  # fmt: skip
def test_timespec(text, seconds):
    assert timespec(text) == seconds


def test_bad_values_are_named():
    with pytest.raises(argparse.ArgumentTypeError, match="invalid time specification '1y'"):
        timespec("1y")
    with pytest.raises(argparse.ArgumentTypeError, match="expected yes or no, got 'maybe'"):
        yes_no("maybe")
    assert yes_no("yes") is True and yes_no("No") is False


@pytest.mark.parametrize(
    ("mib", "units", "text"),
    [(512, "h", "512M"), (2048, "h", "2.0G"), (24105, "h", "23.5G"), (3 * 1024 * 1024, "h", "3.0T"),
     (2048, "m", "2048"), (2048, "g", "2.0"), (1024 * 1024, "t", "1.0")],
)  # fmt: skip
def test_sizes_print_as_ganeti_prints_them(mib, units, text):
    assert format_unit(mib, units) == text


def test_values_and_fields():
    assert format_value("unit", 512, "h") == "512M"
    assert format_value("text", None, "h") == "-"
    assert format_value("other", {"b": 1, "a": 2}, "h") == "a=2, b=1"
    assert parse_fields(None, ["name"]) == ["name"]
    assert parse_fields("+pip", ["name"]) == ["name", "pip"]
    assert parse_fields("pip,sip", ["name"]) == ["pip", "sip"]


def test_cluster_info_layout():
    info = {
        "name": "c.example.com", "uuid": "u", "ctime": 0, "mtime": 0, "master": "node1",
        "architecture": ["64bit", "x86_64"], "tags": [], "default_hypervisor": "fake",
        "enabled_hypervisors": ["fake"], "hvparams": {"fake": {"boot_delay": 0.0}},
        "os_hvp": {}, "osparams": {}, "hidden_os": [], "blacklisted_os": [],
        "candidate_pool_size": 10, "max_running_jobs": 20, "max_tracked_jobs": 25,
        "master_ip": "192.0.2.100", "master_netdev": "eth0", "master_netmask": 32,
        "use_external_mip_script": False, "file_storage_dir": "/srv", "shared_file_storage_dir":
        "/srv2", "maintain_node_health": False, "default_iallocator": "", "primary_ip_version": 4,
        "prealloc_wipe_disks": False, "modify_etc_hosts": True, "enabled_disk_templates":
        ["diskless"], "rpc_port": 1811, "ndparams": {"spindle_count": 1},
        "beparams": {"default": {"maxmem": 128}}, "nicparams": {"default": {"mode": "bridged"}},
        "diskparams": {}, "ipolicy": {"vcpu-ratio": 4.0},
    }  # fmt: skip
    lines = info_lines(info)
    assert lines[0] == "Cluster name: c.example.com"
    assert "Tags: (none)" in lines
    at = lines.index("Hypervisor parameters:")
    assert lines[at + 1 : at + 3] == ["  fake:", "    boot_delay: 0.0"]
    at = lines.index("Default instance parameters:")
    assert lines[at + 1 : at + 3] == ["  default:", "    maxmem: 128"]


def test_node_info_layout():
    row = {
        "name": "node1", "pip": "192.0.2.1", "sip": "192.0.2.1", "master": True,
        "master_candidate": True, "drained": False, "offline": False, "master_capable": True,
        "vm_capable": True, "group": "default", "pinst_list": ["web1"], "sinst_list": [],
        "ndparams": {"spindle_count": 1},
    }  # fmt: skip
    lines = node_info_lines(row)
    assert lines[:2] == ["Node name: node1", "  primary ip: 192.0.2.1"]
    assert "  primary for instances:" in lines and "    - web1" in lines
    assert "  secondary for no instances" in lines
    assert lines[-1] == "    spindle_count: 1"
