"""``corral-masterd``: serve LUXI, run the job queue.

Runs in the foreground (a service manager or ``bin/vcluster`` supervises
it), logs to standard error, and stops cleanly on SIGTERM/SIGINT: running
jobs are interrupted and, like after a crash, recovered at the next start.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from twisted.internet import defer
from twisted.internet import endpoints
from twisted.internet import task
from twisted.logger import Logger
from twisted.logger import globalLogBeginner
from twisted.logger import textFileLogObserver

from corral import __version__
from corral.api.errors import CorralError
from corral.cmdlib.processor import Processor
from corral.jobs.queue import JobQueue
from corral.jobs.store import JobStore
from corral.locking import LockManager
from corral.luxi.server import LuxiServerFactory
from corral.masterd.handler import MasterHandler
from corral.paths import data_dir
from corral.paths import luxi_socket
from corral.paths import queue_dir
from corral.plugins.manager import build_plugin_manager

log = Logger()


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
        "--max-running-jobs", type=int, default=20, help="jobs that may run at once (default 20)"
    )
    parser.add_argument(
        "--io-threads", type=int, default=32, help="threads for job-file writes (default 32)"
    )
    return parser.parse_args(argv)


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
    locks = LockManager(reactor)
    queue = JobQueue(
        reactor, JobStore(queue_path), Processor(pm), locks, pm, max_running=args.max_running_jobs
    )
    report = await queue.start()
    handler = MasterHandler(queue, data_dir() / "watcher.pause")
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
    globalLogBeginner.beginLoggingTo([textFileLogObserver(sys.stderr)], redirectStandardIO=False)
    os.umask(0o027)

    async def run(reactor: Any) -> None:
        try:
            await serve(reactor, args)
        except CorralError as err:
            log.error("corral-masterd cannot start: {err}", err=err)
            raise SystemExit(1) from None

    task.react(lambda reactor: defer.Deferred.fromCoroutine(run(reactor)))


if __name__ == "__main__":
    main()
