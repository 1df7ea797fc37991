"""Sizes on the command line (``8T``, ``64g``, ``100G``), always held in MiB.

As in Ganeti: no suffix, ``m``/``g``/``t`` (or ``mib``/``gib``/``tib`` in any
case) are binary units; ``M``/``G``/``T`` (or ``MB``/``GB``/``TB``) are SI
units, converted to MiB and rounded down.
"""

from __future__ import annotations

import re

_BINARY = {"": 1, "m": 1, "mib": 1, "g": 1024, "gib": 1024, "t": 1024**2, "tib": 1024**2}
_SI = {"M": 1000**2, "MB": 1000**2, "G": 1000**3, "GB": 1000**3, "T": 1000**4, "TB": 1000**4}
_MIB = 1024**2


def parse_size(text: str) -> int:
    """A size with an optional unit, in MiB; ``ValueError`` names what was wrong."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d*)?)\s*([A-Za-z]*)\s*", text)
    if m is None:
        raise ValueError(f"Can't parse string '{text}'")
    value, unit = float(m[1]), m[2]
    if unit in _SI or unit.upper() in ("MB", "GB", "TB"):
        factor = _SI.get(unit, _SI.get(unit.upper(), 0))
        return int(value * factor // _MIB)
    lower = unit.lower()
    if unit in _BINARY or lower in ("mib", "gib", "tib"):
        return int(value * _BINARY[lower])
    raise ValueError(f"Unknown unit '{unit}'")
