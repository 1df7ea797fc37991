"""Node opcodes (``gnt-node``), including out-of-band and restricted commands."""

from __future__ import annotations

from corral.opcodes import fields as fld
from corral.opcodes.base import OpCodeSchema


class NodeRemoveSchema(OpCodeSchema):
    """Take a node out of the cluster; it must not host instances any more."""

    OP_ID = "OP_NODE_REMOVE"
    OP_DSC_FIELD = "node_name"

    node_name = fld.node_name()
    node_uuid = fld.node_uuid()


class NodeAddSchema(OpCodeSchema):
    """Join a machine to the cluster as a node (or re-add a known one)."""

    OP_ID = "OP_NODE_ADD"
    OP_DSC_FIELD = "node_name"

    node_name = fld.string(
        "Name of the machine to add; a short name is expanded to the full one.", non_empty=True
    )
    hv_state = fld.hv_state()
    disk_state = fld.disk_state()
    primary_ip = fld.maybe_string(
        "Primary IP address; worked out during the add, so clients normally leave it out."
    )
    secondary_ip = fld.maybe_string(
        "Address on the replication network; needed when the cluster uses a separate one."
    )
    readd = fld.boolean(
        "Add back a node the cluster already knows (after a reinstall or a broken setup).", False
    )
    group = fld.maybe_string("Node group the node joins; null means the default group.")
    master_capable = fld.maybe_boolean("Whether the node may become master or master candidate.")
    vm_capable = fld.maybe_boolean("Whether the node may run instances.")
    ndparams = fld.ndparams("on this node")
    node_setup = fld.boolean("Set up SSH on the new node as part of the add.", False)


class NodeQueryvolsSchema(OpCodeSchema):
    """List the logical volumes on nodes."""

    OP_ID = "OP_NODE_QUERYVOLS"

    output_fields = fld.output_fields()
    nodes = fld.string_list("Nodes to ask; an empty list asks every node.")


class NodeQueryStorageSchema(OpCodeSchema):
    """Report on the storage units of nodes."""

    OP_ID = "OP_NODE_QUERY_STORAGE"

    output_fields = fld.output_fields()
    storage_type = fld.storage_type(None)
    nodes = fld.string_list("Nodes to ask; an empty list asks every node.")
    name = fld.storage_name()


class NodeModifyStorageSchema(OpCodeSchema):
    """Change properties of a storage unit on a node."""

    OP_ID = "OP_NODE_MODIFY_STORAGE"
    OP_DSC_FIELD = "node_name"

    node_name = fld.node_name()
    node_uuid = fld.node_uuid()
    storage_type = fld.storage_type()
    name = fld.storage_name()
    changes = fld.any_dict("Properties to change, such as {'allocatable': false}.", fld.REQUIRED)


class RepairNodeStorageSchema(OpCodeSchema):
    """Repair a storage unit (such as a volume group) on a node."""

    OP_ID = "OP_REPAIR_NODE_STORAGE"
    OP_DSC_FIELD = "node_name"

    node_name = fld.node_name()
    node_uuid = fld.node_uuid()
    storage_type = fld.storage_type()
    name = fld.storage_name()
    ignore_consistency = fld.ignore_consistency()


class NodeSetParamsSchema(OpCodeSchema):
    """Change a node's roles, flags and parameters; null leaves a setting unchanged."""

    OP_ID = "OP_NODE_SET_PARAMS"
    OP_DSC_FIELD = "node_name"

    node_name = fld.node_name()
    node_uuid = fld.node_uuid()
    force = fld.force()
    hv_state = fld.hv_state()
    disk_state = fld.disk_state()
    master_candidate = fld.maybe_boolean("Make the node a master candidate, or stop it being one.")
    offline = fld.maybe_boolean("Mark the node offline (unreachable, ignored) or back online.")
    drained = fld.maybe_boolean("Mark the node drained (no new instances) or not.")
    auto_promote = fld.boolean(
        "Promote other nodes to master candidate if this change leaves too few.", False
    )
    master_capable = fld.maybe_boolean("Whether the node may become master or master candidate.")
    vm_capable = fld.maybe_boolean("Whether the node may run instances.")
    secondary_ip = fld.maybe_string("New address on the replication network.")
    ndparams = fld.ndparams("on this node")
    powered = fld.maybe_boolean("Record whether the node is powered on (out-of-band nodes).")


class NodePowercycleSchema(OpCodeSchema):
    """Power-cycle a node through its hypervisor or operating system."""

    OP_ID = "OP_NODE_POWERCYCLE"
    OP_DSC_FIELD = "node_name"

    node_name = fld.node_name()
    node_uuid = fld.node_uuid()
    force = fld.force()


class NodeMigrateSchema(OpCodeSchema):
    """Migrate every primary instance away from a node."""

    OP_ID = "OP_NODE_MIGRATE"
    OP_DSC_FIELD = "node_name"

    node_name = fld.node_name()
    node_uuid = fld.node_uuid()
    mode = fld.migration_mode()
    live = fld.live()
    target_node = fld.target_node("migrate the instances")
    target_node_uuid = fld.target_node_uuid()
    allow_runtime_changes = fld.allow_runtime_changes()
    ignore_ipolicy = fld.ignore_ipolicy()
    iallocator = fld.iallocator()


class NodeEvacuateSchema(OpCodeSchema):
    """Move instances off a node, by submitting one job per instance."""

    OP_ID = "OP_NODE_EVACUATE"
    OP_DSC_FIELD = "node_name"

    early_release = fld.early_release()
    node_name = fld.node_name()
    node_uuid = fld.node_uuid()
    remote_node = fld.remote_node()
    remote_node_uuid = fld.remote_node_uuid()
    iallocator = fld.iallocator()
    mode = fld.one_of(
        fld.NODE_EVAC_MODES, "Which instances to move: primary-only, secondary-only or all."
    )
    ignore_soft_errors = fld.maybe_boolean("Let the allocator ignore its soft errors.")


class OobCommandSchema(OpCodeSchema):
    """Run an out-of-band management command (power, health) on nodes."""

    OP_ID = "OP_OOB_COMMAND"

    node_names = fld.string_list("Nodes to run the command on; an empty list means all.")
    node_uuids = fld.node_uuids()
    command = fld.one_of(fld.OOB_COMMANDS, "Out-of-band command to run.")
    timeout = fld.integer("Seconds before the out-of-band helper is killed.", 60)
    ignore_status = fld.boolean("Power off even nodes that are marked offline.", False)
    power_delay = fld.number("Seconds to wait between powering on successive nodes.", 2.0)


class RestrictedCommandSchema(OpCodeSchema):
    """Run one of the site's pre-approved commands on nodes."""

    OP_ID = "OP_RESTRICTED_COMMAND"

    use_locking = fld.use_locking()
    nodes = fld.string_list("Nodes to run the command on (at least one).", fld.REQUIRED)
    node_uuids = fld.node_uuids()
    command = fld.string("Name of the approved command.", non_empty=True)
