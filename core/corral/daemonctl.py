"""Starting and stopping corral's daemons on this node (Ganeti's ``daemon-util``).

A daemon runs detached in its own session, logs to
``var/log/corral/<daemon>.log`` and leaves its pid in
``var/run/corral/<daemon>.pid``; starting waits until it answers (so the
caller learns at once if it cannot start, with the end of its log), and
stopping waits until it is gone. Everything is below ``$CORRAL_ROOTDIR``,
so the daemons of several virtual nodes can share one machine.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from itertools import pairwise
from typing import TYPE_CHECKING

from corral.api.errors import CorralError
from corral.paths import log_dir
from corral.paths import luxi_socket
from corral.paths import pid_file

if TYPE_CHECKING:
    from collections.abc import Callable


@dataclass(frozen=True)
class DaemonSpec:
    name: str
    module: str
    #: Whether the daemon answers, given the arguments it was started with.
    ready: Callable[[list[str]], bool]


def _noded_ready(args: list[str]) -> bool:
    from corral import ssconf
    from corral.paths import ssconf_dir
    from corral.rpc.protocol import DEFAULT_PORT

    address, port = "127.0.0.1", int(ssconf.read(ssconf_dir(), "rpc_port") or DEFAULT_PORT)
    for flag, value in pairwise(args):
        if flag in ("-b", "--bind") and value != "0.0.0.0":
            address = value
        elif flag in ("-p", "--port"):
            port = int(value)
    with contextlib.suppress(OSError), socket.create_connection((address, port), timeout=1):
        return True
    return False


def _masterd_ready(args: list[str]) -> bool:
    path = luxi_socket()
    for flag, value in pairwise(args):
        if flag == "--socket":
            path = type(path)(value)
    with (
        contextlib.suppress(OSError),
        socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock,
    ):
        sock.settimeout(1)
        sock.connect(str(path))
        return True
    return False


DAEMONS = {
    "corral-noded": DaemonSpec("corral-noded", "corral.noded.daemon", _noded_ready),
    "corral-masterd": DaemonSpec("corral-masterd", "corral.masterd.daemon", _masterd_ready),
}


class DaemonError(CorralError):
    """A daemon could not be started or stopped."""


def _spec(name: str) -> DaemonSpec:
    try:
        return DAEMONS[name]
    except KeyError:
        raise DaemonError(f"unknown daemon {name!r} (known: {', '.join(DAEMONS)})") from None


def running_pid(name: str) -> int | None:
    """The pid of the daemon if it runs (a stale pid file is ignored)."""
    try:
        pid = int(pid_file(name).read_text().strip())
    except (OSError, ValueError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        return pid
    try:  # a zombie (our own child, exited) does not run
        with open(f"/proc/{pid}/stat") as handle:
            if handle.read().rsplit(")", 1)[1].split()[0] == "Z":
                return None
    except OSError:
        return None
    return pid


def _log_tail(path: os.PathLike[str] | str, lines: int = 5) -> str:
    try:
        with open(path, errors="replace") as handle:
            return "".join(handle.readlines()[-lines:])
    except OSError:
        return ""


def start(name: str, args: list[str] | None = None, timeout: float = 30.0) -> int:
    """Start the daemon unless it runs; return its pid once it answers."""
    spec = _spec(name)
    args = list(args or [])
    pid = running_pid(name)
    if pid is not None:
        return pid
    log_path = log_dir() / f"{name}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    pid_file(name).parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", spec.module, *args],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
        )
    pid_file(name).write_text(f"{proc.pid}\n")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pid_file(name).unlink(missing_ok=True)
            raise DaemonError(
                f"{name} exited with status {proc.returncode} while starting; the end of"
                f" {log_path}:\n{_log_tail(log_path)}"
            )
        if spec.ready(args):
            return proc.pid
        time.sleep(0.05)
    stop(name)
    raise DaemonError(f"{name} did not answer within {timeout:g} s; see {log_path}")


def stop(name: str, timeout: float = 30.0) -> bool:
    """Stop the daemon (SIGTERM, then SIGKILL); False if it was not running."""
    _spec(name)
    pid = running_pid(name)
    if pid is None:
        pid_file(name).unlink(missing_ok=True)
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while running_pid(name) is not None:
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            deadline = time.monotonic() + 5
        time.sleep(0.05)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
    pid_file(name).unlink(missing_ok=True)
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="corral-daemon-util",
        description="Start, stop and check corral's daemons on this node (below $CORRAL_ROOTDIR).",
    )
    sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    for action, text in (
        ("start", "start a daemon unless it runs, and wait until it answers"),
        ("stop", "stop a daemon and wait until it is gone"),
        ("restart", "stop, then start a daemon"),
        ("check", "exit 0 if the daemon runs, 1 if not"),
    ):
        cmd = sub.add_parser(action, help=text, description=text)
        cmd.add_argument("daemon", choices=sorted(DAEMONS))
        if action in ("start", "restart"):
            cmd.add_argument("args", nargs=argparse.REMAINDER, help="arguments for the daemon")
    args = parser.parse_args(argv)
    try:
        if args.action in ("stop", "restart"):
            stop(args.daemon)
        if args.action in ("start", "restart"):
            print(f"{args.daemon} runs as pid {start(args.daemon, args.args)}")
        if args.action == "check":
            pid = running_pid(args.daemon)
            print(f"{args.daemon}: " + (f"running (pid {pid})" if pid else "not running"))
            return 0 if pid else 1
    except CorralError as err:
        print(f"Failure: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
