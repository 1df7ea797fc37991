"""``gnt-cluster verify``: compare the config with what every node reports.

Each problem is one line of the job's log as Ganeti prints it,
``  - ERROR: node node2.example.com: <what>`` (or ``WARNING``), or with
``--error-codes`` ``ERROR:ENODERPC:node:node2.example.com:<what>``; the
codes are Ganeti's, so ``--ignore-errors=ENODEN1`` works as there. The
result is whether no error (warnings allowed) was found.
"""

from __future__ import annotations

import time
from collections import defaultdict
from typing import TYPE_CHECKING
from typing import Any

from corral import __version__
from corral.api.errors import PluginError
from corral.cmdlib.base import LogicalUnit
from corral.config.check import check_config
from corral.config.inheritance import effective_beparams
from corral.config.writer import target
from corral.plugins.kinds import DriverKind
from corral.rpc.protocol import PROTOCOL_VERSION

if TYPE_CHECKING:
    from corral.config.objects import ConfigData
    from corral.config.objects import Node

#: Ganeti's limits: clock skew (seconds) and certificate expiry (days).
MAX_CLOCK_SKEW = 150.0
CERT_WARN_DAYS = 30
CERT_ERROR_DAYS = 7

ERROR, WARNING = "ERROR", "WARNING"


