"""Export opcodes (``gnt-backup``)."""

from __future__ import annotations

from corral.opcodes import fields as fld
from corral.opcodes.base import OpCodeSchema


class BackupPrepareSchema(OpCodeSchema):
    """Get an instance ready for a remote export (keys and certificates)."""

    OP_ID = "OP_BACKUP_PREPARE"
    OP_DSC_FIELD = "instance_name"

    instance_name = fld.instance_name()
    instance_uuid = fld.instance_uuid()
    mode = fld.one_of(fld.EXPORT_MODES, "Kind of export to prepare: local or remote.")


class BackupExportSchema(OpCodeSchema):
    """Export an instance's disks and configuration, locally or to another cluster."""

    OP_ID = "OP_BACKUP_EXPORT"
    OP_DSC_FIELD = "instance_name"

    instance_name = fld.instance_name()
    instance_uuid = fld.instance_uuid()
    compress = fld.compress("exporting")
    shutdown_timeout = fld.shutdown_timeout()
    target_node = fld.ExportTarget(
        required=True,
        metadata={
            "help": "A node name for a local export; for a remote export, one signed "
            "destination per disk as prepared on the receiving cluster."
        },
    )
    target_node_uuid = fld.maybe_string(
        "UUID of the target node (local export); set by the master."
    )
    shutdown = fld.boolean("Stop the instance while its disks are copied.", True)
    remove_instance = fld.boolean("Delete the instance once the export has succeeded.", False)
    ignore_remove_failures = fld.boolean(
        "Treat failures while deleting the instance as warnings.", False
    )
    mode = fld.one_of(
        fld.EXPORT_MODES, "local (to a node) or remote (to another cluster).", "local"
    )
    x509_key_name = fld.any_list("Name and signature of the X509 key to use (remote export).")
    destination_x509_ca = fld.maybe_string(
        "PEM certificate authority of the receiving cluster (remote export)."
    )
    zero_free_space = fld.boolean(
        "Zero the unused space of the disks first, so the export compresses better.", False
    )
    zeroing_timeout_fixed = fld.integer(
        "Fixed part of the time allowed for zeroing, in seconds; null uses the default.", None
    )
    zeroing_timeout_per_mib = fld.number(
        "Extra seconds allowed for zeroing per MiB of disk; null uses the default.", None
    )
    long_sleep = fld.boolean("Allow the instance to stay shut down for a long export.", False)


class BackupRemoveSchema(OpCodeSchema):
    """Delete the export of an instance."""

    OP_ID = "OP_BACKUP_REMOVE"
    OP_DSC_FIELD = "instance_name"

    instance_name = fld.string(
        "Name of the instance whose export to delete (it may no longer exist).", non_empty=True
    )
    instance_uuid = fld.instance_uuid()
