"""``gnt-cluster modify``: cluster-wide parameters and settings (OP_CLUSTER_SET_PARAMS).

Parameter dicts are merged into the cluster's, key by key, as in Ganeti
(a value of ``None`` removes a key, so the default shows through again),
typed by their owners' schemas; the whole result must pass the config
checks (an enabled hypervisor still used by an instance, for example, cannot
be disabled), or nothing changes.
"""

from __future__ import annotations

import dataclasses
import time
from typing import TYPE_CHECKING
from typing import Any

from corral.api.errors import OpPrereqError
from corral.cmdlib.base import LogicalUnit
from corral.cmdlib.node import fill_candidate_pool
from corral.config import typed
from corral.plugins.kinds import DriverKind
from corral.plugins.registry import load_driver_class

if TYPE_CHECKING:
    from collections.abc import Mapping

    from corral.config.objects import ConfigData

#: Settings taken as they are (after the opcode schema checked their types).
_SCALARS = (
    "candidate_pool_size", "max_running_jobs", "max_tracked_jobs", "maintain_node_health",
    "prealloc_wipe_disks", "default_iallocator", "mac_prefix", "master_netdev",
    "master_netmask", "modify_etc_hosts", "file_storage_dir", "shared_file_storage_dir",
)  # fmt: skip


def _given(values: Mapping[str, Any]) -> dict[str, Any]:
    """The values that set something (not the resets), for their schema to type."""
    return {k: v for k, v in values.items() if v is not None and v != "default"}


def merge(base: Mapping[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with ``changes`` applied; ``None`` (or ``"default"``) removes a key."""
    out = dict(base)
    for key, value in changes.items():
        if value is None or value == "default":
            out.pop(key, None)
        else:
            out[key] = value
    return out


class LUClusterSetParams(LogicalUnit):
    OP_ID = "OP_CLUSTER_SET_PARAMS"
    REQ_BGL = True

    def _changes(self, cfg: ConfigData) -> dict[str, Any]:
        op, cluster = self.op, cfg.cluster
        registry = self.master.registry
        changes: dict[str, Any] = {}
        for name in _SCALARS:
            value = getattr(op, name, None)
            if value is not None and value != getattr(cluster, name):
                changes[name] = value
        for name, kind in (("enabled_hypervisors", DriverKind.HYPERVISOR),
                           ("enabled_disk_templates", DriverKind.STORAGE)):  # fmt: skip
            value = getattr(op, name)
            if value:
                for driver in value:
                    load_driver_class(kind, driver)  # not installed: names the pip package
                changes[name] = tuple(value)
        hypervisors = changes.get("enabled_hypervisors", cluster.enabled_hypervisors)
        if op.hvparams:
            hvparams = {hv: dict(p) for hv, p in cluster.hvparams.items()}
            for hv, values in op.hvparams.items():
                if hv not in hypervisors:
                    raise OpPrereqError(f"hypervisor {hv} is not enabled: enable it first")
                loaded = typed.plugin(
                    registry, DriverKind.HYPERVISOR, hv,
                    _given(values), f"hvparams.{hv}",
                )  # fmt: skip
                hvparams[hv] = merge(hvparams.get(hv, {}), {**values, **loaded})
            changes["hvparams"] = hvparams
        for name in ("beparams", "nicparams"):
            values = getattr(op, name)
            if values:
                loaded = typed.core(name, _given(values), name)
                current = getattr(cluster, name)
                merged = merge(current.get("default", {}), {**values, **loaded})
                changes[name] = {**current, "default": merged}
        for name in ("ndparams", "ipolicy"):
            values = getattr(op, name)
            if values:
                loaded = typed.core(name, _given(values), name)
                changes[name] = merge(getattr(cluster, name), {**values, **loaded})
        if op.os_hvp:
            os_hvp = {name: {hv: dict(p) for hv, p in by_hv.items()}
                      for name, by_hv in cluster.os_hvp.items()}  # fmt: skip
            for os_name, by_hv in op.os_hvp.items():
                for hv, values in by_hv.items():
                    loaded = typed.plugin(registry, DriverKind.HYPERVISOR, hv, _given(values),
                                          f"os_hvp.{os_name}.{hv}")  # fmt: skip
                    mine = os_hvp.setdefault(os_name, {})
                    mine[hv] = merge(mine.get(hv, {}), {**values, **loaded})
            changes["os_hvp"] = {n: v for n, v in os_hvp.items() if any(v.values())}
        if op.osparams:
            osparams = {name: dict(p) for name, p in cluster.osparams.items()}
            for os_name, values in op.osparams.items():
                osparams[os_name] = merge(osparams.get(os_name, {}), values)
            changes["osparams"] = {n: v for n, v in osparams.items() if v}
        for name in ("hidden_os", "blacklisted_os"):
            edits = getattr(op, name)
            if edits:
                names = list(getattr(cluster, name))
                for action, os_name in edits:
                    if action == "add" and os_name not in names:
                        names.append(os_name)
                    elif action == "remove" and os_name in names:
                        names.remove(os_name)
                changes[name] = tuple(sorted(names))
        if "master_netdev" in changes or "master_netmask" in changes:
            self.feedback(
                "The cluster IP moves to the new device or netmask when the master daemon"
                " restarts (corral-daemon-util restart corral-masterd)"
            )
        return changes

    async def execute(self) -> Any:
        cfg = self.master.config
        changes = self._changes(cfg)
        if not changes:
            raise OpPrereqError("Please give at least one modification")
        now = time.time()

        def modify(cfg: ConfigData) -> ConfigData:
            cluster = dataclasses.replace(
                cfg.cluster, **changes, serial_no=cfg.cluster.serial_no + 1, mtime=now
            )
            new = dataclasses.replace(cfg, cluster=cluster)
            return fill_candidate_pool(new) if "candidate_pool_size" in changes else new

        registry = self.master.registry
        kinds = {"enabled_hypervisors": DriverKind.HYPERVISOR,
                 "enabled_disk_templates": DriverKind.STORAGE}  # fmt: skip
        before = {kind: registry.enabled(kind) for kind in kinds.values()}
        for name, kind in kinds.items():
            if name in changes:
                registry.set_enabled(kind, changes[name])
        try:
            await self.master.writer.update(modify, self.feedback)
        except BaseException:
            for kind, names in before.items():
                registry.set_enabled(kind, names)
            raise
        return sorted(changes)
