"""Instance opcodes (``gnt-instance``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from marshmallow import ValidationError
from marshmallow import fields
from marshmallow import validate

from corral.opcodes import fields as fld
from corral.opcodes.base import OpCode
from corral.opcodes.base import OpCodeSchema
from corral.opcodes.base import OpcodeValidationError
from corral.opcodes.base import dump_opcode
from corral.opcodes.base import load_opcode

_CREATE = "OP_INSTANCE_CREATE"


class CreateOpcodeList(fields.Field[list[OpCode]]):
    """A list of instance-creation opcodes.

    Each item is a dict of OP_INSTANCE_CREATE parameters; its ``"OP_ID"``
    key may be left out, and if given must be OP_INSTANCE_CREATE. Items are
    loaded into :class:`~corral.opcodes.base.OpCode` objects and dumped back
    to dicts with their OP_ID.
    """

    default_error_messages = {"invalid": "Not a valid list."}

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> list[OpCode]:
        if not isinstance(value, list | tuple):
            raise self.make_error("invalid")
        out: list[OpCode] = []
        errors: dict[int, Any] = {}
        for idx, item in enumerate(value):
            if not isinstance(item, Mapping):
                errors[idx] = ["Each instance must be a dict of OP_INSTANCE_CREATE parameters."]
                continue
            if item.get("OP_ID", _CREATE) != _CREATE:
                errors[idx] = {"OP_ID": [f"must be {_CREATE} (or left out)"]}
                continue
            try:
                out.append(load_opcode({**item, "OP_ID": _CREATE}))
            except OpcodeValidationError as err:
                errors[idx] = err.errors
        if errors:
            raise ValidationError(errors)
        return out

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> Any:
        if value is None:
            return None
        return [dump_opcode(op) for op in value]


def _disk_list(help: str) -> fields.List[dict[str, Any]]:
    return fields.List(fld.DiskSpec(), required=True, metadata={"help": help})


def _nic_list(help: str) -> fields.List[dict[str, Any]]:
    return fields.List(fld.NicSpec(), required=True, metadata={"help": help})


def _helper_timeout(what: str) -> fld.StrictInteger:
    return fld.integer(
        f"Seconds to wait for the helper VM to {what}; null uses the built-in value.", None
    )


class InstanceCreateSchema(OpCodeSchema):
    """Create a new instance (fresh install or import)."""

    OP_ID = "OP_INSTANCE_CREATE"
    OP_DSC_FIELD = "instance_name"

    instance_name = fld.string("Name of the new instance.", non_empty=True)
    force_variant = fld.force_variant()
    wait_for_sync = fld.wait_for_sync(True)
    name_check = fld.name_check()
    ignore_ipolicy = fld.ignore_ipolicy()
    opportunistic_locking = fld.boolean(
        "With an allocator, only consider nodes whose locks are free right now.", False
    )
    beparams = fld.beparams()
    disks = _disk_list(
        "The instance's disks, each a dict of disk parameters (size in MiB, mode, name, ...)."
    )
    disk_template = fld.disk_template()
    group_name = fld.maybe_string("Node group to place the instance in (with an allocator).")
    file_driver = fld.file_driver()
    file_storage_dir = fld.file_storage_dir()
    hvparams = fld.hvparams()
    hypervisor = fld.hypervisor()
    iallocator = fld.iallocator()
    identify_defaults = fld.boolean(
        "Store parameters that equal the cluster defaults as 'use the default'.", False
    )
    ip_check = fld.ip_check()
    conflicts_check = fld.conflicts_check()
    mode = fld.one_of(
        fld.INSTANCE_CREATE_MODES, "How the disks get their content: create, import, remote-import."
    )
    nics = _nic_list("The instance's network interfaces, each a dict of NIC parameters.")
    no_install = fld.maybe_boolean("Skip the OS installation (the instance is then not started).")
    osparams = fld.osparams()
    osparams_private = fld.osparams_private("OS parameters that are kept out of logs and output.")
    osparams_secret = fld.osparams_secret(
        "OS parameters that are used for the install only and never stored."
    )
    os_type = fld.os_type()
    pnode = fld.pnode()
    pnode_uuid = fld.pnode_uuid()
    snode = fld.maybe_string("Secondary node (for disk templates that mirror between two nodes).")
    snode_uuid = fld.maybe_string("UUID of the secondary node; filled in by the master.")
    source_handshake = fld.any_list("Signed handshake from the source cluster (remote import).")
    source_instance_name = fld.maybe_string(
        "The instance's name on the source cluster (remote import)."
    )
    source_shutdown_timeout = fld.integer(
        "Seconds the source instance had to shut down (remote import).",
        fld.DEFAULT_SHUTDOWN_TIMEOUT,
        minimum=0,
    )
    source_x509_ca = fld.maybe_string("PEM certificate authority of the source (remote import).")
    src_node = fld.maybe_string("Node that holds the export to import.")
    src_node_uuid = fld.maybe_string(
        "UUID of the node holding the export; filled in by the master."
    )
    src_path = fld.maybe_string("Directory of the export to import.")
    compress = fld.compress("importing")
    start = fld.boolean("Start the instance once it has been created.", True)
    forthcoming = fld.boolean("Only reserve the resources; create the instance later.", False)
    commit = fld.boolean("Turn an earlier reservation into a real instance.", False)
    tags = fld.tags("instance")
    instance_communication = fld.instance_communication(False)
    helper_startup_timeout = _helper_timeout("start")
    helper_shutdown_timeout = _helper_timeout("shut down")


class InstanceMultiAllocSchema(OpCodeSchema):
    """Place and create several instances in one go."""

    OP_ID = "OP_INSTANCE_MULTI_ALLOC"

    opportunistic_locking = fld.boolean(
        "Only consider nodes whose locks are free right now.", False
    )
    iallocator = fld.iallocator()
    instances = CreateOpcodeList(
        load_default=list,
        metadata={"help": "The instances to create, each as OP_INSTANCE_CREATE parameters."},
    )


class InstanceReinstallSchema(OpCodeSchema):
    """Reinstall the operating system of an instance."""

    OP_ID = "OP_INSTANCE_REINSTALL"
    OP_DSC_FIELD = "instance_name"

    instance_name = fld.instance_name()
    instance_uuid = fld.instance_uuid()
    force_variant = fld.force_variant()
    os_type = fld.os_type()
    osparams = fld.any_dict("OS parameters for this reinstall only; null uses the stored ones.")
    osparams_private = fld.osparams_private("Private OS parameters for this reinstall.")
    osparams_secret = fld.osparams_secret("Secret OS parameters for this reinstall.")


class InstanceRemoveSchema(OpCodeSchema):
    """Delete an instance and its disks."""

    OP_ID = "OP_INSTANCE_REMOVE"
    OP_DSC_FIELD = "instance_name"

    instance_name = fld.instance_name()
    instance_uuid = fld.instance_uuid()
    shutdown_timeout = fld.shutdown_timeout()
    ignore_failures = fld.boolean("Remove the instance even if some cleanup steps fail.", False)


class InstanceRenameSchema(OpCodeSchema):
    """Give an instance a new name."""

    OP_ID = "OP_INSTANCE_RENAME"

    instance_name = fld.instance_name()
    instance_uuid = fld.instance_uuid()
    new_name = fld.string("The new name.", non_empty=True)
    name_check = fld.name_check()
    ip_check = fld.ip_check()


class InstanceStartupSchema(OpCodeSchema):
    """Start an instance."""

    OP_ID = "OP_INSTANCE_STARTUP"
    OP_DSC_FIELD = "instance_name"

    instance_name = fld.instance_name()
    instance_uuid = fld.instance_uuid()
    force = fld.force()
    ignore_offline_nodes = fld.ignore_offline_nodes()
    hvparams = fld.hvparams("Hypervisor parameters for this start only.")
    beparams = fld.beparams("Backend parameters for this start only.")
    no_remember = fld.no_remember()
    startup_paused = fld.boolean("Start the instance with its CPUs paused.", False)
    shutdown_timeout = fld.shutdown_timeout()


class InstanceShutdownSchema(OpCodeSchema):
    """Stop an instance."""

    OP_ID = "OP_INSTANCE_SHUTDOWN"
    OP_DSC_FIELD = "instance_name"

    instance_name = fld.instance_name()
    instance_uuid = fld.instance_uuid()
    force = fld.force()
    ignore_offline_nodes = fld.ignore_offline_nodes()
    timeout = fld.shutdown_timeout()
    no_remember = fld.no_remember()
    admin_state_source = fld.one_of(
        fld.ADMIN_STATE_SOURCES, "Who is stopping the instance: admin or user.", None
    )


class InstanceRebootSchema(OpCodeSchema):
    """Reboot an instance."""

    OP_ID = "OP_INSTANCE_REBOOT"
    OP_DSC_FIELD = "instance_name"

    instance_name = fld.instance_name()
    instance_uuid = fld.instance_uuid()
    shutdown_timeout = fld.shutdown_timeout()
    ignore_secondaries = fld.boolean(
        "Reboot even if the disks on the secondary node are failing (full reboot only).", False
    )
    reboot_type = fld.one_of(
        fld.REBOOT_TYPES,
        "soft (inside the guest), hard (restart the VM) or full (stop and start).",
    )


class InstanceReplaceDisksSchema(OpCodeSchema):
    """Rebuild the mirrored disks of an instance, possibly on a new secondary."""

    OP_ID = "OP_INSTANCE_REPLACE_DISKS"
    OP_DSC_FIELD = "instance_name"

    instance_name = fld.instance_name()
    instance_uuid = fld.instance_uuid()
    early_release = fld.early_release()
    ignore_ipolicy = fld.ignore_ipolicy()
    mode = fld.one_of(fld.REPLACE_DISK_MODES, "Which side to rebuild, or where to move it.")
    disks = fields.List(
        fld.StrictInteger(validate=validate.Range(min=0, max=fld.MAX_DISKS - 1)),
        load_default=list,
        metadata={"help": "Indices of the disks to replace; an empty list means all."},
    )
    remote_node = fld.remote_node()
    remote_node_uuid = fld.remote_node_uuid()
    iallocator = fld.iallocator()


class InstanceFailoverSchema(OpCodeSchema):
    """Restart an instance on its other node (stop, switch, start)."""

    OP_ID = "OP_INSTANCE_FAILOVER"
    OP_DSC_FIELD = "instance_name"

    instance_name = fld.instance_name()
    instance_uuid = fld.instance_uuid()
    shutdown_timeout = fld.shutdown_timeout()
    ignore_consistency = fld.ignore_consistency()
    target_node = fld.target_node("fail over")
    target_node_uuid = fld.target_node_uuid()
    ignore_ipolicy = fld.ignore_ipolicy()
    cleanup = fld.cleanup()
    iallocator = fld.iallocator()


class InstanceMigrateSchema(OpCodeSchema):
    """Move a running instance to another node without stopping it."""

    OP_ID = "OP_INSTANCE_MIGRATE"
    OP_DSC_FIELD = "instance_name"

    instance_name = fld.instance_name()
    instance_uuid = fld.instance_uuid()
    mode = fld.migration_mode()
    live = fld.live()
    target_node = fld.target_node("migrate")
    target_node_uuid = fld.target_node_uuid()
    allow_runtime_changes = fld.allow_runtime_changes()
    ignore_ipolicy = fld.ignore_ipolicy()
    cleanup = fld.cleanup()
    iallocator = fld.iallocator()
    allow_failover = fld.boolean("Fall back to a failover when migration is impossible.", False)
    ignore_hvversions = fld.boolean(
        "Migrate even between nodes with different hypervisor versions.", False
    )


class InstanceMoveSchema(OpCodeSchema):
    """Copy a stopped instance's disks to any node and move it there."""

    OP_ID = "OP_INSTANCE_MOVE"
    OP_DSC_FIELD = "instance_name"

    instance_name = fld.instance_name()
    instance_uuid = fld.instance_uuid()
    shutdown_timeout = fld.shutdown_timeout()
    ignore_ipolicy = fld.ignore_ipolicy()
    target_node = fld.string("Node to move the instance to.", non_empty=True)
    target_node_uuid = fld.target_node_uuid()
    compress = fld.compress("moving")
    ignore_consistency = fld.ignore_consistency()


