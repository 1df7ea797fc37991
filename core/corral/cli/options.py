"""Option values in Ganeti's syntax (``key=val,...``, ``yes``/``no``, ``30m``) and ``stamp``.

Kept apart from the commands so that every ``gnt-*`` tool can use them
without importing what ``gnt-cluster`` needs (bootstrap, TLS, RPC): a
command's start-up time is what an operator waits for each time.
"""

from __future__ import annotations

import argparse
import re
import time
from typing import Any


def stamp(message: str) -> None:
    print(f"{time.strftime('%a %b %d %H:%M:%S %Y')} {message}", flush=True)


# -- option values (Ganeti's syntax) ---------------------------------------------


def _key_values(text: str) -> dict[str, Any]:
    """``a=1,b=x`` -> {"a": "1", "b": "x"}; ``no_a`` / ``-a`` set a key to False."""
    out: dict[str, Any] = {}
    for item in filter(None, text.split(",")):
        key, sep, value = item.partition("=")
        if sep:
            out[key.strip()] = value
        elif key.startswith("no_"):
            out[key[3:]] = False
        elif key.startswith("-"):
            out[key[1:]] = None
        else:
            out[key] = True
    return out


def key_values(text: str) -> dict[str, Any]:
    """An argparse type for ``-B``/``-N``: ``key=value[,key=value...]``."""
    try:
        return _key_values(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def hv_key_values(text: str) -> tuple[str, dict[str, Any]]:
    """An argparse type for ``-H``: ``hypervisor:key=value[,...]``."""
    name, sep, rest = text.partition(":")
    if not name:
        raise argparse.ArgumentTypeError(f"expected hypervisor:key=value, got {text!r}")
    return name, _key_values(rest) if sep else {}


def name_list(text: str) -> tuple[str, ...]:
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    if not names:
        raise argparse.ArgumentTypeError("the list is empty")
    return names


def yes_no(text: str) -> bool:
    if text.lower() in ("yes", "true"):
        return True
    if text.lower() in ("no", "false"):
        return False
    raise argparse.ArgumentTypeError(f"expected yes or no, got {text!r}")


_TIMESPEC = re.compile(r"^(\d+)([smhdw]?)$")
_SPAN = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def timespec(text: str) -> int:
    """``30``, ``30s``, ``5m``, ``2h``, ``1d``, ``1w`` in seconds (Ganeti's ParseTimespec)."""
    match = _TIMESPEC.match(text.strip())
    if not match:
        raise argparse.ArgumentTypeError(f"invalid time specification {text!r} (e.g. 30m, 2h, 1d)")
    return int(match.group(1)) * _SPAN[match.group(2)]


_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$")
_UNITS = {"": 1, "m": 1, "mb": 1, "mib": 1, "g": 1024, "gb": 1024, "gib": 1024,
          "t": 1024 * 1024, "tb": 1024 * 1024, "tib": 1024 * 1024}  # fmt: skip


def parse_size(text: str) -> int:
    """Ganeti's ParseUnit: ``512``, ``512m``, ``10G``, ``1.5t`` in MiB, rounded up to 4 MiB."""
    match = _SIZE.match(str(text))
    if not match:
        raise argparse.ArgumentTypeError(f"Invalid size {text!r} (e.g. 512m, 10g, 1t)")
    unit = match.group(2).lower()
    if unit not in _UNITS:
        raise argparse.ArgumentTypeError(
            f"Invalid size unit {match.group(2)!r} in {text!r} (use m, g or t)"
        )
    value = int(-(-float(match.group(1)) * _UNITS[unit] // 1))
    return value + (-value % 4)


def add_group_move_options(parser: argparse.ArgumentParser) -> None:
    """``-I`` and ``--to GROUP...``, as ``gnt-instance change-group`` and
    ``gnt-group evacuate`` share them."""
    parser.add_argument(
        "-I", "--iallocator", metavar="NAME", help="the allocator that chooses the nodes"
    )
    parser.add_argument(
        "--to",
        dest="to",
        action="append",
        default=[],
        metavar="GROUP",
        help="a group to move into (repeat for more; default: every other group)",
    )
