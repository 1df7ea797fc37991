"""The ``file`` disk template: each instance disk is a file on its primary node.

Layout, as in Ganeti: ``<storage_dir>/<instance name>/<disk uuid>.file.disk<index>``,
where ``storage_dir`` is the cluster's file storage directory (handed over in
:attr:`DiskSpec.storage_dir`). The logical id is the file's absolute path.

The driver keeps one small state file, ``storage-dirs.json`` in its driver
directory: the storage directories it has created disks in. ``list_volumes``
takes no argument, so this index is how a node finds its disks again, also
after a restart.

Everything here is file metadata work on a local filesystem (open, stat,
ftruncate, unlink, a directory listing): each call returns in microseconds
and never waits for data to be written, so it runs on the reactor thread.
The one operation that can take long, reserving every block of a large
disk (``prealloc=full``), runs ``fallocate`` as a child process through the
context's process runner.
"""

from __future__ import annotations

import json
import os
import re
import stat
import sys
from typing import TYPE_CHECKING
from typing import ClassVar

from corral.api import CommandError
from corral.api import DiskSpec
from corral.api import DiskTemplate
from corral.api import ParameterError
from corral.api import StorageError
from corral.api import VolumeInfo
from corral.api import write_atomically
from corral_storage_file.params import FileParams
from corral_storage_file.params import Prealloc

if TYPE_CHECKING:
    from pathlib import Path

    from corral.api import DriverContext

MIB = 1024 * 1024

#: A disk file's name, as Ganeti gives it: ``<uuid>.file.disk<index>``.
DISK_FILE_RE = re.compile(r"^(?P<uuid>[^/]+)\.file\.disk(?P<index>[0-9]+)$")

#: Mode of a new instance directory (Ganeti's) and of a new disk file (the
#: guest's data: readable by root's group for backups, by nobody else).
DIR_MODE = 0o750
FILE_MODE = 0o640


def disk_file_name(disk: DiskSpec) -> str:
    """The name of ``disk``'s file inside its instance directory."""
    return f"{disk.uuid}.file.disk{disk.index}"


def _label(disk: DiskSpec) -> str:
    return f"disk/{disk.index} of instance {disk.instance}"


