"""``corral-masterd``: serve LUXI, run the job queue.

Runs in the foreground (a service manager or ``bin/vcluster`` supervises
it), logs to standard error, and stops cleanly on SIGTERM/SIGINT: running
jobs are interrupted and, like after a crash, recovered at the next start.
"""

from __future__ import annotations

import argparse
import functools
from pathlib import Path
from typing import TYPE_CHECKING
from typing import Any

from twisted.internet import defer
from twisted.internet import endpoints
from twisted.internet import task
from twisted.internet import threads
from twisted.logger import Logger

from corral import __version__
from corral import masterip
from corral.api.context import DriverContext
from corral.api.errors import CorralError
from corral.cmdlib.processor import Processor
from corral.config.store import ConfigStore
from corral.config.writer import ConfigWriter
from corral.config.writer import target
from corral.crypto.ca import common_name
from corral.crypto.tls import LiveCredentials
from corral.foreground import run_daemon
from corral.hooks.plugin import HookScripts
from corral.hooks.scripts import HookResult
from corral.hooks.scripts import HookStatus
from corral.jobs.queue import JobQueue
from corral.jobs.replication import QueueReplicator
from corral.jobs.store import JobStore
from corral.locking import LockManager
from corral.luxi.server import LuxiServerFactory
from corral.masterd.cakey import CaKeyKeeper
from corral.masterd.context import MasterContext
from corral.masterd.handler import MasterHandler
from corral.paths import ca_cert_file
from corral.paths import ca_key_file
from corral.paths import config_file
from corral.paths import data_dir
from corral.paths import luxi_socket
from corral.paths import node_cert_file
from corral.paths import queue_dir
from corral.paths import ssconf_dir
from corral.plugins.kinds import DriverKind
from corral.plugins.manager import build_plugin_manager
from corral.plugins.registry import DriverRegistry
from corral.rpc.client import RpcClient

if TYPE_CHECKING:
    import pluggy

    from corral.config.objects import ConfigData

log = Logger()


#: How often nodes that missed a config push are offered it again (seconds).
CATCH_UP_INTERVAL = 10.0


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="corral-masterd", description="The corral master daemon (LUXI and job queue)."
    )
    parser.add_argument("--version", action="version", version=f"corral-masterd {__version__}")
    parser.add_argument(
        "--socket",
        type=Path,
        default=None,
        help="LUXI socket (default: var/run/corral/socket/corral-master below $CORRAL_ROOTDIR)",
    )
    parser.add_argument(
        "--queue-dir",
        type=Path,
        default=None,
        help="job queue directory (default: var/lib/corral/queue below $CORRAL_ROOTDIR)",
    )
    parser.add_argument(
        "--max-running-jobs",
        type=int,
        default=20,
        help="jobs that may run at once without a cluster (default 20); in a cluster, its"
        " max_running_jobs parameter decides ('gnt-cluster modify --max-running-jobs')",
    )
    parser.add_argument(
        "--catch-up-interval",
        type=float,
        default=CATCH_UP_INTERVAL,
        metavar="SECONDS",
        help="how often nodes that missed a config push are offered it again"
        f" (default {CATCH_UP_INTERVAL:g})",
    )
    parser.add_argument(
        "--io-threads", type=int, default=32, help="threads for job-file writes (default 32)"
    )
    return parser.parse_args(argv)


async def check_still_master(rpc: RpcClient, cfg: ConfigData, me: str) -> None:
    """Refuse to start where another node took over meanwhile (the old master steps down).

    A node that names another master at a newer config serial than ours
    wins: this one was failed over while it was away.
    """
    others = [target(n) for u, n in cfg.nodes.items() if u != cfg.cluster.master_node]
    if not others:
        return
    answers = await rpc.call_many(others, "master_info", timeout=10)
    for result in answers.values():
        info = result.result if result.ok and isinstance(result.result, dict) else None
        if info is None or info.get("master") in (None, me):
            continue
        if int(info.get("ssconf_serial", 0)) > cfg.serial_no:
            raise CorralError(
                f"this node ({me}) is no longer the master: node {info.get('node')} names"
                f" {info['master']} as master at config serial {info['ssconf_serial']}, newer"
                f" than this node's {cfg.serial_no}; this node stays a regular member"
            )


