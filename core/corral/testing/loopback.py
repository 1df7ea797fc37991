"""Several corral nodes on one machine, each with its own root, name and loopback address.

Every node's daemons are the real ones, started by the real commands
(``gnt-cluster init``, ``corral-node-join``) with ``CORRAL_ROOTDIR`` and
``CORRAL_HOSTNAME`` set, and listening on an address of its own in
127.0.0.0/8 (all of which is loopback on Linux), so one port serves every
node as on a real cluster. ``bin/vcluster`` does the same with network
namespaces; this is the quicker variant for tests that need no isolation.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import random
import socket
import ssl
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from corral.luxi.client import Client

BIN = Path(sys.executable).parent
#: Each cluster gets its own 127.X.Y.0/24, so no test sees another's daemons.
_NETS = itertools.count(1)


@dataclass
class VNode:
    name: str
    ip: str
    root: Path

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "CORRAL_ROOTDIR": str(self.root),
            "CORRAL_HOSTNAME": self.name,
            "GNT_DISABLE_PLUGIN_AUTOLOAD": "1",
            "PATH": f"{BIN}:{os.environ.get('PATH', '')}",
        }

    def run(
        self, *argv: str, check: bool = True, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [str(BIN / argv[0]), *argv[1:]], env=self.env(), capture_output=True, text=True,
            timeout=timeout,
        )  # fmt: skip
        if check and proc.returncode != 0:
            raise AssertionError(
                f"{' '.join(argv)} on {self.name} exited {proc.returncode}:\n"
                f"{proc.stdout}{proc.stderr}"
            )
        return proc

    def luxi(self) -> Client:
        return Client(self.root / "var/run/corral/socket/corral-master", timeout=60)

    @property
    def state(self) -> Path:
        return self.root / "var/lib/corral"

    def pem(self, name: str) -> bytes:
        return (self.state / name).read_bytes()


def _free_port(ips: list[str]) -> int:
    for _ in range(50):
        port = random.randint(20000, 45000)
        try:
            for ip in ips:
                with socket.socket() as sock:
                    sock.bind((ip, port))
        except OSError:
            continue
        return port
    raise RuntimeError("no free port")


class LoopbackCluster:
    """Up to 250 nodes; node 1 becomes the master with :meth:`init`."""

    def __init__(self, base: Path, count: int, domain: str = "example.com") -> None:
        net = next(_NETS)
        prefix = f"127.{100 + os.getpid() % 100}.{net % 250}"
        self.nodes = [
            VNode(f"node{i}.{domain}", f"{prefix}.{i}", base / f"node{i}")
            for i in range(1, count + 1)
        ]
        for node in self.nodes:  # with each node's own file storage (paths.node_local)
            (node.root / "srv/corral/file-storage").mkdir(parents=True)
        self.master_ip = f"{prefix}.254"
        self.port = _free_port([n.ip for n in self.nodes])
        self.name = f"cluster.{domain}"

    @property
    def master(self) -> VNode:
        return self.nodes[0]

    def init(self, *options: str) -> subprocess.CompletedProcess[str]:
        m = self.master
        return m.run(
            "gnt-cluster", "init", "--primary-ip", m.ip, "--master-ip", self.master_ip,
            "--rpc-port", str(self.port), "--master-netdev", "lo",
            *options, self.name,
        )  # fmt: skip

    def token(self, node: VNode) -> str:
        out = self.master.run("gnt-node", "join-token", node.name).stdout
        return out.splitlines()[1]

    def join(self, node: VNode) -> None:
        node.run("corral-node-join", "--primary-ip", node.ip, self.token(node))
        self.master.run("gnt-node", "add", "--primary-ip", node.ip, node.name)

    def stop(self) -> None:
        for node in self.nodes:
            for daemon in ("corral-masterd", "corral-noded"):
                with contextlib.suppress(Exception):
                    node.run("corral-daemon-util", "stop", daemon, check=False, timeout=40)


def https(
    ip: str,
    port: int,
    method: str,
    args: Any = None,
    *,
    server_name: str | None = None,
    ca_pem: bytes | None = None,
    client_pem: bytes | None = None,
    body: bytes | None = None,
    http_method: str = "POST",
    tmp: Path | None = None,
    content_length: int | None = None,
) -> tuple[int, Any]:
    """One raw HTTPS request to a node daemon: (status, decoded JSON body).

    ``ca_pem`` None means "do not check the server" (a client probing).
    Raises ssl.SSLError when the handshake is refused.
    """
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if ca_pem is None:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    else:
        context.load_verify_locations(cadata=ca_pem.decode())
    if client_pem is not None:
        assert tmp is not None
        path = tmp / f"client-{random.randint(0, 1 << 30)}.pem"
        path.write_bytes(client_pem)
        context.load_cert_chain(path)
    data = body if body is not None else json.dumps(args or {}).encode()
    with (
        socket.create_connection((ip, port), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname=server_name) as sock,
    ):
        sock.sendall(
            f"{http_method} /{method} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Content-Length: {content_length or len(data)}\r\nConnection: close\r\n\r\n".encode()
            + data
        )
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    raw_answer = b"".join(chunks)
    head, _, payload = raw_answer.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    return status, (json.loads(payload) if payload else None)