class LUClusterVerify(LogicalUnit):
    """Verify the whole cluster in one job (Ganeti splits it per group; the checks are the same)."""

    OP_ID = "OP_CLUSTER_VERIFY"
    REQ_BGL = False

    async def execute(self) -> Any:
        self.bad = False
        self.ignored = set(self.op.ignore_errors or [])
        cfg = self.master.config
        self._config(cfg)
        nodes = sorted(cfg.nodes.values(), key=lambda n: n.name)
        online = [n for n in nodes if not n.offline]
        self.feedback(f"* Gathering data ({len(online)} nodes)")
        cluster = cfg.cluster
        started = time.time()
        answers = await self.master.rpc.call_many(
            [target(n) for n in online],
            "verify",
            {
                "hypervisors": list(cluster.enabled_hypervisors),
                "disk_templates": list(cluster.enabled_disk_templates),
            },
            timeout=60,
        )
        finished = time.time()
        data: dict[str, dict[str, Any]] = {}
        self.feedback("* Verifying node status")
        for node in online:
            result = answers[node.name]
            if not result.ok:
                self._report(
                    ERROR, "ENODERPC", "node", node.name, f"while contacting node: {result.error}"
                )
                continue
            data[node.uuid] = result.result
            self._node(cfg, node, result.result, started, finished)
        self.feedback("* Verifying configuration file consistency")
        self._files(cfg, online, data)
        self.feedback("* Verifying instance status")
        self._instances(cfg, data)
        self.feedback("* Verifying orphan volumes")
        self._volumes(cfg, data)
        self.feedback("* Verifying N+1 Memory redundancy")
        self._n_plus_one(cfg, data)
        offline = [n.name for n in nodes if n.offline]
        if offline:
            self.feedback("* Other Notes")
            self.feedback(f"  - NOTICE: {len(offline)} offline node(s) found.")
        return not self.bad

    # -- reporting ---------------------------------------------------------------

    def _report(self, level: str, code: str, kind: str, name: str, message: str) -> None:
        if code in self.ignored:
            level = WARNING
        if level == ERROR:
            self.bad = True
        if self.op.error_codes:
            self.feedback(f"  - {level}:{code}:{kind}:{name}:{message}")
        else:
            self.feedback(f"  - {level}: {kind} {name}: {message}")

    # -- checks ------------------------------------------------------------------

    def _config(self, cfg: ConfigData) -> None:
        self.feedback("* Verifying cluster config")
        for problem in check_config(cfg, self.master.registry):
            self._report(ERROR, "ECLUSTERCFG", "cluster", cfg.cluster.cluster_name, problem)
        self.feedback("* Verifying all nodes belong to an existing group")
        for node in cfg.nodes.values():
            if node.group not in cfg.nodegroups:
                self._report(
                    ERROR,
                    "ECLUSTERDANGLINGNODES",
                    "node",
                    node.name,
                    f"node is in unknown group {node.group}",
                )
        for name, reason in sorted(self.master.writer.behind.items()):
            behind = cfg.node_by_name(name)
            if behind is not None and not behind.offline:
                self._report(
                    WARNING,
                    "ENODEFILECHECK",
                    "node",
                    name,
                    f"missed the last config push ({reason}); it is retried",
                )

    def _node(
        self, cfg: ConfigData, node: Node, info: dict[str, Any], started: float, finished: float
    ) -> None:
        name = node.name
        master = cfg.nodes[cfg.cluster.master_node].name
        if info.get("protocol") != PROTOCOL_VERSION:
            self._report(
                ERROR,
                "ENODEVERSION",
                "node",
                name,
                f"incompatible protocol versions: master {PROTOCOL_VERSION},"
                f" node {info.get('protocol')}",
            )
        elif info.get("version") != __version__:
            self._report(
                WARNING,
                "ENODEVERSION",
                "node",
                name,
                f"software version mismatch: master {__version__}, node {info.get('version')}",
            )
        node_time = float(info.get("time", 0.0))
        if node_time < started - MAX_CLOCK_SKEW or node_time > finished + MAX_CLOCK_SKEW:
            skew = max(started - node_time, node_time - finished)
            self._report(
                ERROR,
                "ENODETIME",
                "node",
                name,
                f"Node time diverges by at least {skew:.1f}s from master node time ({master})",
            )
        cert = info.get("cert", {})
        if cert.get("name") != name or not cert.get("signed"):
            self._report(
                ERROR,
                "ECLUSTERCERT",
                "node",
                name,
                "its certificate is not the cluster CA's one for this node",
            )
        if cert.get("trusted_cas", 1) > 1:
            self._report(
                WARNING,
                "ECLUSTERCERT",
                "node",
                name,
                f"it trusts {cert['trusted_cas']} cluster CAs: a CA renewal did not finish;"
                " run 'gnt-cluster renew-crypto --new-node-certificates'",
            )
        for what, days in (
            ("node certificate", cert.get("days_left")),
            ("cluster CA certificate", cert.get("ca_days_left")),
        ):
            if days is None:
                continue
            if days < 0:
                self._report(
                    ERROR,
                    "ECLUSTERCERT",
                    "node",
                    name,
                    f"the {what} has expired: renew it with 'gnt-cluster renew-crypto'",
                )
            elif days < CERT_ERROR_DAYS:
                self._report(
                    ERROR, "ECLUSTERCERT", "node", name, f"the {what} expires in {days:.0f} days"
                )
            elif days < CERT_WARN_DAYS:
                self._report(
                    WARNING, "ECLUSTERCERT", "node", name, f"the {what} expires in {days:.0f} days"
                )
        for hv, hv_info in sorted(info.get("hv", {}).items()):
            for problem in hv_info.get("problems", []):
                self._report(ERROR, "ENODEHV", "node", name, f"hypervisor {hv}: {problem}")
        for template, st_info in sorted(info.get("storage", {}).items()):
            for problem in st_info.get("problems", []):
                self._report(
                    ERROR, "ENODESETUP", "node", name, f"disk template {template}: {problem}"
                )

    def _files(self, cfg: ConfigData, online: list[Node], data: dict[str, dict[str, Any]]) -> None:
        master = cfg.nodes[cfg.cluster.master_node]
        own = self.master.writer.file_digest()
        ca_digests: dict[str | None, list[str]] = defaultdict(list)
        for node in online:
            info = data.get(node.uuid)
            if info is None:
                continue
            files = info.get("files", {})
            ca_digests[files.get("cluster-ca.pem")].append(node.name)
            if node.master_candidate and node.uuid != master.uuid:
                if files.get("config.data") is None:
                    self._report(
                        ERROR,
                        "ENODEFILECHECK",
                        "node",
                        node.name,
                        "the config file is missing on this master candidate",
                    )
                elif files.get("config.data") != own:
                    self._report(
                        ERROR,
                        "ENODEFILECHECK",
                        "node",
                        node.name,
                        "the config file differs from the master's",
                    )
            elif not node.master_candidate and files.get("config.data") is not None:
                self._report(
                    WARNING,
                    "ENODEFILECHECK",
                    "node",
                    node.name,
                    "holds a config file but is not a master candidate",
                )
            if info.get("ssconf_serial") != cfg.serial_no:
                self._report(
                    ERROR,
                    "ENODEFILECHECK",
                    "node",
                    node.name,
                    f"ssconf is at config serial {info.get('ssconf_serial')},"
                    f" the config at {cfg.serial_no}",
                )
        if len(ca_digests) > 1:
            variants = "; ".join(
                f"{len(names)} node(s): {', '.join(sorted(names))}" for names in ca_digests.values()
            )
            self._report(
                ERROR,
                "ECLUSTERFILECHECK",
                "cluster",
                cfg.cluster.cluster_name,
                f"File cluster-ca.pem found with {len(ca_digests)} different checksums"
                f" ({variants})",
            )

    def _instances(self, cfg: ConfigData, data: dict[str, dict[str, Any]]) -> None:
        running_on: dict[str, list[str]] = defaultdict(list)
        for node_uuid, info in data.items():
            for inst_name in info.get("instances") or {}:
                running_on[inst_name].append(node_uuid)
        known = {i.name for i in cfg.instances.values()}
        for inst in sorted(cfg.instances.values(), key=lambda i: i.name):
            primary = cfg.nodes[inst.primary_node]
            where = running_on.get(inst.name, [])
            if primary.offline or inst.primary_node not in data:
                continue  # reported with the node
            for node_uuid in where:
                if node_uuid != inst.primary_node:
                    self._report(
                        ERROR,
                        "EINSTANCEWRONGNODE",
                        "instance",
                        inst.name,
                        f"instance should not run on node {cfg.nodes[node_uuid].name}",
                    )
            up = inst.primary_node in where
            if str(inst.admin_state) == "up" and not up:
                self._report(
                    ERROR,
                    "EINSTANCEDOWN",
                    "instance",
                    inst.name,
                    f"instance not running on its primary node {primary.name}",
                )
            elif str(inst.admin_state) != "up" and up:
                self._report(
                    ERROR,
                    "EINSTANCEDOWN",
                    "instance",
                    inst.name,
                    f"instance is marked as {inst.admin_state} but running on {primary.name}",
                )
        for name in sorted(running_on.keys() - known):
            for node_uuid in running_on[name]:
                self._report(
                    ERROR,
                    "ENODEORPHANINSTANCE",
                    "node",
                    cfg.nodes[node_uuid].name,
                    f"instance {name} is unknown",
                )

    def _volumes(self, cfg: ConfigData, data: dict[str, dict[str, Any]]) -> None:
        expected: dict[str, set[str]] = defaultdict(set)  # node uuid -> logical ids
        for inst in cfg.instances.values():
            for disk in inst.disks:
                if disk.logical_id is None:
                    continue
                for node_uuid in disk.nodes or (inst.primary_node,):
                    expected[node_uuid].add(disk.logical_id)
        shared = {n for n in cfg.cluster.enabled_disk_templates if self._shared(n)}
        for node_uuid, info in data.items():
            node = cfg.nodes[node_uuid]
            present = {
                v["logical_id"]
                for template, st in info.get("storage", {}).items()
                if template not in shared
                for v in st.get("volumes", [])
            }
            for inst in cfg.instances.values():
                if inst.disk_template in shared:
                    continue
                for idx, disk in enumerate(inst.disks):
                    if disk.logical_id in expected[node_uuid] and disk.logical_id not in present:
                        self._report(
                            ERROR,
                            "EINSTANCEMISSINGDISK",
                            "instance",
                            inst.name,
                            f"disk/{idx} is missing on node {node.name} ({disk.logical_id})",
                        )
            for logical_id in sorted(present - expected[node_uuid]):
                self._report(
                    ERROR, "ENODEORPHANLV", "node", node.name, f"volume {logical_id} is unknown"
                )

    def _shared(self, template: str) -> bool:
        """Whether every node sees the template's disks (then volumes are not per node)."""
        try:
            cls = self.master.registry.driver_class(DriverKind.STORAGE, template)
        except PluginError:
            return False  # reported with the config checks
        return bool(getattr(cls, "SHARED", False))

    def _n_plus_one(self, cfg: ConfigData, data: dict[str, dict[str, Any]]) -> None:
        """Whether each secondary node could take the instances of any one failed primary."""
        hv = cfg.cluster.enabled_hypervisors[0]
        needed: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        for inst in cfg.instances.values():
            be = effective_beparams(cfg.cluster, inst)
            if not be["auto_balance"]:
                continue
            for secondary in inst.secondary_nodes:
                needed[secondary][inst.primary_node] += int(be["minmem"])
        for secondary, by_primary in sorted(needed.items()):
            info = data.get(secondary)
            if info is None:
                continue
            free = info.get("hv", {}).get(hv, {}).get("memory_free")
            if free is None:
                continue
            for primary, memory in sorted(by_primary.items()):
                if memory > free:
                    self._report(
                        ERROR,
                        "ENODEN1",
                        "node",
                        cfg.nodes[secondary].name,
                        "not enough memory to accommodate instance failovers should"
                        f" node {cfg.nodes[primary].name} fail ({memory} MiB needed,"
                        f" {free} MiB available)",
                    )
