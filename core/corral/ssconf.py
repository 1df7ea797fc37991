"""ssconf: the few config facts every node keeps as one small file each.

Like Ganeti's ``/var/lib/ganeti/ssconf_<key>``, these let any node (and
any local tool) answer "who is the master", "which nodes are candidates"
without the full config, which only master candidates hold. The master
derives them from the config and pushes them to every node with each
change; a node writes a push only if its serial is not older than the
one it has.
"""

from __future__ import annotations

import os
import re
from typing import TYPE_CHECKING

from corral.atomicfile import fsync_dir
from corral.atomicfile import write_temporary

if TYPE_CHECKING:
    from pathlib import Path

    from corral.config.objects import ConfigData

PREFIX = "ssconf_"
_KEY = re.compile(r"^[a-z][a-z0-9_]*$")


def values_from_config(cfg: ConfigData) -> dict[str, str]:
    """The ssconf values (Ganeti's key names) for a config."""
    cluster = cfg.cluster
    nodes = sorted(cfg.nodes.values(), key=lambda n: n.name)
    master = cfg.nodes[cluster.master_node]
    candidates = [n for n in nodes if n.master_candidate]
    groups = sorted(cfg.nodegroups.values(), key=lambda g: g.name)
    return {
        "cluster_name": cluster.cluster_name,
        "cluster_tags": "\n".join(cluster.tags),
        "config_serial": str(cfg.serial_no),
        "master_node": master.name,
        "master_ip": cluster.master_ip,
        "master_netdev": cluster.master_netdev,
        "master_netmask": str(cluster.master_netmask),
        "master_candidates": "\n".join(n.name for n in candidates),
        "master_candidates_ips": "\n".join(f"{n.name} {n.primary_ip}" for n in candidates),
        "node_list": "\n".join(n.name for n in nodes),
        "node_primary_ips": "\n".join(f"{n.name} {n.primary_ip}" for n in nodes),
        "node_secondary_ips": "\n".join(
            f"{n.name} {n.secondary_ip or n.primary_ip}" for n in nodes
        ),
        "online_nodes": "\n".join(n.name for n in nodes if not n.offline),
        "nodegroups": "\n".join(f"{g.uuid} {g.name}" for g in groups),
        "primary_ip_family": str(cluster.primary_ip_family),
        "hypervisor_list": "\n".join(cluster.enabled_hypervisors),
        "enabled_disk_templates": "\n".join(cluster.enabled_disk_templates),
        "file_storage_dir": cluster.file_storage_dir,
        "shared_file_storage_dir": cluster.shared_file_storage_dir,
        "instance_list": "\n".join(sorted(i.name for i in cfg.instances.values())),
        "rpc_port": str(cluster.rpc_port),
    }


def read(directory: Path, key: str) -> str | None:
    """One value, or None if this node has none (it is not in a cluster yet)."""
    try:
        return (directory / f"{PREFIX}{key}").read_text().rstrip("\n")
    except FileNotFoundError:
        return None


def read_lines(directory: Path, key: str) -> list[str]:
    value = read(directory, key)
    return [line for line in (value or "").split("\n") if line]


def read_pairs(directory: Path, key: str) -> dict[str, str]:
    """A value of ``name value`` lines (``node_primary_ips``) as a mapping."""
    return dict(line.split(" ", 1) for line in read_lines(directory, key) if " " in line)


def serial(directory: Path) -> int:
    value = read(directory, "config_serial")
    return int(value) if value and value.isdigit() else 0


def write(directory: Path, values: dict[str, str]) -> int:
    """Write the values that changed, atomically each; return how many (blocking).

    Every changed file is written and synced first; then they are renamed
    into place, the serial last, and the directory synced once. A reader
    that sees a new serial sees every value of that config, and after a
    crash a (journaled) filesystem keeps the renames in their order.
    """
    for key in values:
        if not _KEY.match(key):
            raise ValueError(f"invalid ssconf key {key!r}")
    directory.mkdir(parents=True, exist_ok=True)
    due: list[tuple[Path, bytes]] = []
    for key, value in sorted(values.items()):
        if key == "config_serial":
            continue
        data = (value + "\n").encode()
        path = directory / f"{PREFIX}{key}"
        try:
            if path.read_bytes() == data:
                continue
        except FileNotFoundError:
            pass
        due.append((path, data))
    if "config_serial" in values:
        due.append(
            (directory / f"{PREFIX}config_serial", (values["config_serial"] + "\n").encode())
        )
    temporaries: list[tuple[Path, Path]] = []
    try:
        for path, data in due:
            temporaries.append((write_temporary(path, data, 0o644), path))
        for tmp, path in temporaries:
            os.replace(tmp, path)
    finally:
        for tmp, _ in temporaries:
            tmp.unlink(missing_ok=True)
    if due:
        fsync_dir(directory)
    return len(due)
