"""Cluster-wide answers: ``QueryClusterInfo``, ``QueryConfigValues`` and ``QueryTags``."""

from __future__ import annotations

import platform
from typing import TYPE_CHECKING
from typing import Any

from corral import __version__
from corral.api.errors import OpPrereqError
from corral.config.inheritance import effective_beparams
from corral.config.inheritance import effective_hvparams
from corral.config.inheritance import effective_ipolicy
from corral.config.inheritance import effective_ndparams
from corral.config.inheritance import effective_nicparams
from corral.config.objects import CONFIG_VERSION
from corral.plugins.kinds import DriverKind
from corral.rpc.protocol import PROTOCOL_VERSION

if TYPE_CHECKING:
    from collections.abc import Callable

    from corral.config.objects import ConfigData
    from corral.config.objects import Taggable
    from corral.masterd.context import MasterContext

#: The OS API versions corral's OS runner speaks (Ganeti's current one).
OS_API_VERSION = 20


def cluster_info(master: MasterContext) -> dict[str, Any]:
    """What ``gnt-cluster info`` shows, under Ganeti's key names."""
    cfg = master.config
    cluster = cfg.cluster
    hvparams = {}
    for hv in cluster.enabled_hypervisors:
        defaults = master.registry.driver_class(DriverKind.HYPERVISOR, hv).param_defaults()
        hvparams[hv] = effective_hvparams(cluster, hv, None, None, defaults)
    return {
        "software_version": __version__,
        "protocol_version": PROTOCOL_VERSION,
        "config_version": CONFIG_VERSION,
        "os_api_version": OS_API_VERSION,
        "export_version": 0,
        "vcs_version": f"corral {__version__}",
        "architecture": [platform.architecture()[0], platform.machine()],
        "name": cluster.cluster_name,
        "master": cfg.nodes[cluster.master_node].name,
        "default_hypervisor": cluster.enabled_hypervisors[0],
        "enabled_hypervisors": list(cluster.enabled_hypervisors),
        "hvparams": hvparams,
        "os_hvp": {os: dict(hvs) for os, hvs in cluster.os_hvp.items()},
        "beparams": {"default": effective_beparams(cluster, None)},
        "osparams": {os: dict(p) for os, p in cluster.osparams.items()},
        "nicparams": {"default": effective_nicparams(cluster, None)},
        "ndparams": effective_ndparams(cluster, None, None),
        "diskparams": {t: dict(p) for t, p in cluster.diskparams.items()},
        "ipolicy": effective_ipolicy(cluster, None),
        "candidate_pool_size": cluster.candidate_pool_size,
        "max_running_jobs": cluster.max_running_jobs,
        "max_tracked_jobs": cluster.max_tracked_jobs,
        "master_ip": cluster.master_ip,
        "master_netdev": cluster.master_netdev,
        "master_netmask": cluster.master_netmask,
        "use_external_mip_script": False,
        "volume_group_name": None,
        "drbd_usermode_helper": None,
        "file_storage_dir": cluster.file_storage_dir,
        "shared_file_storage_dir": cluster.shared_file_storage_dir,
        "maintain_node_health": cluster.maintain_node_health,
        "ctime": cluster.ctime,
        "mtime": cluster.mtime,
        "uuid": cluster.uuid,
        "tags": sorted(cluster.tags),
        "uid_pool": [],
        "default_iallocator": cluster.default_iallocator or "",
        "default_iallocator_params": dict(cluster.default_iallocator_params),
        "reserved_lvs": [],
        "primary_ip_version": cluster.primary_ip_family,
        "prealloc_wipe_disks": cluster.prealloc_wipe_disks,
        "hidden_os": list(cluster.hidden_os),
        "blacklisted_os": list(cluster.blacklisted_os),
        "enabled_disk_templates": list(cluster.enabled_disk_templates),
        "modify_etc_hosts": cluster.modify_etc_hosts,
        "data_collectors": {k: dict(v) for k, v in cluster.data_collectors.items()},
        "rpc_port": cluster.rpc_port,
        "serial_no": cfg.serial_no,
    }


def config_values(
    master: MasterContext, names: Any, drained: bool, watcher_pause: float | None
) -> list[Any]:
    """``QueryConfigValues``: a few named facts, in the order asked."""
    cfg = master.config
    values = {
        "cluster_name": cfg.cluster.cluster_name,
        "master_node": cfg.nodes[cfg.cluster.master_node].name,
        "drain_flag": drained,
        "watcher_pause": watcher_pause,
        "master_netdev": cfg.cluster.master_netdev,
        "modify_etc_hosts": cfg.cluster.modify_etc_hosts,
        "config_serial": cfg.serial_no,
    }
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise OpPrereqError("QueryConfigValues takes a list of value names")
    unknown = [n for n in names if n not in values]
    if unknown:
        raise OpPrereqError(
            f"unknown config value(s) {', '.join(unknown)}; known: {', '.join(values)}"
        )
    return [values[n] for n in names]


def tags(cfg: ConfigData, kind: Any, name: Any) -> list[str]:
    """``QueryTags``: the tags of the cluster or of one named object."""
    if kind == "cluster":
        return sorted(cfg.cluster.tags)
    found: Taggable | None
    lookups: dict[str, Callable[[str], Taggable | None]] = {
        "node": cfg.node_by_name,
        "instance": cfg.instance_by_name,
        "nodegroup": cfg.group_by_name,
    }
    if kind == "network":
        found = next((n for n in cfg.networks.values() if n.name == name), None)
    elif kind in lookups:
        found = lookups[kind](str(name))
    else:
        raise OpPrereqError(
            f"unknown tag kind {kind!r} (cluster, node, instance, nodegroup or network)"
        )
    if found is None:
        raise OpPrereqError(f"{kind} {name!r} not known")
    return sorted(found.tags)