class InstanceConsoleSchema(OpCodeSchema):
    """Return how to reach an instance's console."""

    OP_ID = "OP_INSTANCE_CONSOLE"
    OP_DSC_FIELD = "instance_name"

    instance_name = fld.instance_name()
    instance_uuid = fld.instance_uuid()


class InstanceActivateDisksSchema(OpCodeSchema):
    """Assemble an instance's disks on its nodes (without starting it)."""

    OP_ID = "OP_INSTANCE_ACTIVATE_DISKS"
    OP_DSC_FIELD = "instance_name"

    instance_name = fld.instance_name()
    instance_uuid = fld.instance_uuid()
    ignore_size = fld.boolean("Do not check the disk sizes recorded in the configuration.", False)
    wait_for_sync = fld.wait_for_sync(False)


class InstanceDeactivateDisksSchema(OpCodeSchema):
    """Shut down an instance's disks on its nodes."""

    OP_ID = "OP_INSTANCE_DEACTIVATE_DISKS"
    OP_DSC_FIELD = "instance_name"

    instance_name = fld.instance_name()
    instance_uuid = fld.instance_uuid()
    force = fld.force()


class InstanceRecreateDisksSchema(OpCodeSchema):
    """Create an instance's missing disks again (empty), optionally on new nodes."""

    OP_ID = "OP_INSTANCE_RECREATE_DISKS"
    OP_DSC_FIELD = "instance_name"

    instance_name = fld.instance_name()
    instance_uuid = fld.instance_uuid()
    disks = fld.RecreateDisks(
        load_default=list,
        metadata={
            "help": "Disks to recreate: indices, or [index, parameters] pairs to change "
            "size or other parameters; an empty list means all."
        },
    )
    nodes = fld.string_list("Nodes to recreate the disks on, when moving the instance.")
    node_uuids = fld.node_uuids()
    iallocator = fld.iallocator()


