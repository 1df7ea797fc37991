"""Which opcodes run hook scripts, from which directory, for which object type.

The data of Ganeti's ``hooks.rst`` ("Operation list"): an opcode without an
entry runs no hook scripts (queries, tests, ...), as a Ganeti LU without
``HPATH`` does.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class ObjectType(StrEnum):
    """``GANETI_OBJECT_TYPE``: the kind of object an opcode works on (Ganeti's HTYPE_*)."""

    CLUSTER = "CLUSTER"
    NODE = "NODE"
    GROUP = "GROUP"
    NETWORK = "NETWORK"
    INSTANCE = "INSTANCE"


@dataclass(frozen=True)
class HooksPath:
    """An opcode's hook directory name (``GANETI_HOOKS_PATH``) and the phases it runs."""

    path: str
    object_type: ObjectType
    #: False where hooks.rst says "pre-execution: none" (the post phase always runs).
    pre: bool = True


def _entry(path: str, object_type: ObjectType, *, pre: bool = True) -> HooksPath:
    return HooksPath(path, object_type, pre)


_C, _N, _G, _W, _I = (
    ObjectType.CLUSTER,
    ObjectType.NODE,
    ObjectType.GROUP,
    ObjectType.NETWORK,
    ObjectType.INSTANCE,
)

#: OP_ID -> hooks path, as in hooks.rst. ``OP_CLUSTER_IP_TURNUP`` and
#: ``OP_CLUSTER_IP_TURNDOWN`` are Ganeti's virtual opcodes for the master IP.
#: ``OP_CLUSTER_VERIFY`` is corral's addition: it verifies the whole cluster in
#: one opcode where Ganeti splits the work into OP_CLUSTER_VERIFY_GROUP jobs.
HOOKS_PATHS: dict[str, HooksPath] = {
    # nodes
    "OP_NODE_ADD": _entry("node-add", _N),
    "OP_NODE_REMOVE": _entry("node-remove", _N),
    "OP_NODE_SET_PARAMS": _entry("node-modify", _N),
    "OP_NODE_MIGRATE": _entry("node-migrate", _N),
    # node groups
    "OP_GROUP_ADD": _entry("group-add", _G),
    "OP_GROUP_SET_PARAMS": _entry("group-modify", _G),
    "OP_GROUP_REMOVE": _entry("group-remove", _G),
    "OP_GROUP_RENAME": _entry("group-rename", _G),
    "OP_GROUP_EVACUATE": _entry("group-evacuate", _G),
    # networks
    "OP_NETWORK_ADD": _entry("network-add", _W),
    "OP_NETWORK_REMOVE": _entry("network-remove", _W),
    "OP_NETWORK_CONNECT": _entry("network-connect", _W),
    "OP_NETWORK_DISCONNECT": _entry("network-disconnect", _W),
    "OP_NETWORK_SET_PARAMS": _entry("network-modify", _W),
    # instances
    "OP_INSTANCE_CREATE": _entry("instance-add", _I),
    "OP_INSTANCE_REINSTALL": _entry("instance-reinstall", _I),
    "OP_BACKUP_EXPORT": _entry("instance-export", _I),
    "OP_INSTANCE_STARTUP": _entry("instance-start", _I),
    "OP_INSTANCE_SHUTDOWN": _entry("instance-stop", _I),
    "OP_INSTANCE_REBOOT": _entry("instance-reboot", _I),
    "OP_INSTANCE_SET_PARAMS": _entry("instance-modify", _I),
    "OP_INSTANCE_FAILOVER": _entry("instance-failover", _I),
    "OP_INSTANCE_MIGRATE": _entry("instance-migrate", _I),
    "OP_INSTANCE_REMOVE": _entry("instance-remove", _I),
    "OP_INSTANCE_GROW_DISK": _entry("disk-grow", _I),
    "OP_INSTANCE_RENAME": _entry("instance-rename", _I),
    "OP_INSTANCE_MOVE": _entry("instance-move", _I),
    "OP_INSTANCE_RECREATE_DISKS": _entry("instance-recreate-disks", _I),
    "OP_INSTANCE_REPLACE_DISKS": _entry("mirrors-replace", _I),
    "OP_INSTANCE_CHANGE_GROUP": _entry("instance-change-group", _I),
    # cluster
    "OP_CLUSTER_POST_INIT": _entry("cluster-init", _C, pre=False),
    "OP_CLUSTER_DESTROY": _entry("cluster-destroy", _C, pre=False),
    "OP_CLUSTER_VERIFY_GROUP": _entry("cluster-verify", _C, pre=False),
    "OP_CLUSTER_VERIFY": _entry("cluster-verify", _C, pre=False),
    "OP_CLUSTER_RENAME": _entry("cluster-rename", _C),
    "OP_CLUSTER_SET_PARAMS": _entry("cluster-modify", _C),
    "OP_CLUSTER_IP_TURNUP": _entry("master-ip-turnup", _C),
    "OP_CLUSTER_IP_TURNDOWN": _entry("master-ip-turndown", _C),
}


def hooks_path(op_id: str) -> HooksPath | None:
    """The hooks path of opcode ``op_id``, or None if it runs no hook scripts."""
    return HOOKS_PATHS.get(op_id)
