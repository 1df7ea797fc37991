"""Ganeti's candidate pool rules, as the node LUs apply them."""

from __future__ import annotations

from corral.cmdlib.node import candidate_stats
from corral.cmdlib.node import fill_candidate_pool
from corral.config import objects as o


def cfg(pool: int, **flags: dict[str, bool]) -> o.ConfigData:
    nodes = {
        name: o.Node(
            uuid=name, name=name, primary_ip=f"192.0.2.{i}", group="g", **flags.get(name, {})
        )
        for i, name in enumerate(["n1", "n2", "n3", "n4"], start=1)
    }
    cluster = o.Cluster(uuid="c", cluster_name="c", master_node="n1", master_ip="192.0.2.100",
                        candidate_pool_size=pool)  # fmt: skip
    return o.ConfigData(cluster=cluster, nodegroups={"g": o.NodeGroup(uuid="g", name="g")},
                        nodes=nodes)  # fmt: skip


def candidates(config: o.ConfigData) -> list[str]:
    return sorted(n.name for n in config.nodes.values() if n.master_candidate)


def test_pool_fills_up_to_its_size_in_name_order():
    config = cfg(3, n1={"master_candidate": True})
    assert candidates(fill_candidate_pool(config)) == ["n1", "n2", "n3"]


def test_nodes_that_cannot_serve_are_never_promoted():
    config = cfg(10, n1={"master_candidate": True}, n2={"offline": True}, n3={"drained": True},
                 n4={"master_capable": False})  # fmt: skip
    assert candidates(fill_candidate_pool(config)) == ["n1"]


def test_excluded_node_is_left_alone():
    config = cfg(10, n1={"master_candidate": True})
    assert candidates(fill_candidate_pool(config, exclude=["n2"])) == ["n1", "n3", "n4"]


def test_stats_leave_the_node_out():
    config = cfg(10, n1={"master_candidate": True}, n2={"master_candidate": True})
    assert candidate_stats(config) == (2, 4)
    assert candidate_stats(config, exclude="n2") == (1, 3)
    promoted = fill_candidate_pool(config)
    assert promoted.nodes["n3"].serial_no == 2  # a promotion is a change of the node


def test_verify_reports_only_ganetis_error_codes():
    import re
    from pathlib import Path

    from corral.cmdlib import verify
    from corral.opcodes.values import CV_ERROR_CODES

    used = set(re.findall(r'"(E(?!RROR")[A-Z0-9]+)"', Path(verify.__file__).read_text()))
    assert used and used <= set(CV_ERROR_CODES)
