"""The instance policy options of ``gnt-cluster`` and ``gnt-group`` (Ganeti's names).

``--ipolicy-bounds-specs min:memory-size=128,cpu-count=1/max:memory-size=32g,...``
(several pairs joined by ``//``), ``--ipolicy-std-specs``, ``--ipolicy-disk-templates``,
``--ipolicy-vcpu-ratio``, ``--ipolicy-spindle-ratio``; sizes take units.
"""

from __future__ import annotations

import argparse
from typing import Any

from corral.cli.options import key_values
from corral.cli.options import name_list
from corral.cli.options import parse_size

_SIZED = ("memory-size", "disk-size")


def _ispec(text: str) -> dict[str, int]:
    out = {}
    for key, value in key_values(text).items():
        try:
            out[key] = parse_size(value) if key in _SIZED else int(value)
        except (ValueError, argparse.ArgumentTypeError) as err:
            raise argparse.ArgumentTypeError(
                f"invalid value for {key}: {value!r} ({err})"
            ) from None
    return out


def bounds_specs(text: str) -> list[dict[str, dict[str, int]]]:
    """``min:memory-size=128,cpu-count=1/max:memory-size=32g,cpu-count=8[//min:.../max:...]``."""
    pairs = []
    for pair in text.split("//"):
        found: dict[str, dict[str, int]] = {}
        for part in pair.split("/"):
            which, sep, specs = part.partition(":")
            if not sep or which not in ("min", "max"):
                raise argparse.ArgumentTypeError(
                    f"invalid bounds {part!r}: write min:KEY=VAL,.../max:KEY=VAL,..."
                )
            found[which] = _ispec(specs)
        if set(found) != {"min", "max"}:
            raise argparse.ArgumentTypeError(f"bounds {pair!r} need both a min and a max part")
        pairs.append(found)
    return pairs


def add_ipolicy_options(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add(
        "--ipolicy-bounds-specs",
        type=bounds_specs,
        metavar="min:..../max:...",
        help="allowed instance specs, e.g. min:memory-size=128,cpu-count=1/max:memory-size=32g",
    )
    add(
        "--ipolicy-std-specs",
        type=_ispec,
        metavar="KEY=VAL,...",
        help="the standard instance spec (capacity planning)",
    )
    add(
        "--ipolicy-disk-templates",
        type=name_list,
        metavar="T,...",
        help="disk templates instances may use",
    )
    add(
        "--ipolicy-vcpu-ratio",
        type=float,
        metavar="RATIO",
        help="maximum virtual CPUs per physical CPU",
    )
    add("--ipolicy-spindle-ratio", type=float, metavar="RATIO",
        help="maximum instances per spindle")  # fmt: skip


def ipolicy_of(args: argparse.Namespace) -> dict[str, Any]:
    policy: dict[str, Any] = {}
    if args.ipolicy_bounds_specs:
        policy["minmax"] = args.ipolicy_bounds_specs
    if args.ipolicy_std_specs:
        policy["std"] = args.ipolicy_std_specs
    if args.ipolicy_disk_templates:
        policy["disk-templates"] = list(args.ipolicy_disk_templates)
    if args.ipolicy_vcpu_ratio is not None:
        policy["vcpu-ratio"] = args.ipolicy_vcpu_ratio
    if args.ipolicy_spindle_ratio is not None:
        policy["spindle-ratio"] = args.ipolicy_spindle_ratio
    return policy
