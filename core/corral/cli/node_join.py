"""``corral-node-join``: run on a new node to get its cluster certificate with a join token.

The token comes from ``gnt-node join-token NODE`` on the master; afterwards
``gnt-node add NODE`` on the master makes the node a member.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from corral.api.errors import CorralError
from corral.bootstrap import join_cluster
from corral.cli.options import stamp
from corral.hostname import check_name
from corral.hostname import is_ip
from corral.hostname import resolve
from corral.hostname import this_node

if TYPE_CHECKING:
    from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="corral-node-join",
        description="Get this node a certificate of the cluster whose master made TOKEN,"
        " and start its node daemon. Then run 'gnt-node add NODE' on the master.",
    )
    parser.add_argument(
        "--primary-ip",
        metavar="ADDRESS",
        help="this node's primary address (default: what its name resolves to)",
    )
    parser.add_argument("token", metavar="TOKEN", help="the token 'gnt-node join-token' printed")
    args = parser.parse_args(argv)
    try:
        name = check_name(this_node(), "node name (from the host name or $CORRAL_HOSTNAME)")
        primary_ip = args.primary_ip or resolve(name, "this node's name", "--primary-ip")
        if not is_ip(primary_ip):
            raise CorralError(f"--primary-ip: {primary_ip!r} is not an IP address")
        master = join_cluster(args.token, primary_ip, name, stamp)
    except CorralError as err:
        print(f"Failure: {err}", file=sys.stderr)
        return 1
    stamp(f"Node {name} holds a certificate of the cluster; on {master}, run: gnt-node add {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
