"""``corral-noded``: the node daemon, HTTPS JSON-RPC with mutual TLS.

It runs on every node, in the foreground (a service manager or
``corral-daemon-util`` supervises it), and serves only once the node holds
a certificate from the cluster CA: its name is the one in that certificate.
"""

from __future__ import annotations

import argparse
from typing import Any

from twisted.internet import defer
from twisted.internet import endpoints
from twisted.logger import Logger

from corral import __version__
from corral import ssconf
from corral.api.context import DriverContext
from corral.crypto.ca import common_name
from corral.crypto.tls import LiveCredentials
from corral.foreground import run_daemon
from corral.noded.methods import NodeMethods
from corral.noded.server import RpcResource
from corral.noded.server import RpcSite
from corral.paths import ca_cert_file
from corral.paths import data_dir
from corral.paths import node_cert_file
from corral.plugins.kinds import DriverKind
from corral.plugins.registry import DriverRegistry
from corral.rpc.protocol import DEFAULT_PORT

log = Logger()


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="corral-noded",
        description="The corral node daemon: node-local work for the master, over mutual TLS.",
    )
    parser.add_argument("--version", action="version", version=f"corral-noded {__version__}")
    parser.add_argument(
        "-b",
        "--bind",
        default="0.0.0.0",
        help="address to listen on (default: all IPv4 addresses)",
    )
    parser.add_argument(
        "-p",
        "--port",
        type=int,
        default=None,
        help=f"TCP port (default: the cluster's, from ssconf, else {DEFAULT_PORT})",
    )
    return parser.parse_args(argv)


async def serve(reactor: Any, args: argparse.Namespace) -> None:
    state = data_dir()
    live = LiveCredentials.load(ca_cert_file(), node_cert_file())
    name = common_name(live.creds.cert)
    port = args.port or int(ssconf.read(state, "rpc_port") or DEFAULT_PORT)
    hypervisors = ssconf.read_lines(state, "hypervisor_list")
    registry = DriverRegistry(
        DriverContext.create(reactor, state, name),
        {DriverKind.HYPERVISOR: hypervisors} if hypervisors else None,
    )
    methods = NodeMethods(reactor, name, live, state, registry)
    site = RpcSite(RpcResource(methods))
    endpoint = endpoints.SSL4ServerEndpoint(
        reactor, port, live.server_creator(), interface=args.bind
    )
    listening = await endpoint.listen(site)
    log.info(
        "corral-noded {version} for node {name} listens on {bind}:{port}",
        version=__version__,
        name=name,
        bind=args.bind,
        port=port,
    )
    reactor.addSystemEventTrigger("before", "shutdown", listening.stopListening)
    await defer.Deferred()


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    run_daemon("corral-noded", lambda reactor: serve(reactor, args))


if __name__ == "__main__":
    main()
