"""Checks on a whole config that no single field's schema can make.

References between objects, unique names, enabled plugins, plugin-owned
parameters (when a driver registry is at hand) and the
``corral_config_validate`` hook. Every problem is collected, so an operator
sees them all at once, each as ``path: problem`` with objects named.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING
from typing import Any

from corral.api.errors import ParameterError
from corral.api.errors import PluginError
from corral.api.params import validate_params
from corral.config.inheritance import effective_beparams
from corral.config.inheritance import effective_ipolicy
from corral.config.params import BeParams
from corral.config.params import check_std_within_bounds
from corral.plugins.kinds import DriverKind

if TYPE_CHECKING:
    from collections.abc import Iterable
    from collections.abc import Mapping

    import pluggy

    from corral.config.objects import Cluster
    from corral.config.objects import ConfigData
    from corral.config.objects import Instance
    from corral.plugins.registry import DriverRegistry


class CheckMemo:
    """Per-instance results of an earlier check, for configs that change a little at a time.

    An instance's parameter checks depend only on the instance and the
    cluster object; both are immutable, so while neither was replaced the
    earlier answer holds. The master's config writer keeps one memo, which
    makes checking a 10,000-instance config after one change cheap.
    """

    def __init__(self) -> None:
        self._results: dict[str, tuple[Cluster, Instance, list[str]]] = {}

    def instance(
        self, cluster: Cluster, inst: Instance, registry: DriverRegistry | None
    ) -> list[str]:
        cached = self._results.get(inst.uuid)
        if cached is not None and cached[0] is cluster and cached[1] is inst:
            return cached[2]
        problems = _instance_params(cluster, inst, registry)
        self._results[inst.uuid] = (cluster, inst, problems)
        return problems

    def forget_missing(self, cfg: ConfigData) -> None:
        for uuid in self._results.keys() - cfg.instances.keys():
            del self._results[uuid]


def check_config(
    cfg: ConfigData,
    registry: DriverRegistry | None = None,
    pm: pluggy.PluginManager | None = None,
    memo: CheckMemo | None = None,
) -> list[str]:
    """Every problem with ``cfg`` (empty when it is sound)."""
    problems: list[str] = []
    problems += _check_keys_and_names(cfg)
    problems += _check_references(cfg)
    problems += _check_policies(cfg)
    if registry is not None:
        problems += _check_plugin_params(cfg, registry)
    if memo is None:
        memo = CheckMemo()
    else:
        memo.forget_missing(cfg)
    for inst in cfg.instances.values():
        problems += memo.instance(cfg.cluster, inst, registry)
    if pm is not None:
        for result in pm.hook.corral_config_validate(config=cfg):
            problems += list(result or [])
    return problems


def _dupes(names: Iterable[str]) -> list[str]:
    return sorted(name for name, count in Counter(names).items() if count > 1)


def _check_keys_and_names(cfg: ConfigData) -> list[str]:
    problems = []
    collections: dict[str, Mapping[str, Any]] = {
        "nodegroups": cfg.nodegroups,
        "nodes": cfg.nodes,
        "instances": cfg.instances,
        "networks": cfg.networks,
    }
    for kind, objs in collections.items():
        for key, obj in objs.items():
            if key != obj.uuid:
                problems.append(
                    f"{kind}[{obj.name}]: stored under key {key} but its uuid is {obj.uuid}"
                )
        for name in _dupes(obj.name for obj in objs.values()):
            problems.append(f"{kind}[{name}]: the name is used by more than one object")
    macs = [nic.mac for inst in cfg.instances.values() for nic in inst.nics]
    for mac in _dupes(macs):
        problems.append(f"instances: MAC address {mac} is used by more than one NIC")
    disk_ids = [disk.uuid for inst in cfg.instances.values() for disk in inst.disks]
    for uuid in _dupes(disk_ids):
        problems.append(f"instances: disk uuid {uuid} is used by more than one disk")
    return problems


def _check_references(cfg: ConfigData) -> list[str]:
    problems = []
    cluster = cfg.cluster
    if cluster.master_node not in cfg.nodes:
        problems.append(f"cluster.master_node: unknown node {cluster.master_node}")
    for node in cfg.nodes.values():
        if node.group not in cfg.nodegroups:
            problems.append(f"nodes[{node.name}].group: unknown node group {node.group}")
    for group in cfg.nodegroups.values():
        for net in group.networks:
            if net not in cfg.networks:
                problems.append(f"nodegroups[{group.name}].networks: unknown network {net}")
    for inst in cfg.instances.values():
        where = f"instances[{inst.name}]"
        if inst.primary_node not in cfg.nodes:
            problems.append(f"{where}.primary_node: unknown node {inst.primary_node}")
        for snode in inst.secondary_nodes:
            if snode not in cfg.nodes:
                problems.append(f"{where}.secondary_nodes: unknown node {snode}")
            elif snode == inst.primary_node:
                problems.append(f"{where}.secondary_nodes: the primary node cannot be a secondary")
        if inst.hypervisor not in cluster.enabled_hypervisors:
            problems.append(f"{where}.hypervisor: {inst.hypervisor!r} is not an enabled hypervisor")
        if inst.disk_template not in cluster.enabled_disk_templates:
            problems.append(
                f"{where}.disk_template: {inst.disk_template!r} is not an enabled disk template"
            )
        for idx, disk in enumerate(inst.disks):
            if disk.dev_type != inst.disk_template:
                problems.append(
                    f"{where}.disks[{idx}].dev_type: {disk.dev_type!r} differs from the"
                    f" instance's disk template {inst.disk_template!r}"
                )
        for idx, nic in enumerate(inst.nics):
            if nic.network is not None and nic.network not in cfg.networks:
                problems.append(f"{where}.nics[{idx}].network: unknown network {nic.network}")
    return problems


def _check_policies(cfg: ConfigData) -> list[str]:
    problems = []
    cluster_policy = effective_ipolicy(cfg.cluster, None)
    problems += [f"cluster.ipolicy.{p}" for p in check_std_within_bounds(cluster_policy)]
    for group in cfg.nodegroups.values():
        policy = effective_ipolicy(cfg.cluster, group)
        problems += [
            f"nodegroups[{group.name}].ipolicy.{p}" for p in check_std_within_bounds(policy)
        ]
    try:
        validate_params(BeParams, effective_beparams(cfg.cluster, None), where="cluster.beparams")
    except ParameterError as err:
        problems += [f"{path}: {'; '.join(m)}" for path, m in err.errors.items()]
    return problems


def _instance_params(
    cluster: Cluster, inst: Instance, registry: DriverRegistry | None
) -> list[str]:
    """The backend and (with a registry) hypervisor parameters of one instance."""
    problems: list[str] = []
    try:
        validate_params(
            BeParams, effective_beparams(cluster, inst), where=f"instances[{inst.name}].beparams"
        )
    except ParameterError as err:
        problems += [f"{path}: {'; '.join(m)}" for path, m in err.errors.items()]
    if registry is not None and inst.hypervisor in cluster.enabled_hypervisors:
        where = f"instances[{inst.name}].hvparams"
        try:
            registry.driver_class(DriverKind.HYPERVISOR, inst.hypervisor).check_params(
                inst.hvparams, where=where
            )
        except PluginError as err:
            problems.append(f"{where}: {err}")
        except ParameterError as err:
            problems.extend(f"{path}: {'; '.join(m)}" for path, m in err.errors.items())
    return problems


def _check_plugin_params(cfg: ConfigData, registry: DriverRegistry) -> list[str]:
    """Plugin-owned parameters, checked with each plugin's own schema."""
    problems: list[str] = []

    def check(kind: DriverKind, name: str, values: Mapping[str, Any], where: str) -> None:
        try:
            registry.driver_class(kind, name).check_params(values, where=where)
        except PluginError as err:
            problems.append(f"{where}: {err}")
        except ParameterError as err:
            problems.extend(f"{path}: {'; '.join(m)}" for path, m in err.errors.items())

    cluster = cfg.cluster
    for hv in cluster.enabled_hypervisors:
        check(DriverKind.HYPERVISOR, hv, cluster.hvparams.get(hv, {}), f"cluster.hvparams.{hv}")
    for hv in sorted(set(cluster.hvparams) - set(cluster.enabled_hypervisors)):
        problems.append(f"cluster.hvparams.{hv}: parameters for a hypervisor that is not enabled")
    for template in cluster.enabled_disk_templates:
        check(
            DriverKind.STORAGE,
            template,
            cluster.diskparams.get(template, {}),
            f"cluster.diskparams.{template}",
        )
    for os_name, by_hv in cluster.os_hvp.items():
        for hv, values in by_hv.items():
            if hv in cluster.enabled_hypervisors:
                check(DriverKind.HYPERVISOR, hv, values, f"cluster.os_hvp.{os_name}.{hv}")
    for group in cfg.nodegroups.values():
        for template, values in group.diskparams.items():
            if template in cluster.enabled_disk_templates:
                check(
                    DriverKind.STORAGE,
                    template,
                    values,
                    f"nodegroups[{group.name}].diskparams.{template}",
                )
    return problems