async def load_cluster(reactor: Any, pm: pluggy.PluginManager) -> MasterContext | None:
    """The cluster this node is master of, or None where there is no config yet.

    Without a config the daemon still runs jobs that need no cluster (test
    delays on the master), which is how the job machinery is tested alone.
    """
    path = config_file()
    if not path.exists():
        log.info("no cluster config at {path}: serving jobs only", path=path)
        return None
    store = ConfigStore(path)
    cfg = await threads.deferToThread(store.load)
    live = await threads.deferToThread(
        LiveCredentials.load, ca_cert_file(), node_cert_file(), ca_key_file()
    )
    me = common_name(live.creds.cert)
    master_name = cfg.nodes[cfg.cluster.master_node].name
    if me != master_name:
        raise CorralError(
            f"this node ({me}) is not the master of cluster {cfg.cluster.cluster_name}"
            f" ({master_name} is): start corral-masterd there, or run"
            " 'gnt-cluster master-failover' here"
        )
    # With a context: allocator plugins run here (an external one runs a program).
    registry = DriverRegistry(
        DriverContext.create(reactor, data_dir(), me),
        enabled={
            DriverKind.HYPERVISOR: cfg.cluster.enabled_hypervisors,
            DriverKind.STORAGE: cfg.cluster.enabled_disk_templates,
        },
    )
    registry.load_enabled()
    rpc = RpcClient(reactor, None, port=cfg.cluster.rpc_port, tls_for=live.client_options)
    live.listeners.append(rpc.reset_tls)
    await check_still_master(rpc, cfg, me)
    writer = ConfigWriter(cfg, store, ssconf_dir(), rpc, registry, pm)
    await writer.warm()
    # Every other node hears from the master at once: after a failover this is
    # how they all learn of it (the catch-up runs when the daemon starts).
    for uuid, node in cfg.nodes.items():
        if uuid != cfg.cluster.master_node:
            writer.behind[node.name] = "the master daemon started"
    cluster = cfg.cluster
    await threads.deferToThread(
        masterip.change_logged, "start", cluster.master_ip, cluster.master_netmask,
        cluster.master_netdev, pm, log,
    )  # fmt: skip

    def stopping() -> defer.Deferred[None]:
        down = threads.deferToThread(
            masterip.change_logged, "stop", cluster.master_ip, cluster.master_netmask,
            cluster.master_netdev, pm, log,
        )  # fmt: skip
        down.addBoth(lambda _: defer.Deferred.fromCoroutine(rpc.close()))
        return down

    reactor.addSystemEventTrigger("before", "shutdown", stopping)
    log.info(
        "master of cluster {name}: {nodes} node(s), {instances} instance(s),"
        " config serial {serial}",
        name=cfg.cluster.cluster_name,
        nodes=len(cfg.nodes),
        instances=len(cfg.instances),
        serial=cfg.serial_no,
    )
    context = MasterContext(writer, rpc, registry, live)
    context.cakeys = CaKeyKeeper(rpc, context.candidates, live.creds.ca.key_pem)
    return context


async def _hooks_on_node(
    master: MasterContext, node: str, path: str, phase: str, env: dict[str, str]
) -> list[HookResult]:
    """One phase of an opcode's hook scripts on another node (``HookScripts.remote``)."""
    found = master.config.node_by_name(node)
    if found is None:
        raise CorralError(f"node {node} is not in the cluster")
    answer = await master.rpc.call(
        target(found), "hooks_run", {"path": path, "phase": phase, "env": env}, 3700
    )
    if not answer.ok:
        raise CorralError(answer.error or "no answer")
    return [
        HookResult(r["name"], HookStatus(r["status"]), r["output"], r.get("exit_code"))
        for r in answer.result
    ]


async def serve(reactor: Any, args: argparse.Namespace) -> None:
    socket_path = args.socket or luxi_socket()
    queue_path = args.queue_dir or queue_dir()
    socket_path.parent.mkdir(parents=True, exist_ok=True)
    queue_path.mkdir(parents=True, exist_ok=True)
    if socket_path.exists():
        socket_path.unlink()  # left by a daemon that died; we hold the only right to it
    # Job files are written (and fsync'd) from threads: enough of them for the
    # filesystem journal to commit many jobs' writes together.
    reactor.suggestThreadPoolSize(args.io_threads)
    pm = build_plugin_manager()
    master = await load_cluster(reactor, pm)
    locks = LockManager(reactor)
    replicator = None
    if master is not None:
        replicator = QueueReplicator(master.rpc, master.candidates, queue_path)
        keeper = master.cakeys
        master.writer.listeners.append(lambda cfg: replicator.catch_up())
        master.writer.listeners.append(lambda cfg: keeper.sync())
    scripts = pm.get_plugin(HookScripts.NAME)
    if master is not None and isinstance(scripts, HookScripts):
        scripts.remote = functools.partial(_hooks_on_node, master)
    queue = JobQueue(
        reactor,
        JobStore(queue_path),
        Processor(pm, master),
        locks,
        pm,
        max_running=args.max_running_jobs,
        replicate=replicator.replicate if replicator is not None else None,
    )
    if master is not None:  # the cluster's parameter decides, and follows its changes
        queue.set_max_running(master.config.cluster.max_running_jobs)

        async def follow_limit(cfg: Any) -> None:
            queue.set_max_running(cfg.cluster.max_running_jobs)

        master.writer.listeners.append(follow_limit)
    report = await queue.start()
    handler = MasterHandler(queue, data_dir() / "watcher.pause", master)
    if master is not None and replicator is not None:

        async def catch_up() -> None:
            await master.writer.catch_up()
            await replicator.catch_up()
            await keeper.sync()

        loop = task.LoopingCall(lambda: defer.Deferred.fromCoroutine(catch_up()))
        loop.clock = reactor
        # At once: candidates get the whole job queue before new jobs count on them.
        loop.start(args.catch_up_interval, now=True).addErrback(
            lambda f: log.failure("replica catch-up stopped", f)
        )
    endpoint = endpoints.UNIXServerEndpoint(reactor, str(socket_path), mode=0o660)  # type: ignore[no-untyped-call]
    port = await endpoint.listen(LuxiServerFactory(handler))  # type: ignore[no-untyped-call]
    log.info(
        "corral-masterd {version} serves LUXI on {socket}; {pending} pending job(s) in {queue}",
        version=__version__,
        socket=socket_path,
        queue=queue_path,
        pending=len(report.pending),
    )
    reactor.addSystemEventTrigger("before", "shutdown", port.stopListening)
    # Serve until SIGTERM/SIGINT stops the reactor (task.react then exits with 0).
    await defer.Deferred()


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    run_daemon("corral-masterd", lambda reactor: serve(reactor, args))


if __name__ == "__main__":
    main()
