"""Property: parameter inheritance follows Ganeti's chains, lower levels winning key by key."""

from __future__ import annotations

import dataclasses

from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from corral.config import inheritance as inh
from corral.config.params import ISPECS_MIN
from corral.testing.strategies import configs

keys = st.sampled_from(["a", "b", "c", "d"])
levels = st.lists(st.dictionaries(keys, st.integers()), min_size=1, max_size=5)


@given(levels)
def test_fill_takes_each_key_from_the_lowest_level_that_sets_it(dicts) -> None:
    merged = inh.fill(*dicts)
    for key in {k for d in dicts for k in d}:
        assert merged[key] == next(d[key] for d in reversed(dicts) if key in d)
    assert set(merged) == {k for d in dicts for k in d}


@settings(max_examples=50, deadline=None)
@given(
    configs(),
    st.dictionaries(st.sampled_from(["x", "y"]), st.integers()),
    st.integers(),
    st.integers(),
)
def test_hvparams_chain(cfg, plugin_defaults, cluster_value, os_value) -> None:
    for inst in cfg.instances.values():
        cluster = dataclasses.replace(
            cfg.cluster,
            hvparams={inst.hypervisor: {"x": cluster_value}},
            os_hvp={inst.os: {inst.hypervisor: {"y": os_value}}},
        )
        eff = inh.instance_hvparams(cluster, inst, plugin_defaults)
        assert eff["x"] == inst.hvparams.get("x", cluster_value)
        assert eff["y"] == inst.hvparams.get("y", os_value)
        for key, value in plugin_defaults.items():
            if key not in ("x", "y") and key not in inst.hvparams:
                assert eff[key] == value


@settings(max_examples=50, deadline=None)
@given(configs())
def test_beparams_instance_over_cluster_over_defaults(cfg) -> None:
    defaults = inh.effective_beparams(dataclasses.replace(cfg.cluster, beparams={}), None)
    assert defaults == {
        "maxmem": 128,
        "minmem": 128,
        "vcpus": 1,
        "spindle_use": 1,
        "always_failover": False,
        "auto_balance": True,
    }  # fmt: skip  (Ganeti's BEC_DEFAULTS)
    for inst in cfg.instances.values():
        eff = inh.effective_beparams(cfg.cluster, inst)
        for key in defaults:
            expected = inst.beparams.get(
                key, cfg.cluster.beparams["default"].get(key, defaults[key])
            )
            assert eff[key] == expected


@settings(max_examples=50, deadline=None)
@given(configs())
def test_ndparams_node_over_group_over_cluster(cfg) -> None:
    for node in cfg.nodes.values():
        group = cfg.nodegroups[node.group]
        eff = inh.effective_ndparams(cfg.cluster, group, node)
        for key, value in eff.items():
            for level in (node.ndparams, group.ndparams, cfg.cluster.ndparams):
                if key in level:
                    assert value == level[key]
                    break


@settings(max_examples=50, deadline=None)
@given(configs())
def test_nicparams_nic_over_group_network_over_cluster(cfg) -> None:
    for inst in cfg.instances.values():
        group = cfg.nodegroups[cfg.nodes[inst.primary_node].group]
        for nic in inst.nics:
            eff = inh.effective_nicparams(cfg.cluster, nic, group)
            via = group.networks.get(nic.network, {}) if nic.network else {}
            for key, value in eff.items():
                for level in (nic.nicparams, via, cfg.cluster.nicparams["default"]):
                    if key in level:
                        assert value == level[key]
                        break


def test_osparams_variant_over_base_name(sample_config) -> None:
    cluster = dataclasses.replace(
        sample_config.cluster,
        osparams={
            "debootstrap": {"suite": "bookworm", "arch": "amd64"},
            "debootstrap+default": {"suite": "trixie"},
        },
    )
    db = sample_config.instance_by_name("db1.example.com")
    db = dataclasses.replace(db, osparams={"arch": "arm64"})
    assert inh.effective_osparams(cluster, db) == {"suite": "trixie", "arch": "arm64"}


def test_ipolicy_minmax_replaced_whole_std_merged(sample_config) -> None:
    group = next(iter(sample_config.nodegroups.values()))
    small = {"min": dict(ISPECS_MIN), "max": {**ISPECS_MIN, "memory-size": 4096}}
    cluster = dataclasses.replace(
        sample_config.cluster, ipolicy={"vcpu-ratio": 2.0, "std": {"cpu-count": 2}}
    )
    group = dataclasses.replace(group, ipolicy={"minmax": [small], "std": {"memory-size": 512}})
    eff = inh.effective_ipolicy(cluster, group)
    assert eff["minmax"] == [small]
    assert eff["std"] == {**ISPECS_MIN, "cpu-count": 2, "memory-size": 512}
    assert eff["vcpu-ratio"] == 2.0
    assert eff["spindle-ratio"] == 32.0


def test_diskparams_group_over_cluster_over_plugin(sample_config) -> None:
    group = dataclasses.replace(
        next(iter(sample_config.nodegroups.values())), diskparams={"file": {"b": 3}}
    )
    cluster = dataclasses.replace(sample_config.cluster, diskparams={"file": {"a": 2, "b": 2}})
    assert inh.effective_diskparams(cluster, group, "file", {"a": 1, "b": 1, "c": 1}) == {
        "a": 2,
        "b": 3,
        "c": 1,
    }
