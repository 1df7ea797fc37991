"""The fake hypervisor: instances are JSON files in the node's state directory.

Layout under ``<state_dir>/hypervisors/fake/``::

    node.json                 optional: the node's resources (the vcluster writes it)
    instances/<name>.json     one record per instance on this node

A record is written atomically (temporary file in the same directory,
fsync, rename), so a node daemon that restarts, or crashes mid-write, finds
either the old or the new record. Every record has a state:

``running`` / ``paused``
    the instance runs here: listed, counted against the node's memory.
``migrating``
    the source side of a migration that :meth:`FakeHypervisor.migrate`
    started: still listed and counted here until
    :meth:`FakeHypervisor.finalize_migration_src`.
``incoming``
    the target side, written by :meth:`FakeHypervisor.accept_instance`:
    its memory is reserved but it is not listed until
    :meth:`FakeHypervisor.finalize_migration_dst` succeeds.

So an instance is listed on exactly one node, except in the short window
between the two finalize calls of a successful migration.

Unreadable records: :meth:`~FakeHypervisor.list_instances` and
:meth:`~FakeHypervisor.node_info` skip them with a logged warning (one bad
file must not hide a whole node), :meth:`~FakeHypervisor.instance_info` and
every operation on that instance raise a :class:`CorruptStateError` naming
the file, :meth:`~FakeHypervisor.verify` reports them, and
:meth:`~FakeHypervisor.stop` removes them.
"""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
from dataclasses import dataclass
from dataclasses import field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING
from typing import Any
from typing import ClassVar

from marshmallow import EXCLUDE
from marshmallow import Schema
from marshmallow import ValidationError
from marshmallow import fields
from marshmallow import validate
from twisted.internet import task
from twisted.internet.defer import CancelledError

from corral.api import ConsoleInfo
from corral.api import Hypervisor
from corral.api import HypervisorError
from corral.api import InstanceState
from corral.api import MigrationStatus
from corral.api import NodeHvInfo
from corral.api import RunningInstance
from corral.api import fsync_dir
from corral.api import write_atomically
from corral_hv_fake.params import FakeParams

if TYPE_CHECKING:
    from twisted.internet.defer import Deferred

    from corral.api import DriverContext
    from corral.api import InstanceSpec

#: Where the node's memory comes from when node.json does not say.
MEMINFO = Path("/proc/meminfo")
#: Keys node.json may hold, and the smallest value each accepts.
NODE_KEYS = {"memory_total": 1, "cpu_total": 1, "memory_dom0": 0}


class RecordState(StrEnum):
    RUNNING = "running"
    PAUSED = "paused"
    MIGRATING = "migrating"
    INCOMING = "incoming"


#: States in which the instance is listed as running on this node.
LISTED = frozenset({RecordState.RUNNING, RecordState.PAUSED, RecordState.MIGRATING})


class CorruptStateError(HypervisorError):
    """A state file of the fake hypervisor cannot be read; names the file."""

    def __init__(self, path: Path, reason: str) -> None:
        self.path = path
        super().__init__(
            f"fake hypervisor state file {path} is unreadable ({reason});"
            " fix or remove it (stopping the instance removes it)"
        )


class _RecordSchema(Schema):
    """The on-disk shape of an instance record (unknown keys from newer versions ignored)."""

    class Meta:
        unknown = EXCLUDE

    name = fields.String(required=True, validate=validate.Length(min=1))
    uuid = fields.String(required=True)
    memory = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))
    vcpus = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))
    state = fields.Enum(RecordState, by_value=True, required=True)
    hvparams = fields.Dict(keys=fields.String(), load_default=dict)
    started_at = fields.Float(required=True)
    disks = fields.List(fields.String(), load_default=list)
    nics = fields.List(fields.String(), load_default=list)
    migration = fields.Dict(keys=fields.String(), load_default=None, allow_none=True)


