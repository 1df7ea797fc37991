"""A node's own side of cluster membership: create a cluster, join one, destroy it.

``gnt-cluster init`` makes the cluster CA and this node's certificate,
writes the first config (the cluster, its default node group and this node
as master) and the ssconf files, and starts the node and master daemons.
Anything that fails on the way is undone: no half-made cluster stays
behind to confuse the next attempt.
"""

from __future__ import annotations

import contextlib
import hmac
import os
import shutil
import ssl
import time
import uuid
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path
from typing import TYPE_CHECKING
from typing import Any

from corral import daemonctl
from corral import ssconf
from corral.api.errors import ConfigError
from corral.api.errors import OpPrereqError
from corral.atomicfile import write_atomically
from corral.config import objects as o
from corral.config import typed
from corral.config.store import ConfigStore
from corral.crypto.ca import ClusterCA
from corral.crypto.ca import common_name
from corral.crypto.ca import fingerprint
from corral.crypto.ca import load_certificate
from corral.crypto.ca import make_csr
from corral.crypto.jointoken import JoinToken
from corral.paths import ca_cert_file
from corral.paths import ca_key_file
from corral.paths import config_file
from corral.paths import data_dir
from corral.paths import node_cert_file
from corral.paths import node_local
from corral.paths import queue_dir
from corral.paths import ssconf_dir
from corral.plugins.kinds import DriverKind
from corral.plugins.registry import DriverRegistry
from corral.rpc.blocking import connect
from corral.rpc.blocking import post

if TYPE_CHECKING:
    from collections.abc import Callable

DEFAULT_GROUP = "default"


@dataclass
class InitOptions:
    """What ``gnt-cluster init`` was asked for (Ganeti's options, where they apply)."""

    cluster_name: str
    node_name: str
    master_ip: str
    primary_ip: str
    secondary_ip: str | None = None
    master_netdev: str = "eth0"
    master_netmask: int = 32
    mac_prefix: str = "aa:00:00"
    enabled_hypervisors: tuple[str, ...] = ("fake",)
    enabled_disk_templates: tuple[str, ...] = ("diskless", "file")
    hvparams: dict[str, dict[str, Any]] = field(default_factory=dict)
    beparams: dict[str, Any] = field(default_factory=dict)
    nicparams: dict[str, Any] = field(default_factory=dict)
    ndparams: dict[str, Any] = field(default_factory=dict)
    file_storage_dir: str = "/srv/corral/file-storage"
    shared_file_storage_dir: str = "/srv/corral/shared-file-storage"
    default_iallocator: str | None = None
    candidate_pool_size: int = 10
    maintain_node_health: bool = False
    prealloc_wipe_disks: bool = False
    modify_etc_hosts: bool = True
    rpc_port: int = 1811


def already_member() -> Path | None:
    """The file that shows this node belongs to a cluster, if one does."""
    for path in (config_file(), node_cert_file(), ca_cert_file()):
        if path.exists():
            return path
    return None


