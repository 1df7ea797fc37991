"""ssconf: the small per-node files derived from the config."""

from __future__ import annotations

import pytest

from corral import ssconf
from corral.config import objects as o


def config(serial: int = 7) -> o.ConfigData:
    nodes = [
        o.Node(uuid="n1", name="node1", primary_ip="192.0.2.1", group="g", master_candidate=True),
        o.Node(uuid="n2", name="node2", primary_ip="192.0.2.2", secondary_ip="198.51.100.2",
               group="g", offline=True),
    ]  # fmt: skip
    cluster = o.Cluster(uuid="c", cluster_name="c.example.com", master_node="n1",
                        master_ip="192.0.2.100", rpc_port=1999)  # fmt: skip
    return o.ConfigData(
        cluster=cluster,
        nodegroups={"g": o.NodeGroup(uuid="g", name="default")},
        nodes={n.uuid: n for n in nodes},
        serial_no=serial,
    )


def test_values_carry_ganetis_keys():
    values = ssconf.values_from_config(config())
    assert values["master_node"] == "node1"
    assert values["master_candidates"] == "node1"
    assert values["node_list"] == "node1\nnode2"
    assert values["online_nodes"] == "node1"
    assert values["node_secondary_ips"] == "node1 192.0.2.1\nnode2 198.51.100.2"
    assert values["config_serial"] == "7"
    assert values["rpc_port"] == "1999"


def test_write_then_read(tmp_path):
    ssconf.write(tmp_path, ssconf.values_from_config(config()))
    assert ssconf.read(tmp_path, "cluster_name") == "c.example.com"
    assert ssconf.read_lines(tmp_path, "node_list") == ["node1", "node2"]
    assert ssconf.read_lines(tmp_path, "cluster_tags") == []
    assert ssconf.serial(tmp_path) == 7
    assert (tmp_path / "ssconf_master_node").read_text() == "node1\n"


def test_a_node_outside_a_cluster_has_none(tmp_path):
    assert ssconf.read(tmp_path, "master_node") is None
    assert ssconf.serial(tmp_path) == 0


def test_keys_are_checked(tmp_path):
    with pytest.raises(ValueError, match="invalid ssconf key"):
        ssconf.write(tmp_path, {"../etc/passwd": "x"})
    assert list(tmp_path.iterdir()) == []
