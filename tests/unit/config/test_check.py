"""Cross-object checks: each problem is reported with the object's name."""

from __future__ import annotations

import dataclasses

from corral.config.check import check_config
from corral.config.objects import Nic
from corral.plugins.kinds import DriverKind
from corral.plugins.registry import DriverRegistry


def with_instance(cfg, which, **changes):
    inst = cfg.instance_by_name(which)
    new = dataclasses.replace(inst, **changes)
    return dataclasses.replace(cfg, instances={**cfg.instances, inst.uuid: new})


def test_sample_is_sound(sample_config) -> None:
    assert check_config(sample_config) == []


def test_duplicate_names_and_macs(sample_config) -> None:
    web = sample_config.instance_by_name("web1.example.com")
    cfg = with_instance(sample_config, "db1.example.com", name="web1.example.com", nics=web.nics)
    problems = check_config(cfg)
    assert "instances[web1.example.com]: the name is used by more than one object" in problems
    assert "instances: MAC address aa:00:00:00:00:01 is used by more than one NIC" in problems


def test_unknown_references(sample_config) -> None:
    ghost = "99999999-0000-4000-8000-000000000000"
    cfg = with_instance(
        sample_config,
        "web1.example.com",
        secondary_nodes=(ghost,),
        nics=(
            Nic(
                uuid="00000000-0000-4000-8000-000000000039", mac="aa:00:00:00:00:09", network=ghost
            ),
        ),
    )
    problems = check_config(cfg)
    assert f"instances[web1.example.com].secondary_nodes: unknown node {ghost}" in problems
    assert f"instances[web1.example.com].nics[0].network: unknown network {ghost}" in problems


def test_primary_cannot_be_secondary(sample_config) -> None:
    web = sample_config.instance_by_name("web1.example.com")
    cfg = with_instance(sample_config, "web1.example.com", secondary_nodes=(web.primary_node,))
    assert check_config(cfg) == [
        "instances[web1.example.com].secondary_nodes: the primary node cannot be a secondary"
    ]


def test_disabled_hypervisor_and_template(sample_config) -> None:
    cfg = with_instance(sample_config, "web1.example.com", hypervisor="kvm", disk_template="plain")
    problems = check_config(cfg)
    assert "instances[web1.example.com].hypervisor: 'kvm' is not an enabled hypervisor" in problems
    assert (
        "instances[web1.example.com].disk_template: 'plain' is not an enabled disk template"
        in problems
    )


def test_disk_type_must_match_template(sample_config) -> None:
    db = sample_config.instance_by_name("db1.example.com")
    disk = dataclasses.replace(db.disks[0], dev_type="diskless")
    problems = check_config(with_instance(sample_config, "db1.example.com", disks=(disk,)))
    assert problems == [
        "instances[db1.example.com].disks[0].dev_type: 'diskless' differs from the instance's disk template 'file'"
    ]


def test_effective_beparams_are_checked(sample_config) -> None:
    # Each level is valid alone; together minmem ends above maxmem.
    cluster = dataclasses.replace(
        sample_config.cluster, beparams={"default": {"maxmem": 256, "minmem": 256}}
    )
    cfg = dataclasses.replace(sample_config, cluster=cluster)
    cfg = with_instance(cfg, "db1.example.com", beparams={"minmem": 1024})
    assert check_config(cfg) == [
        "instances[db1.example.com].beparams.minmem: minmem (1024) is larger than maxmem (256)"
    ]


def test_group_policy_std_outside_bounds(sample_config) -> None:
    group = next(iter(sample_config.nodegroups.values()))
    group = dataclasses.replace(group, ipolicy={"std": {"memory-size": 10**6}})
    cfg = dataclasses.replace(sample_config, nodegroups={group.uuid: group})
    assert check_config(cfg) == [
        "nodegroups[default].ipolicy.std: the standard spec lies outside every min/max range"
    ]


def test_plugin_parameters_need_the_plugin(sample_config) -> None:
    cluster = dataclasses.replace(
        sample_config.cluster, enabled_hypervisors=("nosuchhv",), hvparams={"kvm": {"x": 1}}
    )
    cfg = dataclasses.replace(sample_config, cluster=cluster)
    registry = DriverRegistry(enabled={DriverKind.HYPERVISOR: ["nosuchhv"]})
    problems = check_config(cfg, registry)
    assert (
        "cluster.hvparams.nosuchhv: hypervisor 'nosuchhv' is not installed: pip install corral-hv-nosuchhv"
        in problems
    )
    assert "cluster.hvparams.kvm: parameters for a hypervisor that is not enabled" in problems