@dataclass
class InstanceRecord:
    """One instance as the fake hypervisor keeps it on disk."""

    name: str
    uuid: str
    memory: int
    vcpus: int
    state: RecordState
    started_at: float
    hvparams: dict[str, Any] = field(default_factory=dict)
    disks: list[str] = field(default_factory=list)  # block device paths
    nics: list[str] = field(default_factory=list)  # MAC addresses
    #: While migrating: {"target": address, "live": bool, "resume": state before}.
    migration: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "uuid": self.uuid,
            "memory": self.memory,
            "vcpus": self.vcpus,
            "state": self.state.value,
            "hvparams": self.hvparams,
            "started_at": self.started_at,
            "disks": self.disks,
            "nics": self.nics,
            "migration": self.migration,
        }

    @classmethod
    def from_json(cls, data: Any) -> InstanceRecord:
        """Build a record from its JSON form; raises ``ValueError`` saying what is wrong."""
        if not isinstance(data, dict):
            raise ValueError(f"expected a JSON object, found {type(data).__name__}")
        try:
            loaded = _RecordSchema().load(data)
        except ValidationError as err:
            raise ValueError(_describe(err.messages)) from None
        return cls(**loaded)

    @property
    def reported_state(self) -> InstanceState:
        """What :meth:`FakeHypervisor.instance_info` says about this record."""
        if self.state == RecordState.PAUSED:
            return InstanceState.PAUSED
        if self.state == RecordState.MIGRATING and self.migration is not None:
            if not self.migration.get("live", True):
                return InstanceState.PAUSED  # a non-live migration pauses the source
            if self.migration.get("resume") == RecordState.PAUSED:
                return InstanceState.PAUSED
        return InstanceState.RUNNING


def _describe(messages: Any) -> str:
    if isinstance(messages, dict):
        return "; ".join(f"{key}: {_describe(value)}" for key, value in sorted(messages.items()))
    if isinstance(messages, list):
        return " ".join(str(m) for m in messages)
    return str(messages)


@dataclass
class _Boot:
    """An instance whose start is waiting out its ``boot_delay``."""

    memory: int
    wait: Deferred[None] | None = None
    stopped: bool = False


