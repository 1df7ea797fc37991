"""The ``sharedfile`` disk template: disk files in a directory that every node mounts.

It is the ``file`` template (same layout, same logical ids, same
``prealloc`` diskparam; see :mod:`corral_storage_file.driver`) on a
directory that is shared by all nodes (NFS, CephFS, GFS2, OCFS2...): the
cluster's ``shared_file_storage_dir``, handed over in
:attr:`DiskSpec.storage_dir`. Because every node sees the same files, an
instance migrates or fails over without copying its disks, so the template
declares ``SHARED = True``.

What a shared directory changes:

- Every node lists every volume. A volume's owner is the instance whose
  directory holds it (:attr:`VolumeInfo.instance`), not the node that
  lists it; the master skips ``SHARED`` templates in its per-node orphan
  check for that reason.
- A node may never have created a disk there itself, so the directories a
  node lists are those of its index *and* the cluster's current
  ``shared_file_storage_dir`` from ssconf; attaching a disk records its
  directory in the index too.
- verify leaves a marker file per node in the directory and reports the
  online nodes (from ssconf) whose marker it cannot see: those nodes have a
  different directory mounted at that path.

Creation is exclusive (``O_EXCL``, inherited from ``file``), so a file that
another node made is never opened, let alone truncated; removing a file
that is already gone is fine.
"""

from __future__ import annotations

import json
import os
import time
from typing import TYPE_CHECKING
from typing import ClassVar

from corral_storage_file.driver import FileTemplate
from corral_storage_file.driver import StorageDirIndex
from twisted.internet import task

from corral.api import DiskSpec
from corral.api import StorageError
from corral.api import write_atomically

if TYPE_CHECKING:
    from pathlib import Path

    from corral.api import DriverContext

#: ssconf keys (Ganeti's names; one value per file in the node's state directory).
SSCONF_STORAGE_DIR = "ssconf_shared_file_storage_dir"
SSCONF_ONLINE_NODES = "ssconf_online_nodes"

#: Where each node leaves its marker, inside the shared storage directory.
#: Instance names are host names, which cannot start with a dot.
MARKER_DIR = ".corral-sharedfile-nodes"
#: Seconds verify waits for the other nodes' markers (they verify at the same time).
MARKER_GRACE = 3.0


def _label(disk: DiskSpec) -> str:
    return f"disk/{disk.index} of instance {disk.instance}"


def _read_ssconf(state_dir: Path, key: str) -> str:
    """One ssconf value, or "" when this node has none (not in a cluster yet)."""
    try:
        return (state_dir / key).read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return ""
    except OSError as err:
        raise StorageError(f"cannot read {state_dir / key}: {err}") from None


class SharedDirIndex(StorageDirIndex):
    """The node's own index plus the cluster's current shared file storage directory.

    The ssconf value is read on every load, so a changed
    ``shared_file_storage_dir`` is seen without restarting the node daemon.
    """

    def __init__(self, path: Path, state_dir: Path) -> None:
        super().__init__(path)
        self.state_dir = state_dir

    def cluster_dir(self) -> str | None:
        """The cluster's ``shared_file_storage_dir`` (normalised), if ssconf has one."""
        value = _read_ssconf(self.state_dir, SSCONF_STORAGE_DIR)
        return os.path.normpath(value) if os.path.isabs(value) else None

    def load(self) -> list[str]:
        dirs = super().load()
        cluster_dir = self.cluster_dir()
        if cluster_dir is not None and cluster_dir not in dirs:
            dirs = sorted([*dirs, cluster_dir])
        return dirs


