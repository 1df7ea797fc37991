"""Node daemon procedures that need no network: the config push's document check."""

from __future__ import annotations

from corral.config import objects as o
from corral.config.store import serialize
from corral.noded.methods import _document_serial


def test_the_serial_is_read_from_the_end_of_the_file():
    cluster = o.Cluster(uuid="c", cluster_name="c", master_node="n", master_ip="192.0.2.1")
    node = o.Node(uuid="n", name="n", primary_ip="192.0.2.2", group="g", serial_no=99)
    cfg = o.ConfigData(cluster=cluster, nodegroups={"g": o.NodeGroup(uuid="g", name="g")},
                       nodes={"n": node}, serial_no=1234)  # fmt: skip
    assert _document_serial(serialize(cfg)) == 1234


def test_anything_else_has_no_serial():
    assert _document_serial(b"") is None
    assert _document_serial(b'{"serial_no":5}') is None
    assert _document_serial(b'[,"serial_no":5,"version":1}') is None
