"""Field types and field factories shared by every opcode module.

Ganeti checks opcode parameters with small predicate combinators; here the
same facts are expressed as marshmallow fields. Three rules hold everywhere:

* **Types are strict, as on Ganeti's wire.** A boolean parameter takes only
  JSON ``true``/``false`` (marshmallow's own ``Boolean`` would also take
  ``"yes"``, ``"on"`` or ``1``; Ganeti never did). An integer parameter takes
  a JSON integer; ``True``/``False`` and strings such as ``"5"`` are refused,
  and a float is taken only when it has no fractional part (``5.0`` becomes
  ``5``), because some JSON encoders write every number as a float. A float
  parameter takes any finite JSON number and stores it as ``float``.
* **Required, optional and "maybe".** A parameter that Ganeti declares
  without a usable default is ``required=True``. One with a default uses
  ``load_default`` (mutable defaults are callables such as ``dict``). A
  "maybe" parameter additionally accepts ``null``; other parameters refuse it.
* **Every field has help text** in ``metadata["help"]``; the CLI, RAPI
  documentation and error messages read it from there.

Value sets (disk templates, migration modes, tag kinds, ...) are the strings
Ganeti 3.0 uses, so existing scripts and RAPI clients keep working. They live
in :mod:`corral.opcodes.values`, the custom field classes in
:mod:`corral.opcodes.fieldtypes`; this module re-exports both, so opcode
modules need only ``from corral.opcodes import fields as fld``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from typing import Any
from typing import Final

from marshmallow import fields
from marshmallow import validate

from corral.opcodes.fieldtypes import DeviceModifications
from corral.opcodes.fieldtypes import DiskSpec
from corral.opcodes.fieldtypes import ExportTarget
from corral.opcodes.fieldtypes import IntPair
from corral.opcodes.fieldtypes import IPv4Address
from corral.opcodes.fieldtypes import IPv4Network
from corral.opcodes.fieldtypes import IPv6Address
from corral.opcodes.fieldtypes import IPv6Network
from corral.opcodes.fieldtypes import JobDependency
from corral.opcodes.fieldtypes import NicSpec
from corral.opcodes.fieldtypes import OsListChange
from corral.opcodes.fieldtypes import ReasonEntry
from corral.opcodes.fieldtypes import RecreateDisks
from corral.opcodes.fieldtypes import StrictBoolean
from corral.opcodes.fieldtypes import StrictFloat
from corral.opcodes.fieldtypes import StrictInteger
from corral.opcodes.fieldtypes import check_disk_spec
from corral.opcodes.fieldtypes import check_nic_spec
from corral.opcodes.values import ADMIN_STATE_SOURCES
from corral.opcodes.values import ALLOC_POLICIES
from corral.opcodes.values import CV_ERROR_CODES
from corral.opcodes.values import DDM_SIMPLE
from corral.opcodes.values import DDM_WITH_MODIFY
from corral.opcodes.values import DEFAULT_SHUTDOWN_TIMEOUT
from corral.opcodes.values import DISK_ACCESS_MODES
from corral.opcodes.values import DISK_SPEC_KEYS
from corral.opcodes.values import DISK_TEMPLATES
from corral.opcodes.values import EXPORT_MODES
from corral.opcodes.values import FILE_DRIVERS
from corral.opcodes.values import HYPERVISORS
from corral.opcodes.values import IALLOCATOR_DIRECTIONS
from corral.opcodes.values import IALLOCATOR_MODES
from corral.opcodes.values import INSTANCE_CREATE_MODES
from corral.opcodes.values import JOB_FINAL_STATUSES
from corral.opcodes.values import MAX_DISKS
from corral.opcodes.values import MIGRATION_MODES
from corral.opcodes.values import NIC_MODES
from corral.opcodes.values import NIC_SPEC_KEYS
from corral.opcodes.values import NODE_EVAC_MODES
from corral.opcodes.values import OOB_COMMANDS
from corral.opcodes.values import PRIORITY_DEFAULT
from corral.opcodes.values import PRIORITY_HIGHEST
from corral.opcodes.values import PRIORITY_LOWEST
from corral.opcodes.values import QUERY_RESOURCES
from corral.opcodes.values import REBOOT_TYPES
from corral.opcodes.values import REPLACE_DISK_MODES
from corral.opcodes.values import SSH_KEY_TYPES
from corral.opcodes.values import STORAGE_TYPES
from corral.opcodes.values import SUBMIT_PRIORITIES
from corral.opcodes.values import TAG_KINDS
from corral.opcodes.values import VERIFY_OPTIONAL_CHECKS

if TYPE_CHECKING:
    from collections.abc import Callable
    from collections.abc import Iterable

__all__ = [
    "ADMIN_STATE_SOURCES",
    "ALLOC_POLICIES",
    "CV_ERROR_CODES",
    "DDM_SIMPLE",
    "DDM_WITH_MODIFY",
    "DEFAULT_SHUTDOWN_TIMEOUT",
    "DISK_ACCESS_MODES",
    "DISK_SPEC_KEYS",
    "DISK_TEMPLATES",
    "EXPORT_MODES",
    "FILE_DRIVERS",
    "HYPERVISORS",
    "IALLOCATOR_DIRECTIONS",
    "IALLOCATOR_MODES",
    "INSTANCE_CREATE_MODES",
    "JOB_FINAL_STATUSES",
    "MAX_DISKS",
    "MIGRATION_MODES",
    "NIC_MODES",
    "NIC_SPEC_KEYS",
    "NODE_EVAC_MODES",
    "OOB_COMMANDS",
    "PRIORITY_DEFAULT",
    "PRIORITY_HIGHEST",
    "PRIORITY_LOWEST",
    "QUERY_RESOURCES",
    "REBOOT_TYPES",
    "REPLACE_DISK_MODES",
    "REQUIRED",
    "SSH_KEY_TYPES",
    "STORAGE_TYPES",
    "SUBMIT_PRIORITIES",
    "TAG_KINDS",
    "VERIFY_OPTIONAL_CHECKS",
    "DeviceModifications",
    "DiskSpec",
    "ExportTarget",
    "IPv4Address",
    "IPv4Network",
    "IPv6Address",
    "IPv6Network",
    "IntPair",
    "JobDependency",
    "NicSpec",
    "OsListChange",
    "ReasonEntry",
    "RecreateDisks",
    "StrictBoolean",
    "StrictFloat",
    "StrictInteger",
    "alloc_policy",
    "allow_runtime_changes",
    "any_dict",
    "any_list",
    "beparams",
    "boolean",
    "check_disk_spec",
    "check_nic_spec",
    "cleanup",
    "compress",
    "conflicts_check",
    "debug_simulate_errors",
    "dict_of_dicts",
    "disk_state",
    "disk_template",
    "diskparams",
    "early_release",
    "error_codes",
    "fields",
    "file_driver",
    "file_storage_dir",
    "force",
    "force_variant",
    "group_name",
    "hv_state",
    "hvparams",
    "hypervisor",
    "iallocator",
    "ignore_consistency",
    "ignore_errors",
    "ignore_ipolicy",
    "ignore_offline_nodes",
    "instance_communication",
    "instance_name",
    "instance_uuid",
    "integer",
    "ip_check",
    "ipolicy",
    "live",
    "mac_prefix",
    "maybe_any_string",
    "maybe_boolean",
    "maybe_group_name",
    "maybe_string",
    "migration_mode",
    "name_check",
    "ndparams",
    "network_name",
    "no_remember",
    "node_name",
    "node_uuid",
    "node_uuids",
    "number",
    "one_of",
    "os_type",
    "osparams",
    "osparams_private",
    "osparams_secret",
    "output_fields",
    "pnode",
    "pnode_uuid",
    "remote_node",
    "remote_node_uuid",
    "shutdown_timeout",
    "skip_checks",
    "storage_name",
    "storage_type",
    "string",
    "string_list",
    "tags",
    "target_groups",
    "target_node",
    "target_node_uuid",
    "use_locking",
    "validate",
    "verbose",
    "verify_clutter",
    "wait_for_sync",
]


# ---------------------------------------------------------------------------
# Generic factories
# ---------------------------------------------------------------------------


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


#: Pass as ``default`` to make a field required.
REQUIRED: Final = _Required()

_NON_EMPTY = validate.Length(min=1, error="Must be a non-empty string.")


def _opts(
    help: str,
    default: Any,
    maybe: bool,
    validators: list[Callable[[Any], Any]] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    if not help.strip():
        raise ValueError("every opcode field needs help text")
    opts: dict[str, Any] = {"metadata": {"help": help, **extra}}
    if default is REQUIRED:
        opts["required"] = True
        opts["allow_none"] = maybe
    else:
        opts["load_default"] = default
        opts["allow_none"] = maybe
    if validators:
        opts["validate"] = validators
    return opts


def boolean(help: str, default: bool | _Required) -> StrictBoolean:
    """A strict boolean with a default."""
    return StrictBoolean(**_opts(help, default, False))


def maybe_boolean(help: str) -> StrictBoolean:
    """A strict boolean that may be null (the default): null means "leave as is"."""
    return StrictBoolean(**_opts(help, None, True))


def string(
    help: str, default: str | _Required | None = REQUIRED, *, non_empty: bool = False
) -> fields.String:
    """A string; ``default=None`` makes it a "maybe" string."""
    return fields.String(
        **_opts(help, default, default is None, [_NON_EMPTY] if non_empty else None)
    )


def maybe_string(help: str) -> fields.String:
    """A non-empty string or null (the default)."""
    return fields.String(**_opts(help, None, True, [_NON_EMPTY]))


def maybe_any_string(help: str) -> fields.String:
    """Any string (even empty) or null (the default)."""
    return fields.String(**_opts(help, None, True))


def integer(
    help: str,
    default: int | _Required | None = REQUIRED,
    *,
    minimum: int | None = None,
    maximum: int | None = None,
) -> StrictInteger:
    """A strict integer, optionally bounded (``minimum``/``maximum`` inclusive)."""
    validators: list[Callable[[Any], Any]] = []
    if minimum is not None or maximum is not None:
        validators.append(validate.Range(min=minimum, max=maximum))
    return StrictInteger(**_opts(help, default, default is None, validators))


def number(help: str, default: float | _Required | None = REQUIRED) -> StrictFloat:
    """A finite number stored as float."""
    return StrictFloat(**_opts(help, default, default is None))


#: Names of plugin-provided drivers (hypervisors, disk templates): any well-formed
#: name, since a site may install plugins beyond Ganeti's. Whether the cluster
#: enables it is checked when the opcode runs, against the live config.
PLUGIN_NAME = validate.Regexp(
    r"^[a-z0-9][a-z0-9_.+-]{0,63}$", error="Not a valid plugin name (e.g. kvm, file, xen-pvm)."
)


def plugin_name(help: str, default: str | _Required | None = REQUIRED) -> fields.String:
    """The name of a driver plugin, such as a hypervisor or a disk template."""
    return fields.String(**_opts(help, default, default is None, [PLUGIN_NAME]))


def one_of(
    choices: Iterable[str], help: str, default: str | _Required | None = REQUIRED
) -> fields.String:
    """A string from a fixed value set; ``default=None`` also allows null."""
    return fields.String(**_opts(help, default, default is None, [validate.OneOf(tuple(choices))]))


def string_list(
    help: str,
    default: Callable[[], list[str]] | _Required | None = list,
    *,
    non_empty: bool = True,
    choices: Iterable[str] | None = None,
    item: Callable[[Any], Any] | None = None,
) -> fields.List[str]:
    """A list of strings (non-empty ones unless ``non_empty=False``).

    ``choices`` limits the items to a value set, ``item`` adds a validator.
    """
    validators: list[Callable[[Any], Any]] = []
    if non_empty:
        validators.append(_NON_EMPTY)
    if choices is not None:
        validators.append(validate.OneOf(tuple(choices)))
    if item is not None:
        validators.append(item)
    inner = fields.String(validate=validators)
    return fields.List(inner, **_opts(help, default, default is None))


def any_list(help: str, default: Callable[[], list[Any]] | None = None) -> fields.List[Any]:
    """A list whose items are not checked here (``default=None`` allows null)."""
    return fields.List(fields.Raw(allow_none=True), **_opts(help, default, default is None))


def any_dict(
    help: str, default: Callable[[], dict[str, Any]] | _Required | None = None, **extra: Any
) -> fields.Dict:
    """A dict whose content is checked later (``default=None`` allows null)."""
    return fields.Dict(**_opts(help, default, default is None, **extra))


def dict_of_dicts(help: str, *, keys: Callable[[Any], Any] | None = None) -> fields.Dict:
    """A dict of dicts, such as per-hypervisor parameters; null allowed.

    ``keys`` validates the outer keys.
    """
    key_field = fields.String(validate=keys) if keys else fields.String()
    return fields.Dict(keys=key_field, values=fields.Dict(), **_opts(help, None, True))


# ---------------------------------------------------------------------------
# Named factories for parameters many opcodes share
# ---------------------------------------------------------------------------


def instance_name() -> fields.String:
    return string("Name of the instance to act on.", non_empty=True)


def instance_uuid() -> fields.String:
    return maybe_string("UUID of the instance; filled in by the master, rarely given by clients.")


def node_name() -> fields.String:
    return string("Name of the node to act on.", non_empty=True)


def node_uuid() -> fields.String:
    return maybe_string("UUID of the node; filled in by the master, rarely given by clients.")


def group_name() -> fields.String:
    return string("Name of the node group to act on.", non_empty=True)


def maybe_group_name() -> fields.String:
    return maybe_string("Restrict the operation to this node group; null means all groups.")


def network_name() -> fields.String:
    return string("Name of the network to act on.", non_empty=True)


def force() -> StrictBoolean:
    return boolean("Go ahead even where safety checks would normally refuse.", False)


def shutdown_timeout() -> StrictInteger:
    return integer(
        "Seconds to wait for a clean shutdown of the instance before forcing it off.",
        DEFAULT_SHUTDOWN_TIMEOUT,
        minimum=0,
    )


def iallocator() -> fields.String:
    return maybe_string(
        "Allocator plugin that picks the target node(s); null uses the cluster default "
        "or the nodes given explicitly."
    )


def tags(what: str) -> fields.List[str]:
    return string_list(f"Tags to put on the new {what}.")


def early_release() -> StrictBoolean:
    return boolean(
        "Release locks as early as possible, before the operation has fully ended.", False
    )


def ignore_ipolicy() -> StrictBoolean:
    return boolean("Carry on even if the result breaks the instance policy.", False)


def ignore_consistency() -> StrictBoolean:
    return boolean("Carry on even if the disks are not in sync (data may be lost).", False)


def target_groups() -> fields.List[str]:
    return string_list(
        "Node groups (names or UUIDs) the instances may move to; null means any other group.",
        None,
    )


def wait_for_sync(default: bool) -> StrictBoolean:
    return boolean("Wait until mirrored disks have finished synchronising.", default)


def hv_state() -> fields.Dict:
    return any_dict("Hypervisor resource state to record, keyed by hypervisor; null leaves it.")


def disk_state() -> fields.Dict:
    return any_dict("Disk resource state to record, keyed by storage kind; null leaves it.")


def ndparams(where: str) -> fields.Dict:
    return any_dict(f"Node parameters to set {where}; null leaves them unchanged.")


def ipolicy(where: str) -> fields.Dict:
    return any_dict(f"Instance policy (limits and specs) to set {where}; null leaves it.")


def diskparams(where: str) -> fields.Dict:
    return dict_of_dicts(
        f"Disk parameters per disk template to set {where}; null leaves them.",
        keys=PLUGIN_NAME,
    )


def alloc_policy() -> fields.String:
    return one_of(
        ALLOC_POLICIES,
        "How willingly new instances are placed in this group; null leaves it.",
        None,
    )


def output_fields() -> fields.List[str]:
    return string_list("Names of the fields to return.", REQUIRED)


def use_locking() -> StrictBoolean:
    return boolean("Take locks so the answer is consistent (slower).", False)


def conflicts_check() -> StrictBoolean:
    return boolean("Refuse when an IP address would clash with one already in use.", True)


def compress(what: str) -> fields.String:
    return string(f"Compression tool for the data sent while {what} (or 'none').", "none")


def migration_mode() -> fields.String:
    return one_of(
        MIGRATION_MODES,
        "Live or non-live migration; null lets the hypervisor parameters decide.",
        None,
    )


def live() -> StrictBoolean:
    return maybe_boolean("Old way of asking for live migration; prefer 'mode'.")


def target_node(what: str) -> fields.String:
    return maybe_string(f"Node to {what} to; only for instances on shared storage.")


def target_node_uuid() -> fields.String:
    return maybe_string("UUID of the target node; filled in by the master.")


def allow_runtime_changes() -> StrictBoolean:
    return boolean(
        "Allow changing runtime settings (such as memory) to make the migration fit.", True
    )


def cleanup() -> StrictBoolean:
    return boolean("Clean up after an earlier migration that failed half-way.", False)


def remote_node() -> fields.String:
    return maybe_string("New secondary node.")


def remote_node_uuid() -> fields.String:
    return maybe_string("UUID of the new secondary node; filled in by the master.")


def storage_type(default: _Required | None = REQUIRED) -> fields.String:
    return one_of(STORAGE_TYPES, "Kind of storage unit.", default)


def storage_name() -> fields.String:
    return maybe_string("Name of the storage unit (for example a volume group).")


def beparams(
    help: str = "Backend parameters (memory, vCPUs, ...) for the instance.",
) -> fields.Dict:
    return any_dict(help, dict)


def hvparams(help: str = "Hypervisor parameters for the instance.") -> fields.Dict:
    return any_dict(help, dict)


def osparams(help: str = "OS parameters for the instance.") -> fields.Dict:
    return any_dict(help, dict)


def osparams_private(help: str) -> fields.Dict:
    return any_dict(help, None, private=True)


def osparams_secret(help: str) -> fields.Dict:
    return any_dict(help, None, secret=True)


def os_type() -> fields.String:
    return maybe_string("OS definition (with optional '+variant') to install.")


def force_variant() -> StrictBoolean:
    return boolean("Accept an OS variant the OS definition does not list.", False)


def disk_template() -> fields.String:
    return plugin_name("Disk template for the instance's disks.", None)


def file_driver() -> fields.String:
    return one_of(FILE_DRIVERS, "Driver for disks kept in files.", None)


def file_storage_dir() -> fields.String:
    return maybe_string("Directory, below the cluster's file storage root, for file disks.")


def hypervisor() -> fields.String:
    return plugin_name("Hypervisor for the instance; null means the cluster default.", None)


def pnode() -> fields.String:
    return maybe_string("Primary node for the instance.")


def pnode_uuid() -> fields.String:
    return maybe_string("UUID of the primary node; filled in by the master.")


def verbose() -> StrictBoolean:
    return boolean("Report more detail.", False)


def error_codes() -> StrictBoolean:
    return boolean("Print machine-readable error codes with each problem.", False)


def debug_simulate_errors() -> StrictBoolean:
    return boolean("Pretend every check failed (to test the reporting).", False)


def skip_checks() -> fields.List[str]:
    return string_list("Optional checks to leave out.", choices=VERIFY_OPTIONAL_CHECKS)


def ignore_errors() -> fields.List[str]:
    return string_list(
        "Verification error codes to report as warnings only.", choices=CV_ERROR_CODES
    )


def verify_clutter() -> StrictBoolean:
    return boolean("Also look for stray entries in the SSH authorized_keys files.", False)


def name_check() -> StrictBoolean:
    return boolean("Check that the name resolves in DNS.", True)


def ip_check() -> StrictBoolean:
    return boolean("Check that the instance's IP address is not already answering.", True)


def no_remember() -> StrictBoolean:
    return boolean("Do not record the new running state in the configuration.", False)


def ignore_offline_nodes() -> StrictBoolean:
    return boolean("Skip nodes that are marked offline.", False)


def mac_prefix() -> fields.String:
    return maybe_string("MAC address prefix (three octets) for this network's NICs.")


def node_uuids(
    help: str = "Node UUIDs matching the node names; filled in by the master.",
) -> fields.List[str]:
    return string_list(help, None)


def instance_communication(default: bool | None) -> StrictBoolean:
    help = "Give the instance a NIC on the cluster's instance communication network."
    if default is None:
        return maybe_boolean(help + " Null leaves it unchanged.")
    return boolean(help, default)
