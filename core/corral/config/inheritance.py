"""Parameter inheritance: which value an object really gets.

The chains are Ganeti's:

============  =====================================================================
hvparams      plugin defaults < cluster.hvparams[hv] < cluster.os_hvp[os][hv] < instance
beparams      core defaults < cluster.beparams["default"] < instance
osparams      cluster.osparams[os name] < cluster.osparams[os+variant] < instance
nicparams     core defaults < cluster.nicparams["default"] < group's network link < NIC
ndparams      core defaults < cluster < node group < node
diskparams    plugin defaults < cluster.diskparams[template] < group.diskparams[template]
ipolicy       core defaults < cluster < node group (``minmax`` replaced whole, ``std`` merged)
============  =====================================================================

Each level holds only the keys set there, so changing a cluster default
reaches every object that does not override it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from typing import Any

from corral.api.params import param_defaults
from corral.config.params import BeParams
from corral.config.params import IPolicy
from corral.config.params import NdParams
from corral.config.params import NicParams

if TYPE_CHECKING:
    from collections.abc import Mapping

    from corral.config.objects import Cluster
    from corral.config.objects import Instance
    from corral.config.objects import Nic
    from corral.config.objects import Node
    from corral.config.objects import NodeGroup


def fill(*levels: Mapping[str, Any] | None) -> dict[str, Any]:
    """Merge parameter dicts, later levels winning key by key."""
    out: dict[str, Any] = {}
    for level in levels:
        if level:
            out.update(level)
    return out


def effective_hvparams(
    cluster: Cluster, hypervisor: str, os_name: str | None, own: Mapping[str, Any] | None,
    plugin_defaults: Mapping[str, Any],
) -> dict[str, Any]:  # fmt: skip
    """Hypervisor parameters for an instance of ``os_name`` on ``hypervisor``."""
    by_os = cluster.os_hvp.get(os_name, {}) if os_name else {}
    return fill(plugin_defaults, cluster.hvparams.get(hypervisor), by_os.get(hypervisor), own)


def instance_hvparams(
    cluster: Cluster, instance: Instance, plugin_defaults: Mapping[str, Any]
) -> dict[str, Any]:
    return effective_hvparams(
        cluster, instance.hypervisor, instance.os, instance.hvparams, plugin_defaults
    )


def effective_beparams(cluster: Cluster, instance: Instance | None) -> dict[str, Any]:
    """Backend parameters of ``instance`` (or the cluster default when ``None``)."""
    own = instance.beparams if instance is not None else None
    return fill(param_defaults(BeParams), cluster.beparams.get("default"), own)


def effective_osparams(cluster: Cluster, instance: Instance) -> dict[str, Any]:
    base_name = instance.os.split("+", 1)[0]
    return fill(
        cluster.osparams.get(base_name), cluster.osparams.get(instance.os), instance.osparams
    )


def effective_nicparams(
    cluster: Cluster, nic: Nic | None, group: NodeGroup | None = None
) -> dict[str, Any]:
    """NIC parameters; a NIC on a network takes the link its node group gives that network."""
    via_network = None
    if nic is not None and nic.network is not None and group is not None:
        via_network = group.networks.get(nic.network)
    own = nic.nicparams if nic is not None else None
    return fill(param_defaults(NicParams), cluster.nicparams.get("default"), via_network, own)


def effective_ndparams(
    cluster: Cluster, group: NodeGroup | None, node: Node | None
) -> dict[str, Any]:
    return fill(
        param_defaults(NdParams),
        cluster.ndparams,
        group.ndparams if group is not None else None,
        node.ndparams if node is not None else None,
    )


def effective_diskparams(
    cluster: Cluster, group: NodeGroup | None, template: str, plugin_defaults: Mapping[str, Any]
) -> dict[str, Any]:
    own = group.diskparams.get(template) if group is not None else None
    return fill(plugin_defaults, cluster.diskparams.get(template), own)


def effective_ipolicy(cluster: Cluster, group: NodeGroup | None) -> dict[str, Any]:
    """The instance policy of ``group`` (or of the cluster when ``None``).

    ``std`` is merged key by key; every other key, ``minmax`` included, is
    replaced whole by the lower level, as in Ganeti.
    """
    policy = param_defaults(IPolicy)
    for level in (cluster.ipolicy, group.ipolicy if group is not None else None):
        for key, value in (level or {}).items():
            policy[key] = fill(policy["std"], value) if key == "std" else value
    return policy
