"""Node group opcodes (``gnt-group``)."""

from __future__ import annotations

from corral.opcodes import fields as fld
from corral.opcodes.base import OpCodeSchema


class GroupAddSchema(OpCodeSchema):
    """Create a node group."""

    OP_ID = "OP_GROUP_ADD"
    OP_DSC_FIELD = "group_name"

    group_name = fld.string("Name of the new node group.", non_empty=True)
    alloc_policy = fld.alloc_policy()
    ndparams = fld.ndparams("for the group's nodes")
    diskparams = fld.diskparams("for the group")
    hv_state = fld.hv_state()
    disk_state = fld.disk_state()
    ipolicy = fld.ipolicy("for the group")


class GroupAssignNodesSchema(OpCodeSchema):
    """Move nodes into a node group."""

    OP_ID = "OP_GROUP_ASSIGN_NODES"
    OP_DSC_FIELD = "group_name"

    group_name = fld.group_name()
    force = fld.force()
    nodes = fld.string_list("Nodes to move into the group.", fld.REQUIRED)
    node_uuids = fld.node_uuids()


class GroupSetParamsSchema(OpCodeSchema):
    """Change a node group's parameters; null leaves a setting unchanged."""

    OP_ID = "OP_GROUP_SET_PARAMS"
    OP_DSC_FIELD = "group_name"

    group_name = fld.group_name()
    alloc_policy = fld.alloc_policy()
    ndparams = fld.ndparams("for the group's nodes")
    diskparams = fld.diskparams("for the group")
    hv_state = fld.hv_state()
    disk_state = fld.disk_state()
    ipolicy = fld.ipolicy("for the group")


class GroupRemoveSchema(OpCodeSchema):
    """Delete an empty node group."""

    OP_ID = "OP_GROUP_REMOVE"
    OP_DSC_FIELD = "group_name"

    group_name = fld.group_name()


class GroupRenameSchema(OpCodeSchema):
    """Give a node group a new name."""

    OP_ID = "OP_GROUP_RENAME"

    group_name = fld.group_name()
    new_name = fld.string("The new name.", non_empty=True)


class GroupEvacuateSchema(OpCodeSchema):
    """Move every instance out of a node group, by submitting one job per instance."""

    OP_ID = "OP_GROUP_EVACUATE"
    OP_DSC_FIELD = "group_name"

    group_name = fld.group_name()
    early_release = fld.early_release()
    iallocator = fld.iallocator()
    target_groups = fld.target_groups()
    sequential = fld.boolean("Run the resulting jobs one after the other.", False)
    force_failover = fld.boolean("Never migrate; always use failover to move instances.", False)


class GroupVerifyDisksSchema(OpCodeSchema):
    """Find degraded or missing disks of the instances in a node group."""

    OP_ID = "OP_GROUP_VERIFY_DISKS"
    OP_DSC_FIELD = "group_name"

    group_name = fld.group_name()