def initial_config(opts: InitOptions, now: float) -> o.ConfigData:
    group = o.NodeGroup(uuid=str(uuid.uuid4()), name=DEFAULT_GROUP, ctime=now, mtime=now)
    node = o.Node(
        uuid=str(uuid.uuid4()),
        name=opts.node_name,
        primary_ip=opts.primary_ip,
        secondary_ip=opts.secondary_ip,
        group=group.uuid,
        master_candidate=True,
        ctime=now,
        mtime=now,
    )
    cluster = o.Cluster(
        uuid=str(uuid.uuid4()),
        cluster_name=opts.cluster_name,
        master_node=node.uuid,
        master_ip=opts.master_ip,
        master_netdev=opts.master_netdev,
        master_netmask=opts.master_netmask,
        mac_prefix=opts.mac_prefix,
        enabled_hypervisors=opts.enabled_hypervisors,
        enabled_disk_templates=opts.enabled_disk_templates,
        default_iallocator=opts.default_iallocator,
        hvparams={hv: dict(opts.hvparams.get(hv, {})) for hv in opts.enabled_hypervisors},
        beparams={"default": dict(opts.beparams)},
        nicparams={"default": dict(opts.nicparams)},
        ndparams=dict(opts.ndparams),
        file_storage_dir=opts.file_storage_dir,
        shared_file_storage_dir=opts.shared_file_storage_dir,
        candidate_pool_size=opts.candidate_pool_size,
        maintain_node_health=opts.maintain_node_health,
        prealloc_wipe_disks=opts.prealloc_wipe_disks,
        modify_etc_hosts=opts.modify_etc_hosts,
        rpc_port=opts.rpc_port,
        ctime=now,
        mtime=now,
    )
    return o.ConfigData(
        cluster=cluster,
        nodegroups={group.uuid: group},
        nodes={node.uuid: node},
        ctime=now,
        mtime=now,
    )


def init_cluster(opts: InitOptions, feedback: Callable[[str], None]) -> o.ConfigData:
    """Make this node the master of a new one-node cluster (blocking; for the CLI)."""
    member = already_member()
    if member is not None:
        raise OpPrereqError(
            f"this node is already part of a cluster ({member} exists):"
            " run 'gnt-cluster destroy --yes-do-it' on its master first"
        )
    unknown = [hv for hv in opts.hvparams if hv not in opts.enabled_hypervisors]
    if unknown:
        raise OpPrereqError(
            f"hypervisor parameters given for {', '.join(unknown)}, which is not enabled"
            " (--enabled-hypervisors)"
        )
    registry = DriverRegistry(
        enabled={
            DriverKind.HYPERVISOR: opts.enabled_hypervisors,
            DriverKind.STORAGE: opts.enabled_disk_templates,
        }
    )
    registry.load_enabled()  # a missing plugin names its pip distribution
    opts.hvparams = {
        hv: typed.plugin(registry, DriverKind.HYPERVISOR, hv, values, f"hvparams.{hv}")
        for hv, values in opts.hvparams.items()
    }
    opts.beparams = typed.core("beparams", opts.beparams, "beparams")
    opts.nicparams = typed.core("nicparams", opts.nicparams, "nicparams")
    opts.ndparams = typed.core("ndparams", opts.ndparams, "ndparams")
    cfg = initial_config(opts, time.time())
    store = ConfigStore(config_file())
    created: list[Path] = []
    fresh_queue = not queue_dir().exists()
    try:
        feedback("Creating the cluster CA and this node's certificate")
        ca = ClusterCA.create(opts.cluster_name)
        node_pem = ca.issue(opts.node_name, [opts.primary_ip])
        data_dir().mkdir(parents=True, exist_ok=True)
        for path, data, mode in (
            (ca_cert_file(), ca.cert_pem, 0o644),
            (ca_key_file(), ca.key_pem, 0o600),
            (node_cert_file(), node_pem, 0o600),
        ):
            created.append(path)
            write_atomically(path, data, mode)
        feedback("Writing the cluster configuration")
        created.append(config_file())
        try:
            store.save(cfg, registry)
        except ConfigError as err:
            raise OpPrereqError(f"the cluster parameters are not valid: {err}") from None
        ssconf.write(ssconf_dir(), ssconf.values_from_config(cfg))
        if "file" in opts.enabled_disk_templates:
            Path(node_local(opts.file_storage_dir)).mkdir(mode=0o750, parents=True, exist_ok=True)
        feedback("Starting the node daemon")
        daemonctl.start("corral-noded", ["--bind", opts.primary_ip])
        feedback("Starting the master daemon")
        daemonctl.start("corral-masterd")
    except BaseException:
        _undo(created, fresh_queue)
        raise
    return cfg


