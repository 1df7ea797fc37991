"""Names and addresses: this node's name, and resolving names as Ganeti does.

``$CORRAL_HOSTNAME`` overrides the machine's name, as Ganeti's
``GANETI_HOSTNAME`` does for virtual clusters where several nodes share
one kernel (and so one hostname).
"""

from __future__ import annotations

import ipaddress
import os
import re
import socket

from corral.api.errors import OpPrereqError

_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


def this_node() -> str:
    """The fully qualified name of this node."""
    return os.environ.get("CORRAL_HOSTNAME") or socket.getfqdn()


def check_name(name: str, what: str = "host name") -> str:
    """``name`` in lower case, or a clear error if it is not a valid DNS name."""
    lowered = name.lower().rstrip(".")
    if not lowered or len(lowered) > 253 or not all(_LABEL.match(p) for p in lowered.split(".")):
        raise OpPrereqError(f"invalid {what} {name!r}: use letters, digits, '-' and dots")
    return lowered


def is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def resolve(name: str, what: str = "host name", option: str | None = None) -> str:
    """The IPv4 address of ``name`` (blocking: CLIs call it, daemons do not)."""
    try:
        infos = socket.getaddrinfo(name, None, socket.AF_INET, socket.SOCK_STREAM)
    except OSError as err:
        hint = f", or give the address with {option}" if option else ""
        raise OpPrereqError(
            f"cannot resolve {what} {name!r} ({err.strerror or err}): fix DNS or /etc/hosts{hint}"
        ) from None
    return str(infos[0][4][0])
