"""Where corral keeps its files on a node.

Everything lives below ``$CORRAL_ROOTDIR`` (default ``/``), so several
virtual nodes can share one machine, as Ganeti's ``GANETI_ROOTDIR`` allows.
"""

from __future__ import annotations

import os
from pathlib import Path


def root_dir() -> Path:
    return Path(os.environ.get("CORRAL_ROOTDIR", "/"))


def node_local(path: str) -> str:
    """A node-local directory named cluster-wide (``file_storage_dir``), as seen on this node.

    On a real node this is ``path`` itself. With ``$CORRAL_ROOTDIR`` set
    (several virtual nodes on one machine) it is ``path`` below that root,
    so each virtual node has its own, as Ganeti's vcluster mode localises
    node paths; otherwise two "nodes" would share every file disk.
    """
    root = root_dir()
    if root == Path("/") or not os.path.isabs(path):
        return path
    return str(root / path.lstrip("/"))


def data_dir() -> Path:
    """Persistent state: config, job queue, driver state (``/var/lib/corral``)."""
    return root_dir() / "var/lib/corral"


def config_file() -> Path:
    return data_dir() / "config.data"


def run_dir() -> Path:
    """Runtime state: sockets, pid files (``/var/run/corral``)."""
    return root_dir() / "var/run/corral"


def luxi_socket() -> Path:
    """The master daemon's LUXI socket (Ganeti: ``/var/run/ganeti/socket/ganeti-master``)."""
    return run_dir() / "socket/corral-master"


def queue_dir() -> Path:
    """The job queue (Ganeti: ``/var/lib/ganeti/queue``)."""
    return data_dir() / "queue"


def ssconf_dir() -> Path:
    """Where the ssconf_* files are (Ganeti: ``/var/lib/ganeti``)."""
    return data_dir()


def node_cert_file() -> Path:
    """This node's key and cluster-signed certificate (Ganeti: ``server.pem``)."""
    return data_dir() / "server.pem"


def ca_cert_file() -> Path:
    """The cluster CA's certificate, on every node."""
    return data_dir() / "cluster-ca.pem"


def ca_key_file() -> Path:
    """The cluster CA's key: on the master and master candidates only."""
    return data_dir() / "cluster-ca.key"


def log_dir() -> Path:
    return root_dir() / "var/log/corral"


def pid_file(daemon: str) -> Path:
    return run_dir() / f"{daemon}.pid"


def join_tokens_dir() -> Path:
    """One-time join tokens the master gave out (their hashes)."""
    return data_dir() / "join-tokens"


def hooks_dir() -> Path:
    """Site hook scripts, ``<path>-<phase>.d/`` below it (Ganeti: ``/etc/ganeti/hooks``)."""
    return root_dir() / "etc/corral/hooks"
