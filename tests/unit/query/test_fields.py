"""Queries: Ganeti's filter language, field statuses, and the node and group fields."""

from __future__ import annotations

import pytest
from twisted.internet import defer
from twisted.python.failure import Failure

from corral.api import OpPrereqError
from corral.config import objects as o
from corral.query import groups
from corral.query import nodes
from corral.query.fields import Resource
from corral.query.fields import Status
from corral.query.fields import compile_filter
from corral.query.fields import names_filter
from corral.query.fields import plain_rows
from corral.rpc.client import NodeResult

ROW = {"name": "node1", "pinst_cnt": 3, "tags": ["a", "b"], "offline": False, "mfree": None}


def matches(qfilter) -> bool:
    predicate, _ = compile_filter(qfilter, ROW)
    return predicate(ROW.get)


@pytest.mark.parametrize(
    ("qfilter", "expected"),
    [
        (None, True),
        (["=", "name", "node1"], True),
        (["==", "name", "node2"], False),
        (["!=", "name", "node2"], True),
        (["<", "pinst_cnt", 4], True),
        ([">=", "pinst_cnt", 4], False),
        (["<=", "pinst_cnt", 3], True),
        (["=~", "name", "^node[0-9]$"], True),
        (["=[]", "tags", "b"], True),
        (["=[]", "tags", "c"], False),
        (["?", "offline"], False),
        (["!", ["?", "offline"]], True),
        (["|", ["=", "name", "x"], ["=", "name", "node1"]], True),
        (["&", ["=", "name", "node1"], ["=", "pinst_cnt", 0]], False),
        ([">", "mfree", 10], False),  # a missing value never compares true
        (["<", "name", 3], False),  # nor does a comparison of unlike types
    ],
)
def test_filter_language(qfilter, expected):
    assert matches(qfilter) is expected


@pytest.mark.parametrize(
    ("qfilter", "message"),
    [
        ("name", "expected \\[operator"),
        (["~~", "name", "x"], "unknown query filter operator '~~'"),
        (["=", "colour", "red"], "unknown field 'colour'"),
        (["=", "name"], "takes a field name and 1 value"),
        (["!", ["?", "name"], ["?", "name"]], "'!' takes one operand"),
        (["=~", "name", "("], "invalid regular expression"),
    ],
)
def test_bad_filters_are_named(qfilter, message):
    with pytest.raises(OpPrereqError, match=message):
        compile_filter(qfilter, ROW)


def test_names_filter():
    assert names_filter([]) is None
    assert names_filter(["a", "b"]) == ["|", ["=", "name", "a"], ["=", "name", "b"]]


def _config() -> o.ConfigData:
    group = o.NodeGroup(uuid="g1", name="default")
    node_list = [
        o.Node(uuid="n1", name="node1", primary_ip="192.0.2.1", group="g1", master_candidate=True),
        o.Node(uuid="n2", name="node2", primary_ip="192.0.2.2", group="g1", drained=True),
        o.Node(uuid="n3", name="node3", primary_ip="192.0.2.3", group="g1", offline=True),
    ]
    inst = o.Instance(
        uuid="i1", name="web1", primary_node="n1", secondary_nodes=("n2",), os="noop",
        hypervisor="fake", disk_template="diskless",
    )  # fmt: skip
    cluster = o.Cluster(uuid="c", cluster_name="c", master_node="n1", master_ip="192.0.2.100")
    return o.ConfigData(
        cluster=cluster,
        nodegroups={"g1": group},
        nodes={n.uuid: n for n in node_list},
        instances={"i1": inst},
    )


def _node_resource(live: dict[str, NodeResult]) -> Resource[nodes.NodeData]:
    cfg = _config()

    async def context(want_live: bool, needed: set[str]) -> nodes.NodeData:
        data = nodes.NodeData(cfg, live if want_live else {})
        data.primaries = {"n1": ["i1"]}
        data.secondaries = {"n2": ["i1"]}
        return data

    return Resource("node", nodes.FIELDS, lambda d: sorted(d.cfg.nodes.values(), key=lambda n: n.name),
                    context, lambda n: n.name)  # fmt: skip


def run(d):
    result = []
    defer.Deferred.fromCoroutine(d).addBoth(result.append)
    assert result, "the query did not finish at once"
    if isinstance(result[0], Failure):
        result[0].raiseException()
    return result[0]


def test_node_roles_and_instance_counts():
    answer = run(_node_resource({}).query(["name", "role", "pinst_cnt", "sinst_list"]))
    assert plain_rows(answer) == [
        ["node1", "M", 1, []],
        ["node2", "D", 0, ["web1"]],
        ["node3", "O", 0, []],
    ]
    assert [f["title"] for f in answer["fields"]] == ["Node", "Role", "Pinst", "SecInstances"]


def test_live_fields_carry_a_status_per_node():
    hv = {"memory_total": 4096, "memory_free": 3000, "memory_dom0": 512, "cpu_total": 2,
          "cpu_nodes": 1, "cpu_sockets": 1}  # fmt: skip
    live = {
        "node1": NodeResult("node1", {"hv": {"fake": hv}, "disk_total": None}),
        "node2": NodeResult("node2", error="cannot connect"),
    }
    answer = run(_node_resource(live).query(["name", "mfree", "dtotal", "nosuch"]))
    assert answer["data"] == [
        [[0, "node1"], [0, 3000], [Status.NODATA, None], [Status.UNKNOWN, None]],
        [[0, "node2"], [Status.NODATA, None], [Status.NODATA, None], [Status.UNKNOWN, None]],
        [[0, "node3"], [Status.OFFLINE, None], [Status.OFFLINE, None], [Status.UNKNOWN, None]],
    ]
    assert answer["fields"][3]["kind"] == "unknown"


def test_filter_on_a_field_not_shown():
    answer = run(_node_resource({}).query(["name"], ["=", "role", "D"]))
    assert plain_rows(answer) == [["node2"]]


def test_unknown_names_fail_where_asked():
    resource = _node_resource({})
    with pytest.raises(OpPrereqError, match="node nodeX not known"):
        run(resource.query(["name"], names_filter(["nodeX"]), missing_ok=False, wanted=["nodeX"]))


def test_query_fields_lists_definitions():
    resource = _node_resource({})
    defs = resource.query_fields(["name", "bogus"])["fields"]
    assert defs[0] == {"name": "name", "title": "Node", "kind": "text", "doc": "Node name"}
    assert defs[1]["kind"] == "unknown"
    assert len(resource.query_fields(None)["fields"]) == len(nodes.FIELDS)


def test_group_fields():
    cfg = _config()

    class Master:
        config = cfg

    resource = groups.resource(Master())  # type: ignore[arg-type]
    answer = run(resource.query(["name", "node_cnt", "node_list", "pinst_cnt", "alloc_policy"]))
    assert plain_rows(answer) == [["default", 3, ["node1", "node2", "node3"], 1, "preferred"]]