class InstanceQueryDataSchema(OpCodeSchema):
    """Return detailed configuration and runtime data of instances."""

    OP_ID = "OP_INSTANCE_QUERY_DATA"

    use_locking = fld.use_locking()
    instances = fld.string_list("Instances to describe; an empty list means all.")
    static = fld.boolean("Only return configuration data; do not ask the nodes.", False)


class InstanceSetParamsSchema(OpCodeSchema):
    """Change an instance's parameters, disks and NICs."""

    OP_ID = "OP_INSTANCE_SET_PARAMS"
    OP_DSC_FIELD = "instance_name"

    instance_name = fld.instance_name()
    instance_uuid = fld.instance_uuid()
    force = fld.force()
    force_variant = fld.force_variant()
    ignore_ipolicy = fld.ignore_ipolicy()
    nics = fld.DeviceModifications(
        "nic",
        load_default=list,
        metadata={"help": "NIC changes, each [action, index, parameters]."},
    )
    disks = fld.DeviceModifications(
        "disk",
        load_default=list,
        metadata={"help": "Disk changes, each [action, index, parameters]."},
    )
    beparams = fld.beparams("Backend parameters to change.")
    runtime_mem = fld.integer(
        "Memory (MiB) to give the running instance now, without a restart.", None, minimum=1
    )
    hvparams = fld.hvparams("Hypervisor parameters to change.")
    disk_template = fld.plugin_name("Convert the disks to this template.", None)
    ext_params = fld.any_dict("Provider parameters for disks converted to 'ext'.", dict)
    file_driver = fld.file_driver()
    file_storage_dir = fld.file_storage_dir()
    pnode = fld.maybe_string("New primary node (when converting the disk template).")
    pnode_uuid = fld.pnode_uuid()
    remote_node = fld.maybe_string("Secondary node for a conversion to a mirrored template.")
    remote_node_uuid = fld.remote_node_uuid()
    iallocator = fld.iallocator()
    os_name = fld.maybe_string("Record a different OS definition without reinstalling.")
    osparams = fld.osparams("OS parameters to change.")
    osparams_private = fld.osparams_private("Private OS parameters to change.")
    wait_for_sync = fld.wait_for_sync(True)
    offline = fld.maybe_boolean("Mark the instance offline, or back online.")
    conflicts_check = fld.conflicts_check()
    hotplug = fld.boolean("Apply disk and NIC changes to the running instance.", False)
    hotplug_if_possible = fld.boolean(
        "Hot-plug the changes when the hypervisor supports it, else apply them at next start.",
        False,
    )
    instance_communication = fld.instance_communication(None)


class InstanceGrowDiskSchema(OpCodeSchema):
    """Make one of an instance's disks bigger."""

    OP_ID = "OP_INSTANCE_GROW_DISK"
    OP_DSC_FIELD = "instance_name"

    instance_name = fld.instance_name()
    instance_uuid = fld.instance_uuid()
    wait_for_sync = fld.wait_for_sync(True)
    disk = fld.integer("Index of the disk to grow.", minimum=0, maximum=fld.MAX_DISKS - 1)
    amount = fld.integer("MiB to add, or the new size in MiB with 'absolute'.", minimum=0)
    absolute = fld.boolean("Read 'amount' as the new total size, not an increase.", False)
    ignore_ipolicy = fld.ignore_ipolicy()


class InstanceChangeGroupSchema(OpCodeSchema):
    """Move an instance to another node group."""

    OP_ID = "OP_INSTANCE_CHANGE_GROUP"
    OP_DSC_FIELD = "instance_name"

    instance_name = fld.instance_name()
    instance_uuid = fld.instance_uuid()
    early_release = fld.early_release()
    iallocator = fld.iallocator()
    target_groups = fld.target_groups()