class FakeHypervisor(Hypervisor):
    """Runs nothing, but keeps every promise a hypervisor makes about its instances."""

    name = "fake"
    CAN_MIGRATE: ClassVar[bool] = True
    params_schema = FakeParams

    def __init__(self, ctx: DriverContext) -> None:
        super().__init__(ctx)
        # The layout DriverContext.driver_dir() creates; reads must not create it.
        self.state_dir = ctx.state_dir / self.kind / self.name
        self.instances_dir = self.state_dir / "instances"
        self.node_file = self.state_dir / "node.json"
        self._booting: dict[str, _Boot] = {}
        self._cache: dict[Path, tuple[tuple[int, int, int], InstanceRecord]] = {}
        #: Every record, by the directory's identity (inode, mtime): see _listing.
        self._all: tuple[tuple[int, int], list[InstanceRecord]] | None = None

    # -- state files ---------------------------------------------------------------

    def _path(self, name: str) -> Path:
        if not name or "/" in name or "\0" in name or name.startswith("."):
            raise HypervisorError(f"fake hypervisor: {name!r} is not a valid instance name")
        return self.instances_dir / f"{name}.json"

    def _read(self, path: Path) -> InstanceRecord | None:
        """The record in ``path``, ``None`` if there is none; CorruptStateError if unreadable.

        Parsed records are kept by the file's identity (inode, size, mtime): free
        memory is the sum over every record, asked for on each start, and parsing
        hundreds of files each time would make a large node slow to answer.
        """
        try:
            info = path.stat()
        except FileNotFoundError:
            self._cache.pop(path, None)
            return None
        except OSError as err:
            raise HypervisorError(
                f"cannot read fake hypervisor state file {path} on node {self.ctx.node_name}:"
                f" {err.strerror}"
            ) from err
        key = (info.st_ino, info.st_size, info.st_mtime_ns)
        cached = self._cache.get(path)
        if cached is not None and cached[0] == key:
            return dataclasses.replace(cached[1])
        record = self._parse(path)
        if record is not None:
            self._cache[path] = (key, record)
            return dataclasses.replace(record)
        return None

    def _parse(self, path: Path) -> InstanceRecord | None:
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except OSError as err:  # the directory is broken, not the record
            raise HypervisorError(
                f"cannot read fake hypervisor state file {path} on node {self.ctx.node_name}:"
                f" {err.strerror}"
            ) from err
        except UnicodeDecodeError as err:
            raise CorruptStateError(path, str(err)) from None
        try:
            record = InstanceRecord.from_json(json.loads(text))
        except ValueError as err:  # json.JSONDecodeError is a ValueError too
            raise CorruptStateError(path, str(err)) from None
        if record.name != path.stem:
            raise CorruptStateError(path, f"it describes instance {record.name!r}")
        return record

    def _load(self, name: str) -> InstanceRecord | None:
        return self._read(self._path(name))

    def _listing(self) -> list[InstanceRecord]:
        """Every readable record on this node; unreadable ones are logged and skipped.

        The list and its records are shared: read them, never change them.

        Records are only ever replaced whole (a new file renamed into place),
        which changes the directory's mtime; while it stays the same, the last
        listing holds, which saves a stat per instance on every start and
        node_info. This process's own writes update the listing as they go
        (:meth:`_after_write`); one with a broken record is not kept, so the
        warning comes on every call. Another writer is seen by the mtime, as
        fine as the filesystem keeps it (one node daemon owns the directory).
        """
        key = self._dir_key()
        if key is None:
            return []
        if self._all is not None and self._all[0] == key:
            return self._all[1]
        records, clean = [], True
        for path in self._record_paths():
            try:
                record = self._read(path)
            except CorruptStateError as err:
                self.ctx.log.warn("skipping fake instance: {error}", error=str(err))
                clean = False
                continue
            if record is not None:
                records.append(record)
        self._all = (key, records) if clean else None
        return records

    def _dir_key(self) -> tuple[int, int] | None:
        try:
            info = self.instances_dir.stat()
        except FileNotFoundError:
            return None
        except OSError as err:
            raise HypervisorError(
                f"cannot read fake hypervisor state directory {self.instances_dir} on node"
                f" {self.ctx.node_name}: {err.strerror}"
            ) from err
        return (info.st_ino, info.st_mtime_ns)

    def _current_listing(self) -> list[InstanceRecord] | None:
        """The kept listing if the directory has not changed since, else None."""
        if self._all is None or self._all[0] != self._dir_key():
            return None
        return self._all[1]

    def _after_write(
        self, listing: list[InstanceRecord] | None, name: str, record: InstanceRecord | None
    ) -> None:
        """This process wrote (``record``) or removed (None) ``name``'s record: a
        listing that was current before is brought up to date, not read again."""
        if listing is None:
            return
        kept = [r for r in listing if r.name != name]
        if record is not None:
            kept.append(dataclasses.replace(record))
            kept.sort(key=lambda r: r.name)
        key = self._dir_key()
        self._all = (key, kept) if key is not None else None

    def _record_paths(self) -> list[Path]:
        try:
            return sorted(
                p for p in self.instances_dir.glob("*.json") if not p.name.startswith(".")
            )
        except FileNotFoundError:
            return []

    def _save(self, record: InstanceRecord) -> None:
        path = self._path(record.name)
        listing, self._all = self._current_listing(), None  # unknown until written
        try:
            self.ctx.driver_dir(self.kind, self.name)
            self.instances_dir.mkdir(exist_ok=True)
            data = json.dumps(record.to_json(), indent=2, sort_keys=True) + "\n"
            write_atomically(path, data.encode("utf-8"), mode=0o644)
        except OSError as err:
            raise HypervisorError(
                f"fake hypervisor cannot write {path} on node {self.ctx.node_name}: {err}"
            ) from err
        self._after_write(listing, record.name, record)

    def _delete(self, name: str) -> None:
        path = self._path(name)
        listing, self._all = self._current_listing(), None
        try:
            path.unlink()
        except FileNotFoundError:
            return
        except OSError as err:
            raise HypervisorError(
                f"fake hypervisor cannot remove {path} on node {self.ctx.node_name}: {err}"
            ) from err
        fsync_dir(path.parent)
        self._after_write(listing, name, None)

    def _now(self) -> float:
        now: float = self.ctx.reactor.seconds()
        return now

    # -- node resources ------------------------------------------------------------

    def _node_config(self) -> dict[str, int]:
        """node.json's content, checked; empty when the file does not exist."""
        try:
            text = self.node_file.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        except (OSError, UnicodeDecodeError) as err:
            raise HypervisorError(
                f"cannot read node resources from {self.node_file}: {err}"
            ) from None
        try:
            data = json.loads(text)
        except ValueError as err:
            raise HypervisorError(
                f"node resources file {self.node_file} is not JSON: {err}"
            ) from None
        if not isinstance(data, dict):
            raise HypervisorError(f"node resources file {self.node_file} must hold an object")
        problems = [f"unknown key {key!r}" for key in sorted(set(data) - set(NODE_KEYS))]
        for key, minimum in NODE_KEYS.items():
            value = data.get(key, minimum)
            if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
                problems.append(f"{key} must be an integer >= {minimum}, not {value!r}")
        if not problems and data.get("memory_dom0", 0) > data.get("memory_total", 1 << 62):
            problems.append("memory_dom0 is larger than memory_total")
        if problems:
            raise HypervisorError(
                f"node resources file {self.node_file} is invalid: {'; '.join(problems)}"
            )
        return data

    def _node_resources(self) -> tuple[int, int, int]:
        """(memory_total MiB, cpu_total, memory_dom0 MiB) of this node."""
        config = self._node_config()
        total = config.get("memory_total")
        if total is None:
            total = _host_memory_mib()
        cpus = config.get("cpu_total") or os.cpu_count() or 1
        dom0 = config.get("memory_dom0", 0)
        if dom0 > total:
            raise HypervisorError(
                f"memory_dom0 ({dom0} MiB) in {self.node_file} exceeds this host's"
                f" memory ({total} MiB)"
            )
        return total, cpus, dom0

    def _memory_free(self) -> int:
        total, _cpus, dom0 = self._node_resources()
        used = sum(r.memory for r in self._listing())
        used += sum(boot.memory for boot in self._booting.values())
        return max(0, total - dom0 - used)

    def _check_fits(self, name: str, memory: int) -> None:
        free = self._memory_free()
        if memory > free:
            raise HypervisorError(
                f"not enough memory on node {self.ctx.node_name}: instance {name}"
                f" needs {memory} MiB, {free} MiB free"
            )

    def _check_disks(self, instance: InstanceSpec, action: str) -> None:
        for index, disk in enumerate(instance.disks):
            if not os.path.exists(disk.path):
                raise HypervisorError(
                    f"cannot {action} instance {instance.name} on node {self.ctx.node_name}:"
                    f" disk/{index} path {disk.path} does not exist"
                )

    def _check_absent(self, name: str, action: str) -> None:
        record = self._load(name)
        state = record.state.value if record is not None else None
        if name in self._booting:
            state = "starting"
        if state is not None:
            raise HypervisorError(
                f"cannot {action} instance {name} on node {self.ctx.node_name}:"
                f" it is already {state} there"
            )

    # -- lifecycle -----------------------------------------------------------------

    async def start(self, instance: InstanceSpec, *, paused: bool = False) -> None:
        params = self.check_params(instance.hvparams, where="hvparams", fill=True)
        name = instance.name
        self._check_absent(name, "start")
        if instance.memory < 1 or instance.vcpus < 1:
            raise HypervisorError(
                f"cannot start instance {name}: it needs memory and vcpus of at least 1"
                f" (got {instance.memory} MiB, {instance.vcpus} vcpus)"
            )
        self._check_disks(instance, "start")
        self._check_fits(name, instance.memory)
        boot = self._booting[name] = _Boot(instance.memory)
        try:
            if params["boot_delay"] > 0:
                boot.wait = task.deferLater(self.ctx.reactor, params["boot_delay"], lambda: None)
                try:
                    await boot.wait
                except CancelledError:
                    if not boot.stopped:
                        raise  # the caller gave up (a timeout): nothing was started
                    raise HypervisorError(
                        f"instance {name} was stopped on node {self.ctx.node_name}"
                        " while it was starting"
                    ) from None
            if params["fail_start"]:
                raise HypervisorError(
                    f"instance {name} failed to start on node {self.ctx.node_name}:"
                    " the fake hypervisor's fail_start parameter is set"
                )
            self._save(
                InstanceRecord(
                    name=name,
                    uuid=instance.uuid,
                    memory=instance.memory,
                    vcpus=instance.vcpus,
                    state=RecordState.PAUSED if paused else RecordState.RUNNING,
                    started_at=self._now(),
                    hvparams=params,
                    disks=[disk.path for disk in instance.disks],
                    nics=[nic.mac for nic in instance.nics],
                )
            )
        finally:
            del self._booting[name]

    async def stop(
        self, instance: InstanceSpec, *, force: bool = False, timeout: int = 120
    ) -> None:
        boot = self._booting.get(instance.name)
        if boot is not None and boot.wait is not None:
            boot.stopped = True
            boot.wait.cancel()
        # Remove whatever is there, even an unreadable record or an incoming one:
        # a real hypervisor kills the process whatever state it is in.
        self._delete(instance.name)

    async def reboot(self, instance: InstanceSpec) -> None:
        record = self._load(instance.name)
        where = f"on node {self.ctx.node_name}"
        if record is None or record.state == RecordState.INCOMING:
            raise HypervisorError(f"cannot reboot instance {instance.name}: not running {where}")
        if record.state == RecordState.MIGRATING:
            raise HypervisorError(
                f"cannot reboot instance {instance.name}: it is being migrated {where}"
            )
        record.state = RecordState.RUNNING
        record.started_at = self._now()
        self._save(record)

    async def list_instances(self) -> list[str]:
        return [r.name for r in self._listing() if r.state in LISTED]

    async def instance_info(self, name: str) -> RunningInstance | None:
        record = self._load(name)
        if record is None or record.state not in LISTED:
            return None
        return RunningInstance(
            name=record.name,
            state=record.reported_state,
            memory=record.memory,
            vcpus=record.vcpus,
            uptime=max(0.0, self._now() - record.started_at),
        )

    async def node_info(self) -> NodeHvInfo:
        total, cpus, dom0 = self._node_resources()
        return NodeHvInfo(
            memory_total=total,
            memory_free=self._memory_free(),
            memory_dom0=dom0,
            cpu_total=cpus,
        )

    def console(self, instance: InstanceSpec, node: str) -> ConsoleInfo:
        return ConsoleInfo(
            instance=instance.name,
            kind="message",
            message=f"instance {instance.name} runs on the fake hypervisor (node {node}),"
            " which has no console",
        )

    async def verify(self) -> list[str]:
        problems = []
        try:
            self.ctx.driver_dir(self.kind, self.name)
            self.instances_dir.mkdir(exist_ok=True)
            fd, probe = tempfile.mkstemp(prefix=".verify.", suffix=".tmp", dir=self.instances_dir)
            os.close(fd)
            os.unlink(probe)
        except OSError as err:
            problems.append(
                f"fake hypervisor state directory {self.instances_dir} is not writable: {err}"
            )
        try:
            self._node_resources()
        except HypervisorError as err:
            problems.append(str(err))
        for path in self._record_paths():
            try:
                self._read(path)
            except CorruptStateError as err:
                problems.append(str(err))
        return problems

    # -- migration -----------------------------------------------------------------

    async def migration_info(self, instance: InstanceSpec) -> dict[str, Any]:
        record = self._load(instance.name)
        if record is None or record.state not in (RecordState.RUNNING, RecordState.PAUSED):
            state = "not running" if record is None else record.state.value
            raise HypervisorError(
                f"cannot migrate instance {instance.name} from node {self.ctx.node_name}:"
                f" it is {state} there"
            )
        return record.to_json()

    async def accept_instance(
        self, instance: InstanceSpec, info: dict[str, Any], target: str
    ) -> None:
        try:
            incoming = InstanceRecord.from_json(info)
        except ValueError as err:
            raise HypervisorError(
                f"cannot accept instance {instance.name}: bad migration info ({err})"
            ) from None
        if incoming.name != instance.name:
            raise HypervisorError(
                f"cannot accept instance {instance.name}: the migration info describes"
                f" {incoming.name}"
            )
        self._check_absent(instance.name, "accept")
        self._check_disks(instance, "accept")
        self._check_fits(instance.name, incoming.memory)
        incoming.disks = [disk.path for disk in instance.disks]
        incoming.migration = {"address": target, "resume": incoming.state.value}
        incoming.state = RecordState.INCOMING
        self._save(incoming)

    async def migrate(self, instance: InstanceSpec, target: str, *, live: bool = True) -> None:
        record = self._load(instance.name)
        if record is None or record.state not in (RecordState.RUNNING, RecordState.PAUSED):
            state = "not running" if record is None else record.state.value
            raise HypervisorError(
                f"cannot migrate instance {instance.name} from node {self.ctx.node_name}:"
                f" it is {state} there"
            )
        record.migration = {"target": target, "live": live, "resume": record.state.value}
        record.state = RecordState.MIGRATING
        self._save(record)

    async def migration_status(self, instance: InstanceSpec) -> MigrationStatus:
        record = self._load(instance.name)
        if record is None or record.state != RecordState.MIGRATING:
            raise HypervisorError(
                f"no migration of instance {instance.name} is in progress on node"
                f" {self.ctx.node_name}"
            )
        # Nothing to copy: the transfer is done as soon as it started.
        return MigrationStatus.COMPLETED

    async def finalize_migration_dst(
        self, instance: InstanceSpec, info: dict[str, Any], success: bool
    ) -> None:
        record = self._load(instance.name)
        if not success:
            if record is not None and record.state == RecordState.INCOMING:
                self._delete(instance.name)
            return
        if record is None:
            raise HypervisorError(
                f"cannot finish migrating instance {instance.name} to node"
                f" {self.ctx.node_name}: it was not accepted there"
            )
        if record.state != RecordState.INCOMING:
            return  # already finalized (a retried call)
        resume = (record.migration or {}).get("resume")
        record.state = RecordState.PAUSED if resume == RecordState.PAUSED else RecordState.RUNNING
        record.migration = None
        self._save(record)

    async def finalize_migration_src(
        self, instance: InstanceSpec, success: bool, live: bool
    ) -> None:
        if success:
            self._delete(instance.name)
            return
        record = self._load(instance.name)
        if record is None:
            raise HypervisorError(
                f"cannot resume instance {instance.name} after the failed migration:"
                f" it is no longer on node {self.ctx.node_name}"
            )
        if record.state != RecordState.MIGRATING:
            return  # migrate() never ran, or this is a retried call
        resume = (record.migration or {}).get("resume")
        record.state = RecordState.PAUSED if resume == RecordState.PAUSED else RecordState.RUNNING
        record.migration = None
        self._save(record)


def _host_memory_mib() -> int:
    """MemTotal of this host in MiB, from /proc/meminfo."""
    try:
        lines = MEMINFO.read_text(encoding="ascii").splitlines()
    except OSError as err:
        raise HypervisorError(f"cannot read this node's memory from {MEMINFO}: {err}") from err
    for line in lines:
        key, _, value = line.partition(":")
        if key.strip() == "MemTotal":
            parts = value.split()
            if parts and parts[0].isdigit():
                return int(parts[0]) // 1024
    raise HypervisorError(f"no MemTotal line in {MEMINFO}")
