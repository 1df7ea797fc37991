"""What a node daemon does when asked: the RPC procedures, one method each.

Each procedure is an ``async`` method named as on the wire and taking
keyword arguments; what it returns is the answer (JSON). Blocking work
(file writes with fsync, ``/proc`` reads are cheap and stay inline) runs
in a thread so one slow disk does not stall the other calls.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import socket
import time
from dataclasses import asdict
from typing import TYPE_CHECKING
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from twisted.internet import defer
from twisted.internet import task
from twisted.internet import threads
from twisted.logger import Logger

from corral import __version__
from corral import daemonctl
from corral import masterip
from corral import paths
from corral import ssconf
from corral.api.errors import CorralError
from corral.api.errors import OpExecError
from corral.api.errors import OpPrereqError
from corral.api.process import ProcessRunner
from corral.atomicfile import fsync_dir
from corral.atomicfile import write_atomically
from corral.atomicfile import write_temporary
from corral.crypto.ca import ClusterCA
from corral.crypto.ca import common_name
from corral.crypto.ca import days_left
from corral.crypto.ca import fingerprint
from corral.crypto.ca import is_ca
from corral.crypto.ca import load_certificate
from corral.crypto.ca import load_certificates
from corral.crypto.ca import make_csr
from corral.crypto.ca import public_key_matches
from corral.crypto.jointoken import TokenStore
from corral.hooks.environment import Phase
from corral.hooks.scripts import run_hooks
from corral.hooks.table import HOOKS_PATHS
from corral.hostname import is_ip
from corral.jobs.replication import QUEUE_PATH
from corral.noded.osdefs import OSProcedures
from corral.paths import ca_cert_file
from corral.paths import ca_key_file
from corral.paths import join_tokens_dir
from corral.paths import node_cert_file
from corral.paths import node_local
from corral.plugins.manager import build_plugin_manager
from corral.rpc.protocol import PROTOCOL_VERSION

log = Logger()

if TYPE_CHECKING:
    from pathlib import Path

    import pluggy
    from twisted.python.failure import Failure

    from corral.crypto.tls import LiveCredentials
    from corral.crypto.tls import NodeCredentials
    from corral.plugins.registry import DriverRegistry


class StaleError(OpPrereqError):
    """A push older than what the node has (a master that missed a change)."""


def _meminfo() -> dict[str, int]:
    """MemTotal/MemAvailable in MiB from /proc/meminfo."""
    values: dict[str, int] = {}
    with open("/proc/meminfo") as handle:
        for line in handle:
            key, _, rest = line.partition(":")
            if key in ("MemTotal", "MemAvailable"):
                values[key] = int(rest.split()[0]) // 1024
    return values


def _boot_id() -> str:
    try:
        with open("/proc/sys/kernel/random/boot_id") as handle:
            return handle.read().strip()
    except OSError:
        return ""


#: The operations of a job queue update, and which of their keys name files.
_PATH_KEYS: dict[Any, tuple[str, ...]] = {
    "write": ("path",), "rename": ("path", "to"), "remove": ("path",), "reset": (), "noop": (),
}  # fmt: skip


def _load_ec_key(pem: bytes) -> ec.EllipticCurvePrivateKey:
    key = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ValueError("not an ECDSA key")
    return key


_SERIAL = re.compile(rb',"serial_no":(\d+),"version":\d+}$')


def _document_serial(document: bytes) -> int | None:
    """The top-level serial of a config file as the master writes it (keys sorted).

    ``serial_no`` is the last key but ``version`` at the top level, so it is
    found at the end without decoding megabytes of JSON on every push.
    """
    match = _SERIAL.search(document[-64:])
    return int(match.group(1)) if match and document[:1] == b"{" else None


class NodeMethods(OSProcedures):
    """The RPC procedures of one node daemon (instance ones in :mod:`corral.noded.instances`)."""

    #: Callable without a client certificate (a node joining has none yet).
    ANONYMOUS = frozenset({"ca", "join"})
    #: Callable by any node of the cluster; the rest need the master or a candidate.
    READ_ONLY = frozenset(
        {"version", "node_info", "config_serial", "instance_list", "verify", "master_info",
         "volumes", "storage_info", "instance_console", "disk_find",
         "os_diagnose", "os_validate"}
    )  # fmt: skip
    #: Take one large JSON document as the request body (see corral.rpc.protocol).
    DOCUMENT = frozenset({"config_push", "disk_write"})

    def __init__(
        self,
        reactor: Any,
        node_name: str,
        live: LiveCredentials,
        state_dir: Path,
        registry: DriverRegistry,
        pm: pluggy.PluginManager | None = None,
    ) -> None:
        self._reactor = reactor
        self._pm = pm or build_plugin_manager()
        self.node_name = node_name
        self._live = live
        #: The key of a certificate request this node made and awaits the answer to.
        self._pending_key: bytes | None = None
        self._state_dir = state_dir
        self._registry = registry
        self._runner = ProcessRunner(reactor)
        self._config_path = state_dir / "config.data"
        self._creds_ca_path = ca_cert_file()
        self._ca_key_path = ca_key_file()
        self._tokens = TokenStore(join_tokens_dir())
        self._config_serial: int | None = None
        #: Pushes are applied one at a time, so an older one cannot overtake a newer.
        self._push_lock = defer.DeferredLock()
        self._queue_lock = defer.DeferredLock()
        self.started = time.time()

    @property
    def _creds(self) -> NodeCredentials:
        return self._live.creds

    def names(self) -> set[str]:
        return {
            name[4:]
            for name in dir(self)
            if name.startswith("rpc_") and callable(getattr(self, name))
        }

    def allowed_callers(self) -> set[str] | None:
        """Who may call the changing procedures: master and candidates, or None for any."""
        master = ssconf.read(self._state_dir, "master_node")
        if master is None:
            return None  # not yet in a cluster: whoever holds a cluster certificate
        return {master, *ssconf.read_lines(self._state_dir, "master_candidates")}

    # -- procedures ----------------------------------------------------------------

    async def rpc_version(self) -> dict[str, Any]:
        return {"version": __version__, "protocol": PROTOCOL_VERSION, "node": self.node_name}

    async def rpc_ca(self) -> str:
        """The cluster CA certificate, for a joining node to compare with its token."""
        return self._creds.ca.cert_pem.decode()

    async def rpc_join(
        self, secret: str, node_name: str, csr: str, addresses: list[str]
    ) -> dict[str, Any]:
        """Sign a joining node's certificate request, if its one-time token is good.

        Only the master holds the CA key and the token records, so only it
        can answer; any failure says why, and the token is used up either way.
        """
        if not isinstance(node_name, str) or not isinstance(csr, str):
            raise OpPrereqError("join: node_name and csr must be strings")
        if not isinstance(addresses, list) or not all(isinstance(a, str) for a in addresses):
            raise OpPrereqError("join: addresses must be a list of IP addresses")
        for address in addresses:
            if not is_ip(address):
                raise OpPrereqError(f"join: {address!r} is not an IP address")

        def sign() -> str:
            if not self._ca_key_path.exists():
                raise OpPrereqError(
                    f"node {self.node_name} is not the master: send the join request there"
                )
            self._tokens.consume(secret, node_name)
            ca = ClusterCA.load(self._creds_ca_path, self._ca_key_path)
            return ca.sign_request(csr.encode(), node_name, addresses).decode()

        cert = await threads.deferToThread(sign)
        log.info("signed a certificate for joining node {name}", name=node_name)
        return {
            "cert": cert,
            "ca": self._creds.ca.cert_pem.decode(),
            "master": self.node_name,
            "cluster_name": ssconf.read(self._state_dir, "cluster_name"),
        }

    async def rpc_node_info(self, hypervisors: list[str] | None = None) -> dict[str, Any]:
        """Resources and identity of this node, and each asked hypervisor's view of them."""
        memory = _meminfo()
        info: dict[str, Any] = {
            "name": self.node_name,
            "hostname": socket.gethostname(),
            "time": time.time(),
            "boot_id": _boot_id(),
            "cpu_count": os.cpu_count() or 1,
            "memory_total": memory.get("MemTotal", 0),
            "memory_free": memory.get("MemAvailable", 0),
            "hv": {},
            "disk_total": None,
            "disk_free": None,
        }
        storage = ssconf.read(self._state_dir, "file_storage_dir")
        if storage:
            storage = node_local(storage)
            try:
                stat = os.statvfs(storage)
            except OSError:
                pass  # not created yet: the disk fields stay unknown
            else:
                info["disk_total"] = stat.f_blocks * stat.f_frsize // (1024 * 1024)
                info["disk_free"] = stat.f_bavail * stat.f_frsize // (1024 * 1024)
        if hypervisors is None:
            hypervisors = ssconf.read_lines(self._state_dir, "hypervisor_list")
        for name in hypervisors:
            try:
                hv_info = await self._registry.hypervisor(name).node_info()
            except CorralError as err:
                info["hv"][name] = {"error": str(err)}
            else:
                info["hv"][name] = asdict(hv_info)
        return info

    async def rpc_instance_list(self, hypervisors: list[str]) -> dict[str, Any]:
        """The instances running here, by name: state, memory and vCPUs as the hypervisor sees them.

        A hypervisor that fails makes the whole answer fail: a partial list
        would show its instances as stopped, which they may not be.
        """
        running: dict[str, Any] = {}
        for name in hypervisors:
            for inst in await self._registry.hypervisor(name).all_instances_info():
                running[inst.name] = {
                    "hypervisor": name,
                    "state": str(inst.state),
                    "memory": inst.memory,
                    "vcpus": inst.vcpus,
                    "uptime": inst.uptime,
                }
        return running

    async def rpc_verify(self, hypervisors: list[str], disk_templates: list[str]) -> dict[str, Any]:
        """What ``gnt-cluster verify`` compares across nodes, gathered in one call.

        Versions, the clock, digests of the files that must agree, this
        node's certificate, each driver's own verify, volumes and running
        instances. A driver that fails is reported inside the answer.
        """

        def files() -> dict[str, Any]:
            digests: dict[str, str | None] = {}
            for name in ("cluster-ca.pem", "config.data"):
                try:
                    digests[name] = hashlib.sha256(
                        (self._state_dir / name).read_bytes()
                    ).hexdigest()
                except FileNotFoundError:
                    digests[name] = None
            cert = self._creds.cert
            return {
                "files": digests,
                "ssconf_serial": ssconf.serial(self._state_dir),
                "cert": {
                    "name": common_name(cert),
                    "days_left": days_left(cert),
                    "signed": self._creds.ca.signed(cert),
                    "ca_days_left": days_left(self._creds.ca.cert),
                    "trusted_cas": len(self._creds.trusted),
                },
            }

        answer: dict[str, Any] = await threads.deferToThread(files)
        answer.update(
            {"version": __version__, "protocol": PROTOCOL_VERSION, "node": self.node_name}
        )
        answer["hv"], answer["storage"] = {}, {}
        for name in hypervisors:
            try:
                driver = self._registry.hypervisor(name)
                answer["hv"][name] = {
                    "problems": await driver.verify(),
                    "memory_free": (await driver.node_info()).memory_free,
                }
            except CorralError as err:
                answer["hv"][name] = {"problems": [str(err)], "memory_free": None}
        for name in disk_templates:
            try:
                template = self._registry.disk_template(name)
                volumes = await template.list_volumes() if template.HAS_DISKS else []
                answer["storage"][name] = {
                    "problems": await template.verify(),
                    "volumes": [asdict(v) for v in volumes],
                }
            except CorralError as err:
                answer["storage"][name] = {"problems": [str(err)], "volumes": []}
        try:
            answer["instances"] = await self.rpc_instance_list(hypervisors)
        except CorralError as err:
            answer["instances"] = None
            answer["hv"].setdefault("_list", {"problems": [], "memory_free": None})
            answer["hv"]["_list"]["problems"].append(f"cannot list instances: {err}")
        answer["time"] = time.time()
        return answer

    async def rpc_volumes(self, disk_templates: list[str]) -> list[dict[str, Any]]:
        """The volumes of each disk template on this node (``gnt-node volumes``)."""
        rows = []
        for name in disk_templates:
            template = self._registry.disk_template(name)
            if not template.HAS_DISKS:
                continue
            for volume in await template.list_volumes():
                rows.append({"template": name, "name": volume.logical_id, "size": volume.size,
                             "instance": volume.instance})  # fmt: skip
        return rows

    async def rpc_storage_info(self) -> list[dict[str, Any]]:
        """Size, use and room of this node's storage units (``gnt-node list-storage``)."""

        def gather() -> list[dict[str, Any]]:
            units: list[dict[str, Any]] = []
            enabled = ssconf.read_lines(self._state_dir, "enabled_disk_templates")
            for kind, key in (
                ("file", "file_storage_dir"),
                ("sharedfile", "shared_file_storage_dir"),
            ):
                path = ssconf.read(self._state_dir, key)
                if kind not in enabled or not path:
                    continue
                if kind == "file":
                    path = node_local(path)
                try:
                    stat = os.statvfs(path)
                except OSError:
                    units.append({"type": kind, "name": path, "size": None, "used": None,
                                  "free": None, "allocatable": False})  # fmt: skip
                    continue
                size = stat.f_blocks * stat.f_frsize // (1024 * 1024)
                free = stat.f_bavail * stat.f_frsize // (1024 * 1024)
                units.append({"type": kind, "name": path, "size": size, "used": size - free,
                              "free": free, "allocatable": True})  # fmt: skip
            return units

        return await threads.deferToThread(gather)

    async def rpc_test_delay(self, duration: float) -> None:
        if not isinstance(duration, int | float) or isinstance(duration, bool):
            raise OpPrereqError(f"test_delay: duration must be a number, not {duration!r}")
        if duration < 0:
            raise OpExecError(f"test delay failed on request (duration {duration} < 0)")
        await task.deferLater(self._reactor, duration, lambda: None)

    async def rpc_ssconf_write(self, values: dict[str, str]) -> int:
        """Store the ssconf values unless they are older than this node's."""
        if not isinstance(values, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in values.items()
        ):
            raise OpPrereqError("ssconf_write: values must map names to strings")
        new = int(values.get("config_serial", "0") or 0)
        async with self._push_lock:
            current = ssconf.serial(self._state_dir)
            if new < current:
                raise StaleError(f"ssconf of serial {new} refused: node has serial {current}")
            previous = ssconf.read(self._state_dir, "master_node")
            await threads.deferToThread(ssconf.write, self._state_dir, values)
        master = values.get("master_node")
        # Only a node that was the master, or runs a master daemon, has anything to
        # give up; the others skip the cluster IP check (an "ip" command per push).
        if (
            master is not None
            and master != self.node_name
            and (previous == self.node_name or daemonctl.running_pid("corral-masterd"))
        ):
            await self._step_down(f"{master} is the master now (config serial {new})")
        return new

    async def _step_down(self, reason: str) -> bool:
        """Stop this node's master daemon and cluster IP, if it still has them."""

        def stop() -> bool:
            running = daemonctl.running_pid("corral-masterd") is not None
            if running:
                log.warn("stepping down as master: {reason}", reason=reason)
                daemonctl.stop("corral-masterd")
            self._master_ip("stop")
            return running

        return await threads.deferToThread(stop)

    def _master_ip(self, action: str) -> None:
        """Bring the cluster IP (as ssconf names it) up or down here; a failure is logged."""
        ip = ssconf.read(self._state_dir, "master_ip")
        netdev = ssconf.read(self._state_dir, "master_netdev") or "eth0"
        netmask = int(ssconf.read(self._state_dir, "master_netmask") or 32)
        if ip is not None:
            masterip.change_logged(action, ip, netmask, netdev, self._pm, log)

    async def rpc_master_info(self) -> dict[str, Any]:
        """Who this node thinks the master is, and how new its config is (for voting)."""
        return {
            "node": self.node_name,
            "master": ssconf.read(self._state_dir, "master_node"),
            "ssconf_serial": ssconf.serial(self._state_dir),
            "config_serial": await threads.deferToThread(self._replica_serial),
        }

    async def rpc_config_fetch(self) -> str:
        """This candidate's config replica, for a new master that has an older one."""
        try:
            data = await threads.deferToThread(self._config_path.read_bytes)
        except FileNotFoundError:
            raise OpPrereqError(f"node {self.node_name} holds no config replica") from None
        return data.decode()

    async def rpc_master_stop(self, reason: str) -> bool:
        """Another node takes over as master: stop the master daemon and cluster IP here."""
        if not isinstance(reason, str):
            raise OpPrereqError("master_stop: reason must be a string")
        return await self._step_down(reason)

    def _replica_serial(self) -> int:
        if self._config_serial is None:
            try:
                document = json.loads(self._config_path.read_bytes())
                self._config_serial = int(document.get("serial_no", 0))
            except (OSError, ValueError, AttributeError):
                self._config_serial = 0
        return self._config_serial

    async def rpc_jobqueue_update(self, ops: list[dict[str, Any]]) -> int:
        """Apply the master's job queue operations to this candidate's replica, in order.

        See corral.jobs.replication. Every path is checked against the
        queue's own file names first, so nothing outside the queue can be
        touched, and a bad batch changes nothing.
        """
        if not isinstance(ops, list) or not all(isinstance(op, dict) for op in ops):
            raise OpPrereqError("jobqueue_update: ops must be a list of objects")
        for op in ops:
            kind = op.get("op")
            if kind not in _PATH_KEYS:
                raise OpPrereqError(f"jobqueue_update: unknown operation {kind!r}")
            for key in _PATH_KEYS[kind]:
                if not isinstance(op.get(key), str) or not QUEUE_PATH.match(op[key]):
                    raise OpPrereqError(f"jobqueue_update: {op.get(key)!r} is not a queue file")
            if kind == "write" and not isinstance(op.get("data"), str):
                raise OpPrereqError("jobqueue_update: a write needs its data as a string")

        queue = self._state_dir / "queue"
        writes = [index for index, op in enumerate(ops) if op["op"] == "write"]

        def prepare(op: dict[str, Any]) -> Path:
            path = queue / op["path"]
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            return write_temporary(path, op["data"].encode())

        def apply(temporaries: dict[int, Path]) -> None:
            touched = {queue}
            for index, op in enumerate(ops):
                kind = op["op"]
                if kind == "reset":
                    for path in sorted(queue.rglob("*"), reverse=True):
                        relative = path.relative_to(queue).as_posix()
                        if path.is_file() and QUEUE_PATH.match(relative):
                            path.unlink()
                elif kind == "write":
                    path = queue / op["path"]
                    os.replace(temporaries.pop(index), path)
                    touched.add(path.parent)
                elif kind == "rename":
                    source, target = queue / op["path"], queue / op["to"]
                    target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
                    if source.exists() or not target.exists():
                        os.replace(source, target)
                    touched.update((source.parent, target.parent))
                elif kind == "remove":
                    (queue / op["path"]).unlink(missing_ok=True)
            for directory in touched:
                fsync_dir(directory)

        def discard(temporaries: dict[int, Path]) -> None:
            for tmp in temporaries.values():
                tmp.unlink(missing_ok=True)

        async with self._queue_lock:
            await threads.deferToThread(queue.mkdir, mode=0o700, exist_ok=True)
            # Each file written and synced in a thread of its own, so the fsyncs of a
            # batch overlap; then, in one go and in the batch's order, put in place.
            prepared: list[tuple[bool, Any]] = await defer.DeferredList(
                [threads.deferToThread(prepare, ops[index]) for index in writes],
                consumeErrors=True,
            )
            temporaries = {i: tmp for i, (ok, tmp) in zip(writes, prepared, strict=True) if ok}
            failures: list[Failure] = [why for ok, why in prepared if not ok]
            try:
                if failures:
                    failures[0].raiseException()
                await threads.deferToThread(apply, temporaries)
            finally:
                await threads.deferToThread(discard, temporaries)
        return len(ops)

    async def rpc_hooks_run(
        self, path: str, phase: str, env: dict[str, Any]
    ) -> list[dict[str, Any]]:
        """Run this node's ``<hooks_dir>/<path>-<phase>.d`` scripts for an opcode of the
        master's, with the environment it built; one result per script."""
        if path not in {entry.path for entry in HOOKS_PATHS.values()}:
            raise OpPrereqError(f"hooks_run: {path!r} is not a hooks path")
        if phase not in (Phase.PRE.value, Phase.POST.value):
            raise OpPrereqError(f"hooks_run: phase must be pre or post, not {phase!r}")
        if not isinstance(env, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in env.items()
        ):
            raise OpPrereqError("hooks_run: env must be an object of strings")
        results = await run_hooks(paths.hooks_dir(), path, Phase(phase), env, self._runner)
        return [dataclasses.asdict(r) for r in results]

    async def rpc_ca_key_write(self, key: str) -> None:
        """Keep the cluster CA key (this node is a master candidate), if it is the CA's."""
        if not isinstance(key, str):
            raise OpPrereqError("ca_key_write: key must be a PEM string")

        def store() -> None:
            try:
                ca = ClusterCA(self._creds.ca.cert, _load_ec_key(key.encode()))
            except ValueError as err:
                raise OpPrereqError(f"ca_key_write: not a usable key: {err}") from None
            if not ca.key_matches():
                raise OpPrereqError("ca_key_write: the key does not belong to this cluster's CA")
            write_atomically(self._ca_key_path, key.encode(), 0o600)

        await threads.deferToThread(store)

    async def rpc_ca_trust_write(self, ca: str) -> int:
        """Trust these CAs from now on (``renew-crypto``); returns how many.

        Refused if this node's own certificate is signed by none of them:
        the node would lock itself out of its cluster.
        """
        if not isinstance(ca, str):
            raise OpPrereqError("ca_trust_write: ca must be a PEM string")

        def store() -> tuple[int, NodeCredentials]:
            certs = load_certificates(ca.encode(), "ca_trust_write")
            for cert in certs:
                if not is_ca(cert):
                    raise OpPrereqError(
                        f"ca_trust_write: {common_name(cert)!r} is not a CA certificate"
                    )
            if not any(ClusterCA(cert).signed(self._creds.cert) for cert in certs):
                raise OpPrereqError(
                    f"ca_trust_write: none of these CAs signed node {self.node_name}'s"
                    " certificate: give the node a new certificate first"
                )
            old = self._creds_ca_path.read_bytes()
            write_atomically(self._creds_ca_path, ca.encode(), 0o644)
            try:
                return len(certs), self._live.read()
            except CorralError:
                write_atomically(self._creds_ca_path, old, 0o644)
                raise

        count, creds = await threads.deferToThread(store)
        self._live.use(creds)
        log.info("now trusting {count} cluster CA(s)", count=count)
        return count

    async def rpc_node_cert_request(self) -> str:
        """Make a new key for this node and return a certificate request for it.

        The key stays here until :meth:`rpc_node_cert_install` brings the
        signed certificate; a newer request replaces an older one.
        """
        key, csr = await threads.deferToThread(make_csr, self.node_name)
        self._pending_key = key
        return csr.decode()

    async def rpc_node_cert_install(self, cert: str) -> str:
        """Take the certificate signed for the last request and serve with it at once."""
        if not isinstance(cert, str):
            raise OpPrereqError("node_cert_install: cert must be a PEM string")
        key = self._pending_key
        if key is None:
            raise OpPrereqError(
                "node_cert_install: no certificate request is pending on this node"
                " (did the node daemon restart?): request a new one"
            )

        def install() -> tuple[str, NodeCredentials]:
            signed = load_certificate(cert.encode(), "node_cert_install")
            if not public_key_matches(key, signed):
                raise OpPrereqError(
                    "node_cert_install: the certificate is not for the key this node made"
                )
            if common_name(signed) != self.node_name:
                raise OpPrereqError(
                    f"node_cert_install: the certificate names {common_name(signed)!r},"
                    f" not this node ({self.node_name})"
                )
            if not self._creds.signed(signed):
                raise OpPrereqError("node_cert_install: no CA this node trusts signed it")
            path = node_cert_file()
            old = path.read_bytes()
            write_atomically(path, key + cert.encode(), 0o600)
            try:
                return fingerprint(signed), self._live.read()
            except CorralError:
                write_atomically(path, old, 0o600)
                raise

        digest, creds = await threads.deferToThread(install)
        self._live.use(creds)
        self._pending_key = None
        log.info("serving with a new node certificate ({digest})", digest=digest[:16])
        return digest

    async def rpc_demote(self) -> None:
        """This node is no master candidate any more: drop its config replica and CA key."""

        def drop() -> None:
            self._config_path.unlink(missing_ok=True)
            self._ca_key_path.unlink(missing_ok=True)

        async with self._push_lock:
            await threads.deferToThread(drop)
            self._config_serial = 0

    async def rpc_node_leave(self) -> None:
        """This node was removed from the cluster: forget it, then stop this daemon.

        The answer goes out first; the daemon stops a moment later. Instance
        disks and other driver state stay: they are the operator's to clean.
        """

        def forget() -> None:
            for path in (self._config_path, node_cert_file(), ca_cert_file(), ca_key_file()):
                path.unlink(missing_ok=True)
            for entry in self._state_dir.iterdir():
                if entry.name.startswith(ssconf.PREFIX):
                    entry.unlink()

        async with self._push_lock:
            await threads.deferToThread(forget)
        log.info("removed from the cluster: stopping")
        self._reactor.callLater(0.5, self._reactor.stop)

    async def rpc_config_serial(self) -> int:
        """The serial of this node's config replica (0 if it has none)."""
        return await threads.deferToThread(self._replica_serial)

    async def rpc_config_push(self, serial: int, document: bytes) -> int:
        """Keep a config replica; one older than the node has is refused.

        The document is the master's config file, byte for byte; it is
        checked to be a config of the serial announced and written as it
        came, so a replica is exactly the master's file.
        """
        if not isinstance(serial, int) or isinstance(serial, bool):
            raise OpPrereqError("config_push: needs an integer serial")
        found = _document_serial(document)
        if found != serial:
            raise OpPrereqError(
                f"config_push: the document's serial ({found}) is not the announced {serial}"
            )
        async with self._push_lock:
            current = await threads.deferToThread(self._replica_serial)
            if serial < current:
                raise StaleError(f"config of serial {serial} refused: node has serial {current}")
            if serial > current:  # equal: a repeated push after a lost answer
                await threads.deferToThread(write_atomically, self._config_path, document)
                self._config_serial = serial
        return serial