class StorageDirIndex:
    """The storage directories this node has file disks in, kept as a JSON file.

    The file is replaced atomically (temporary file, fsync, rename), so a
    crash leaves either the old list or the new one.
    """

    VERSION = 1

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> list[str]:
        """The directories recorded so far (none if the index does not exist yet)."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return []
        except OSError as err:
            raise StorageError(f"cannot read the file storage index {self.path}: {err}") from None
        try:
            data = json.loads(text)
            dirs = data["storage_dirs"]
            if not isinstance(dirs, list) or not all(isinstance(d, str) for d in dirs):
                raise TypeError("storage_dirs is not a list of strings")
        except (ValueError, KeyError, TypeError) as err:
            raise StorageError(
                f"the file storage index {self.path} is damaged ({err}); fix it or write"
                ' {"version": 1, "storage_dirs": ["/path/of/file-storage"]} into it'
            ) from None
        return dirs

    def add(self, storage_dir: str) -> None:
        """Record ``storage_dir`` (an absolute, normalised path) if it is new."""
        dirs = self.load()
        if storage_dir not in dirs:
            self._write(sorted([*dirs, storage_dir]))

    def _write(self, dirs: list[str]) -> None:
        data = json.dumps({"version": self.VERSION, "storage_dirs": dirs}, indent=1) + "\n"
        try:
            write_atomically(self.path, data.encode("utf-8"), mode=0o644)
        except OSError as err:
            raise StorageError(f"cannot write the file storage index {self.path}: {err}") from None


class FileTemplate(DiskTemplate):
    """Disks as (by default sparse) files below the cluster's file storage directory."""

    name = "file"
    params_schema = FileParams
    HAS_DISKS: ClassVar[bool] = True
    #: The files live on one node; moving the instance means copying them.
    SHARED: ClassVar[bool] = False
    MIRRORED: ClassVar[bool] = False
    CAN_GROW: ClassVar[bool] = True

    #: Name of the index of storage directories in the driver's directory.
    INDEX_NAME: ClassVar[str] = "storage-dirs.json"
    #: Longest wait for ``fallocate`` on one disk, in seconds.
    FALLOCATE_TIMEOUT: ClassVar[float] = 3600.0

    def __init__(self, ctx: DriverContext) -> None:
        super().__init__(ctx)
        self.index = StorageDirIndex(ctx.driver_dir(self.kind, self.name) / self.INDEX_NAME)

    # -- paths -----------------------------------------------------------------------

    @staticmethod
    def _storage_dir(disk: DiskSpec) -> str:
        """The disk's storage directory as an absolute, normalised path."""
        storage_dir = disk.storage_dir
        if not storage_dir:
            raise StorageError(
                f"{_label(disk)}: no file storage directory given (storage_dir is"
                f" {storage_dir!r}); set the cluster's file_storage_dir"
            )
        if not os.path.isabs(storage_dir):
            raise StorageError(
                f"{_label(disk)}: file storage directory {storage_dir!r} is not an absolute path"
            )
        return os.path.normpath(storage_dir)

    def planned_path(self, disk: DiskSpec) -> str:
        """Where ``disk``'s file goes: ``<storage_dir>/<instance>/<uuid>.file.disk<index>``."""
        storage_dir = self._storage_dir(disk)
        instance = disk.instance
        if not instance or "/" in instance or "\0" in instance or instance in (".", ".."):
            raise StorageError(
                f"{_label(disk)}: instance name {instance!r} cannot be a directory name"
            )
        name = disk_file_name(disk)
        if disk.index < 0 or not DISK_FILE_RE.match(name) or "\0" in name:
            raise StorageError(
                f"{_label(disk)}: disk uuid {disk.uuid!r} and index {disk.index}"
                " do not make a file name"
            )
        return os.path.join(storage_dir, instance, name)

    def _path(self, disk: DiskSpec) -> str:
        """The disk's file: its logical id once it has one, else where create puts it."""
        logical_id = disk.logical_id
        if logical_id is None:
            return self.planned_path(disk)
        if not os.path.isabs(logical_id) or not DISK_FILE_RE.match(os.path.basename(logical_id)):
            # Refuse before touching anything: remove() must never delete a file
            # that is not one of ours because a logical id was edited by hand.
            raise StorageError(
                f"{_label(disk)}: logical id {logical_id!r} is not the absolute path"
                " of a '<uuid>.file.disk<N>' file"
            )
        return os.path.normpath(logical_id)

    def _params(self, disk: DiskSpec) -> dict[str, object]:
        try:
            return self.check_params(disk.params, where="diskparams", fill=True)
        except ParameterError as err:
            raise StorageError(f"{_label(disk)}: invalid diskparams: {err}") from None

    @staticmethod
    def _rmdir_if_empty(folder: str) -> None:
        try:
            os.rmdir(folder)
        except OSError:
            pass  # not empty (other disks of the instance), already gone, or busy

    async def _allocate(self, action: str, path: str, offset: int, length: int) -> None:
        """Reserve the blocks of ``length`` bytes from ``offset`` (and extend the file)."""
        argv = ["fallocate", "--offset", str(offset), "--length", str(length), path]
        try:
            result = await self.ctx.runner.run(argv, timeout=self.FALLOCATE_TIMEOUT)
            result.check()
        except (CommandError, OSError) as err:
            raise StorageError(
                f"{action}: cannot allocate {length // MIB} MiB for {path}"
                f" (diskparams prealloc=full): {err}"
            ) from None

    # -- the interface ---------------------------------------------------------------

    async def create(self, disk: DiskSpec) -> str:
        """Create the disk's file at its size; on any failure remove what was made."""
        if disk.size <= 0:
            raise StorageError(
                f"cannot create {_label(disk)}: size {disk.size} MiB is not positive"
            )
        if disk.size * MIB > sys.maxsize:
            raise StorageError(
                f"cannot create {_label(disk)}: size {disk.size} MiB is more than a file can hold"
            )
        prealloc = self._params(disk)["prealloc"]
        storage_dir = self._storage_dir(disk)
        path = self.planned_path(disk)
        if not os.path.isdir(storage_dir):
            raise StorageError(
                f"cannot create {_label(disk)}: file storage directory {storage_dir} does not"
                " exist; create it on every node or fix the cluster's file_storage_dir"
            )
        # Recorded before the file exists, so that a crash cannot hide a disk
        # from list_volumes; an extra directory in the index costs nothing.
        self.index.add(storage_dir)

        folder = os.path.dirname(path)
        made_folder = False
        try:
            os.mkdir(folder, DIR_MODE)
            made_folder = True
        except FileExistsError:
            if not os.path.isdir(folder):
                raise StorageError(
                    f"cannot create {_label(disk)}: {folder} exists and is not a directory"
                ) from None
        except OSError as err:
            raise StorageError(f"cannot create {_label(disk)}: {folder}: {err}") from None

        try:
            # O_EXCL: an existing disk file is never opened, let alone truncated.
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, FILE_MODE)
        except OSError as err:
            if made_folder:
                self._rmdir_if_empty(folder)
            if isinstance(err, FileExistsError):
                raise StorageError(f"cannot create {_label(disk)}: {path} already exists") from None
            raise StorageError(f"cannot create {_label(disk)}: {path}: {err}") from None

        length = disk.size * MIB
        try:
            try:
                if prealloc == Prealloc.SPARSE:
                    # Setting the length of a new, empty file writes no data:
                    # ftruncate is instant, atomic with the O_EXCL open above, and
                    # needs no child process (unlike truncate(1), which has no
                    # "must not exist" mode).
                    os.ftruncate(fd, length)
            finally:
                os.close(fd)
            if prealloc == Prealloc.FULL:
                await self._allocate(f"cannot create {_label(disk)}", path, 0, length)
        except BaseException as err:
            # Anything, a cancelled create included, leaves no file behind.
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass
            if made_folder:
                self._rmdir_if_empty(folder)
            if isinstance(err, OSError | OverflowError):
                raise StorageError(
                    f"cannot create {_label(disk)}: {path}: size {disk.size} MiB: {err}"
                ) from None
            raise
        return path

    async def remove(self, disk: DiskSpec) -> None:
        """Delete the file, then the instance directory if that left it empty."""
        path = self._path(disk)
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        except OSError as err:
            raise StorageError(f"cannot remove {_label(disk)}: {path}: {err}") from None
        self._rmdir_if_empty(os.path.dirname(path))

    async def attach(self, disk: DiskSpec) -> str:
        """A file needs no activation: check it is there and return its path."""
        path = self._path(disk)
        if not os.path.isfile(path):
            raise StorageError(f"cannot attach {_label(disk)}: {path} does not exist")
        return path

    async def detach(self, disk: DiskSpec) -> None:
        """Nothing to undo: attaching a file changed nothing on the node."""

    async def find(self, disk: DiskSpec) -> str | None:
        """The file's path if it is there (looking changes nothing)."""
        path = self._path(disk)
        return path if os.path.isfile(path) else None

    async def grow(self, disk: DiskSpec, amount: int) -> None:
        """Extend the file by ``amount`` MiB (allocating it too with prealloc=full)."""
        if amount < 0:
            raise StorageError(f"cannot grow {_label(disk)} by {amount} MiB: disks never shrink")
        path = self._path(disk)
        prealloc = self._params(disk)["prealloc"]
        try:
            old = os.stat(path).st_size
        except FileNotFoundError:
            raise StorageError(f"cannot grow {_label(disk)}: {path} does not exist") from None
        except OSError as err:
            raise StorageError(f"cannot grow {_label(disk)}: {path}: {err}") from None
        if amount == 0:
            return
        length = amount * MIB
        try:
            if prealloc == Prealloc.FULL:
                await self._allocate(f"cannot grow {_label(disk)}", path, old, length)
            else:
                os.truncate(path, old + length)
        except BaseException as err:
            try:
                os.truncate(path, old)  # never leave a half-grown file
            except OSError:
                pass
            if isinstance(err, OSError | OverflowError):
                raise StorageError(f"cannot grow {_label(disk)}: {path}: {err}") from None
            raise

    async def size(self, disk: DiskSpec) -> int:
        """The file's length in MiB, rounded down."""
        path = self._path(disk)
        try:
            info = os.stat(path)
        except FileNotFoundError:
            raise StorageError(f"{_label(disk)}: {path} does not exist") from None
        except OSError as err:
            raise StorageError(f"{_label(disk)}: {path}: {err}") from None
        if not stat.S_ISREG(info.st_mode):
            raise StorageError(f"{_label(disk)}: {path} is not a regular file")
        return info.st_size // MIB

    async def list_volumes(self) -> list[VolumeInfo]:
        """Every ``*.file.disk*`` file in the instance directories of the known storage
        directories; a storage directory that is missing is skipped (verify reports it)."""
        volumes = []
        for storage_dir in self.index.load():
            for instance in self._entries(storage_dir):
                if not instance.is_dir(follow_symlinks=False):
                    continue
                for entry in self._entries(instance.path):
                    if DISK_FILE_RE.match(entry.name) and entry.is_file(follow_symlinks=False):
                        try:
                            size = entry.stat(follow_symlinks=False).st_size // MIB
                        except FileNotFoundError:
                            continue  # removed while we looked
                        volumes.append(VolumeInfo(entry.path, size, instance.name))
        return sorted(volumes, key=lambda v: v.logical_id)

    @staticmethod
    def _entries(folder: str) -> list[os.DirEntry[str]]:
        """The entries of ``folder``; none if it is gone, an error if it is unreadable."""
        try:
            with os.scandir(folder) as entries:
                return list(entries)
        except (FileNotFoundError, NotADirectoryError):
            return []
        except OSError as err:
            raise StorageError(f"cannot list file disks in {folder}: {err}") from None

    async def verify(self) -> list[str]:
        """Known storage directories that are missing, not directories, or not writable."""
        try:
            storage_dirs = self.index.load()
        except StorageError as err:
            return [str(err)]
        problems = []
        for storage_dir in storage_dirs:
            if not os.path.lexists(storage_dir):
                problems.append(f"file storage directory {storage_dir} is missing")
            elif not os.path.isdir(storage_dir):
                problems.append(f"file storage directory {storage_dir} is not a directory")
            elif not os.access(storage_dir, os.W_OK | os.X_OK):
                problems.append(f"file storage directory {storage_dir} is not writable")
        return problems
