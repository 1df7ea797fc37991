"""Instance moves hbal may make, their display and their gnt-instance commands."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class MoveKind(enum.IntEnum):
    """Ganeti's move types; the values are evaluation order (ties go to the first)."""

    FAILOVER = 0  # f: swap primary and secondary
    REPLACE_PRIMARY = 1  # f r:t f: new primary t, same secondary
    REPLACE_SECONDARY = 2  # r:t: new secondary t
    REPLACE_AND_FAILOVER = 3  # r:t f: primary t, secondary the old primary
    FAILOVER_AND_REPLACE = 4  # f r:t: primary the old secondary, secondary t
    FAILOVER_TO_ANY = 5  # fa:t: shared storage, run on t


#: Move kinds for internally mirrored (DRBD) instances.
DRBD_KINDS = (
    MoveKind.REPLACE_PRIMARY,
    MoveKind.REPLACE_SECONDARY,
    MoveKind.REPLACE_AND_FAILOVER,
    MoveKind.FAILOVER_AND_REPLACE,
)


@dataclass(frozen=True)
class Move:
    """One chosen step: instance, kind, target (-1 for a plain failover), placement."""

    inst: int
    kind: MoveKind
    target: int
    old_p: int
    old_s: int
    new_p: int
    new_s: int


def new_nodes(kind: MoveKind, p: int, s: int, t: int) -> tuple[int, int]:
    """Primary and secondary after a move."""
    if kind is MoveKind.FAILOVER:
        return s, p
    if kind is MoveKind.REPLACE_PRIMARY:
        return t, s
    if kind is MoveKind.REPLACE_SECONDARY:
        return p, t
    if kind is MoveKind.REPLACE_AND_FAILOVER:
        return t, p
    if kind is MoveKind.FAILOVER_AND_REPLACE:
        return s, t
    return t, -1


def describe(kind: MoveKind, target: str) -> str:
    """The ``a=`` column of hbal's step lines."""
    return {
        MoveKind.FAILOVER: "f",
        MoveKind.REPLACE_PRIMARY: f"f r:{target} f",
        MoveKind.REPLACE_SECONDARY: f"r:{target}",
        MoveKind.REPLACE_AND_FAILOVER: f"r:{target} f",
        MoveKind.FAILOVER_AND_REPLACE: f"f r:{target}",
        MoveKind.FAILOVER_TO_ANY: f"fa:{target}",
    }[kind]


def commands(kind: MoveKind, inst: str, target: str, running: bool) -> list[str]:
    """The gnt-instance commands that carry a move out."""
    fo = f"gnt-instance migrate -f {inst}" if running else f"gnt-instance failover -f {inst}"
    rs = f"gnt-instance replace-disks -n {target} {inst}"
    if kind is MoveKind.FAILOVER:
        return [fo]
    if kind is MoveKind.REPLACE_PRIMARY:
        return [fo, rs, fo]
    if kind is MoveKind.REPLACE_SECONDARY:
        return [rs]
    if kind is MoveKind.REPLACE_AND_FAILOVER:
        return [rs, fo]
    if kind is MoveKind.FAILOVER_AND_REPLACE:
        return [fo, rs]
    verb = "migrate" if running else "failover"
    return [f"gnt-instance {verb} -f -n {target} {inst}"]


def opcodes(kind: MoveKind, inst: str, target: str, running: bool) -> list[dict[str, object]]:
    """The same steps as Ganeti opcodes (for IAllocator evacuation answers)."""
    fo: dict[str, object]
    if running:
        fo = {
            "OP_ID": "OP_INSTANCE_MIGRATE",
            "instance_name": inst,
            "cleanup": False,
            "allow_failover": True,
            "allow_runtime_changes": False,
            "ignore_hvversions": True,
            "ignore_ipolicy": False,
        }
    else:
        fo = {
            "OP_ID": "OP_INSTANCE_FAILOVER",
            "instance_name": inst,
            "ignore_consistency": False,
            "ignore_ipolicy": False,
        }
    rs: dict[str, object] = {
        "OP_ID": "OP_INSTANCE_REPLACE_DISKS",
        "instance_name": inst,
        "mode": "replace_new_secondary",
        "remote_node": target,
        "disks": [],
        "early_release": False,
        "ignore_ipolicy": False,
    }
    if kind is MoveKind.FAILOVER:
        return [fo]
    if kind is MoveKind.REPLACE_PRIMARY:
        return [fo, rs, fo]
    if kind is MoveKind.REPLACE_SECONDARY:
        return [rs]
    if kind is MoveKind.REPLACE_AND_FAILOVER:
        return [rs, fo]
    if kind is MoveKind.FAILOVER_AND_REPLACE:
        return [fo, rs]
    return [{**fo, "target_node": target}]