class SharedFileTemplate(FileTemplate):
    """Disks as files in the cluster's shared file storage directory, seen by every node."""

    name = "sharedfile"
    #: Every node sees the same files: migrate and failover need no copy.
    SHARED: ClassVar[bool] = True

    index: SharedDirIndex

    def __init__(self, ctx: DriverContext) -> None:
        super().__init__(ctx)
        self.index = SharedDirIndex(self.index.path, ctx.state_dir)

    @staticmethod
    def _storage_dir(disk: DiskSpec) -> str:
        storage_dir = disk.storage_dir
        if not storage_dir or not os.path.isabs(storage_dir):
            raise StorageError(
                f"{_label(disk)}: shared file storage directory {storage_dir!r} is not an"
                " absolute path; set the cluster's shared_file_storage_dir"
                " (gnt-cluster modify --shared-file-storage-dir=/path)"
            )
        return os.path.normpath(storage_dir)

    async def create(self, disk: DiskSpec) -> str:
        """Create the disk file exclusively; the directory must already be mounted."""
        storage_dir = self._storage_dir(disk)
        if disk.size > 0 and not os.path.isdir(storage_dir):
            raise StorageError(
                f"cannot create {_label(disk)}: shared file storage directory {storage_dir}"
                f" does not exist on node {self.ctx.node_name}; mount the shared filesystem"
                " there on every node, or fix the cluster's shared_file_storage_dir"
            )
        return await super().create(disk)

    async def attach(self, disk: DiskSpec) -> str:
        """Check the file is there, and remember its directory for list_volumes."""
        path = await super().attach(disk)
        self.index.add(os.path.dirname(os.path.dirname(path)))
        return path

    # -- verify ----------------------------------------------------------------------

    def marker_path(self, storage_dir: str, node: str | None = None) -> str:
        """The marker file of ``node`` (default: this node) in ``storage_dir``."""
        return os.path.join(storage_dir, MARKER_DIR, node or self.ctx.node_name)

    def _write_marker(self, storage_dir: str) -> str | None:
        """Leave (refresh) this node's marker and read it back; a problem, or None."""
        node = self.ctx.node_name
        folder = os.path.join(storage_dir, MARKER_DIR)
        path = self.marker_path(storage_dir)
        data = json.dumps({"node": node, "written": time.time()}, sort_keys=True)
        try:
            os.makedirs(folder, mode=0o755, exist_ok=True)
            write_atomically(path, data.encode("utf-8"), mode=0o644)
            with open(path, encoding="utf-8") as marker:
                back = marker.read()
        except OSError as err:
            return (
                f"shared file storage directory {storage_dir}: cannot write and read back"
                f" the marker {path}: {err}"
            )
        if back != data:
            return (
                f"shared file storage directory {storage_dir}: the marker {path} reads back"
                " differently from what was written; check the filesystem's consistency"
            )
        return None

    def nodes_seen(self, storage_dir: str) -> list[str]:
        """The nodes whose markers this node sees in ``storage_dir``."""
        try:
            return sorted(os.listdir(os.path.join(storage_dir, MARKER_DIR)))
        except OSError:
            return []

    async def _await_markers(self, storage_dir: str, nodes: set[str]) -> set[str]:
        """The nodes whose marker does not show up within :data:`MARKER_GRACE` seconds.

        ``gnt-cluster verify`` runs on every node at once, so on the first
        run after a node joined, its marker may be written a moment later.
        """
        waited = 0.0
        while True:
            missing = nodes - set(self.nodes_seen(storage_dir))
            if not missing or waited >= MARKER_GRACE:
                return missing
            await task.deferLater(self.ctx.reactor, 0.2, lambda: None)
            waited += 0.2

    async def verify(self) -> list[str]:
        """Problems with the shared directories: missing, not writable, or not shared.

        Each known directory must exist and be writable; this node then
        leaves its marker there. In the cluster's current directory, every
        online node (ssconf ``online_nodes``) should have left one: a missing
        marker means that node mounts something else at that path, or has
        not run verify yet.
        """
        try:
            storage_dirs = self.index.load()
            cluster_dir = self.index.cluster_dir()
            online = _read_ssconf(self.ctx.state_dir, SSCONF_ONLINE_NODES).split()
        except StorageError as err:
            return [str(err)]
        problems = []
        for storage_dir in storage_dirs:
            what = f"shared file storage directory {storage_dir}"
            if not os.path.lexists(storage_dir):
                problems.append(f"{what} is missing; mount the shared filesystem there")
                continue
            if not os.path.isdir(storage_dir):
                problems.append(f"{what} is not a directory")
                continue
            if not os.access(storage_dir, os.W_OK | os.X_OK):
                problems.append(f"{what} is not writable")
                continue
            problem = self._write_marker(storage_dir)
            if problem is not None:
                problems.append(problem)
                continue
            if storage_dir != cluster_dir:
                continue
            missing = await self._await_markers(storage_dir, set(online) - {self.ctx.node_name})
            for node in sorted(missing):
                problems.append(
                    f"{what}: no marker of node {node} in {MARKER_DIR}/: {node} has a"
                    " different directory at this path (not the same shared filesystem),"
                    " or its verify has not run yet; check the mount on"
                    f" {node} and run gnt-cluster verify again"
                )
        return problems