def _undo(created: list[Path], fresh_queue: bool) -> None:
    for name in ("corral-masterd", "corral-noded"):
        with contextlib.suppress(Exception):
            daemonctl.stop(name)
    for path in created:
        path.unlink(missing_ok=True)
    _remove_state(queue=fresh_queue)


def _remove_state(queue: bool = True) -> None:
    """ssconf files and the job queue (what a former cluster leaves besides its files)."""
    directory = ssconf_dir()
    if directory.is_dir():
        for entry in directory.iterdir():
            if entry.name.startswith(ssconf.PREFIX):
                entry.unlink()
    if queue and queue_dir().is_dir():
        shutil.rmtree(queue_dir())
    pause = data_dir() / "watcher.pause"
    pause.unlink(missing_ok=True)


def destroy_local(feedback: Callable[[str], None]) -> None:
    """Stop the daemons and remove every trace of the cluster from this node."""
    for name in ("corral-masterd", "corral-noded"):
        if daemonctl.stop(name):
            feedback(f"Stopped {name}")
    for path in (config_file(), node_cert_file(), ca_key_file(), ca_cert_file()):
        path.unlink(missing_ok=True)
    _remove_state()
    with contextlib.suppress(OSError):
        os.rmdir(data_dir())


# -- joining a cluster ------------------------------------------------------------------


def join_cluster(
    token_text: str, primary_ip: str, node_name: str, feedback: Callable[[str], None]
) -> str:
    """Get this node a certificate with a join token and start its node daemon.

    The CA the master presents must have the fingerprint the token carries;
    only then is anything sent, and the second connection verifies the
    master's certificate against that CA and the master's name.
    """
    token = JoinToken.decode(token_text)
    if token.node_name != node_name:
        raise OpPrereqError(
            f"this join token is for node {token.node_name}, but this node is {node_name}"
        )
    member = already_member()
    if member is not None:
        raise OpPrereqError(f"this node is already part of a cluster ({member} exists)")
    feedback(f"Checking the cluster CA of master {token.master_name} ({token.master_address})")
    unverified = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    unverified.check_hostname = False
    unverified.verify_mode = ssl.CERT_NONE  # only to read the CA; it is checked by its hash next
    with connect(token.master_address, token.port, unverified, None) as sock:
        ca_pem = str(post(sock, token.master_name, "ca", {}))
    ca = load_certificate(ca_pem.encode(), "the master's cluster CA")
    if not hmac.compare_digest(fingerprint(ca), token.ca_fingerprint):
        raise OpPrereqError(
            "the master presented a cluster CA that does not match the join token: this is not"
            " the cluster the token came from (or someone is in between); nothing was sent"
        )
    verified = ssl.create_default_context(cadata=ca_pem)
    verified.check_hostname = True
    key_pem, csr_pem = make_csr(node_name)
    feedback("Asking the master to sign this node's certificate")
    with connect(token.master_address, token.port, verified, token.master_name) as sock:
        answer = post(
            sock,
            token.master_name,
            "join",
            {"secret": token.secret, "node_name": node_name, "csr": csr_pem.decode(),
             "addresses": [primary_ip]},
        )  # fmt: skip
    cert = load_certificate(answer["cert"].encode(), "the certificate the master signed")
    if not ClusterCA(ca).signed(cert) or common_name(cert) != node_name:
        raise OpPrereqError("the master sent a certificate that is not for this node")
    created: list[Path] = []
    try:
        data_dir().mkdir(parents=True, exist_ok=True)
        for path, data, mode in (
            (ca_cert_file(), ca_pem.encode(), 0o644),
            (node_cert_file(), key_pem + answer["cert"].encode(), 0o600),
        ):
            created.append(path)
            write_atomically(path, data, mode)
        feedback("Starting the node daemon")
        daemonctl.start("corral-noded", ["--bind", primary_ip, "--port", str(token.port)])
    except BaseException:
        for path in created:
            path.unlink(missing_ok=True)
        raise
    return token.master_name
