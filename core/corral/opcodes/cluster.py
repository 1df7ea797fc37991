"""Cluster-wide opcodes (``gnt-cluster``)."""

from __future__ import annotations

from marshmallow import fields
from marshmallow import validate

from corral.opcodes import fields as fld
from corral.opcodes.base import OpCodeSchema


class ClusterPostInitSchema(OpCodeSchema):
    """Run the post-initialisation hooks of a freshly created cluster."""

    OP_ID = "OP_CLUSTER_POST_INIT"


class ClusterDestroySchema(OpCodeSchema):
    """Tear the cluster down for good; its state cannot be recovered."""

    OP_ID = "OP_CLUSTER_DESTROY"


class ClusterQuerySchema(OpCodeSchema):
    """Return the cluster's settings and status."""

    OP_ID = "OP_CLUSTER_QUERY"


class ClusterVerifySchema(OpCodeSchema):
    """Check the whole cluster by submitting one verification job per node group."""

    OP_ID = "OP_CLUSTER_VERIFY"

    debug_simulate_errors = fld.debug_simulate_errors()
    error_codes = fld.error_codes()
    skip_checks = fld.skip_checks()
    ignore_errors = fld.ignore_errors()
    verbose = fld.verbose()
    group_name = fld.maybe_group_name()
    verify_clutter = fld.verify_clutter()


class ClusterVerifyConfigSchema(OpCodeSchema):
    """Check the consistency of the cluster configuration itself."""

    OP_ID = "OP_CLUSTER_VERIFY_CONFIG"

    debug_simulate_errors = fld.debug_simulate_errors()
    error_codes = fld.error_codes()
    ignore_errors = fld.ignore_errors()
    verbose = fld.verbose()


class ClusterVerifyGroupSchema(OpCodeSchema):
    """Check the nodes and instances of one node group."""

    OP_ID = "OP_CLUSTER_VERIFY_GROUP"
    OP_DSC_FIELD = "group_name"

    group_name = fld.group_name()
    debug_simulate_errors = fld.debug_simulate_errors()
    error_codes = fld.error_codes()
    skip_checks = fld.skip_checks()
    ignore_errors = fld.ignore_errors()
    verbose = fld.verbose()
    verify_clutter = fld.verify_clutter()


class ClusterVerifyDisksSchema(OpCodeSchema):
    """Check instance disks by submitting one disk-verification job per node group."""

    OP_ID = "OP_CLUSTER_VERIFY_DISKS"

    group_name = fld.maybe_group_name()


class ClusterRepairDiskSizesSchema(OpCodeSchema):
    """Compare recorded disk sizes with the real ones and fix the configuration."""

    OP_ID = "OP_CLUSTER_REPAIR_DISK_SIZES"

    instances = fld.string_list("Instances to check; an empty list checks all of them.")


class ClusterConfigQuerySchema(OpCodeSchema):
    """Return selected cluster configuration values."""

    OP_ID = "OP_CLUSTER_CONFIG_QUERY"

    output_fields = fld.output_fields()


class ClusterRenameSchema(OpCodeSchema):
    """Give the cluster a new name (and the master IP address that name resolves to)."""

    OP_ID = "OP_CLUSTER_RENAME"
    OP_DSC_FIELD = "name"

    name = fld.string("New name of the cluster.", non_empty=True)


def _uid_ranges(help: str) -> fields.List[list[int]]:
    return fields.List(fld.IntPair(), load_default=None, allow_none=True, metadata={"help": help})


def _os_changes(help: str) -> fields.List[list[str]]:
    return fields.List(
        fld.OsListChange(), load_default=None, allow_none=True, metadata={"help": help}
    )


def _maybe_positive(help: str) -> fld.StrictInteger:
    return fld.integer(help, None, minimum=1)


class ClusterSetParamsSchema(OpCodeSchema):
    """Change cluster-wide settings; every parameter left null stays as it is."""

    OP_ID = "OP_CLUSTER_SET_PARAMS"

    force = fld.force()
    hv_state = fld.hv_state()
    disk_state = fld.disk_state()
    vg_name = fld.maybe_any_string(
        "Volume group for LVM-based disks; an empty string turns LVM storage off."
    )
    enabled_hypervisors = fld.string_list(
        "Hypervisors instances may use; the first one is the default.",
        None,
        item=fld.PLUGIN_NAME,
    )
    hvparams = fld.dict_of_dicts("Default hypervisor parameters, per hypervisor.")
    beparams = fld.any_dict("Default backend parameters for instances.")
    os_hvp = fld.dict_of_dicts("Hypervisor parameter defaults per OS, keyed by OS name.")
    osparams = fld.dict_of_dicts("Default OS parameters, keyed by OS name.")
    osparams_private_cluster = fields.Dict(
        keys=fields.String(),
        values=fields.Dict(),
        load_default=None,
        allow_none=True,
        metadata={"help": "Default private OS parameters, keyed by OS name.", "private": True},
    )
    diskparams = fld.diskparams("for the whole cluster")
    candidate_pool_size = _maybe_positive("How many nodes should be master candidates.")
    max_running_jobs = _maybe_positive("Most jobs the master runs at the same time.")
    max_tracked_jobs = _maybe_positive("Most jobs the queue keeps track of at once.")
    uid_pool = _uid_ranges(
        "Replace the pool of user IDs for instances with these inclusive [first, last] ranges."
    )
    add_uids = _uid_ranges("Add these inclusive [first, last] user ID ranges to the pool.")
    remove_uids = _uid_ranges("Take these inclusive [first, last] user ID ranges out of the pool.")
    maintain_node_health = fld.maybe_boolean(
        "Let the watcher shut down stray instances and disks on offline nodes."
    )
    prealloc_wipe_disks = fld.maybe_boolean("Wipe new disks before handing them to instances.")
    nicparams = fields.Dict(
        keys=fields.String(validate=validate.OneOf(fld.NIC_SPEC_KEYS)),
        values=fields.String(allow_none=True),
        load_default=None,
        allow_none=True,
        metadata={"help": "Default NIC parameters (mode, link, vlan, ...)."},
    )
    ndparams = fld.ndparams("as cluster defaults")
    ipolicy = fld.ipolicy("for the whole cluster")
    drbd_helper = fld.maybe_any_string(
        "Program DRBD calls on state changes; an empty string disables the check."
    )
    default_iallocator = fld.maybe_any_string(
        "Allocator used when a command names none; an empty string means none."
    )
    default_iallocator_params = fld.any_dict("Parameters passed to the default allocator.")
    mac_prefix = fld.maybe_string("Prefix (three octets) for generated MAC addresses.")
    master_netdev = fld.maybe_any_string("Network device that carries the master IP address.")
    master_netmask = fld.integer("Prefix length of the master IP address.", None, minimum=0)
    reserved_lvs = fld.string_list(
        "Logical volumes (names or regular expressions) that verify should not report.", None
    )
    hidden_os = _os_changes(
        "Changes to the list of hidden OS definitions, as [add|remove, os_name] pairs."
    )
    blacklisted_os = _os_changes(
        "Changes to the list of blacklisted OS definitions, as [add|remove, os_name] pairs."
    )
    use_external_mip_script = fld.maybe_boolean(
        "Use a site script instead of the built-in one to set up the master IP."
    )
    enabled_disk_templates = fld.string_list(
        "Disk templates instances may use; the first one is the default.",
        None,
        item=fld.PLUGIN_NAME,
    )
    modify_etc_hosts = fld.maybe_boolean("Keep /etc/hosts on the nodes up to date.")
    file_storage_dir = fld.maybe_any_string("Root directory for file-based instance disks.")
    shared_file_storage_dir = fld.maybe_any_string(
        "Root directory for instance disks on a shared file system."
    )
    gluster_storage_dir = fld.maybe_any_string("Directory for instance disks on Gluster.")
    install_image = fld.maybe_any_string(
        "Disk image of a helper VM in which OS scripts run isolated from the node."
    )
    instance_communication_network = fld.maybe_any_string(
        "Network that gives instances a channel to the node they run on."
    )
    zeroing_image = fld.maybe_any_string(
        "Disk image of a helper VM that zeroes free space before exports."
    )
    compression_tools = fld.string_list("Compression tools allowed for moves and exports.", None)
    enabled_user_shutdown = fld.maybe_boolean(
        "Allow a shutdown from inside an instance to count as a user shutdown."
    )
    enabled_data_collectors = fields.Dict(
        keys=fields.String(),
        values=fld.StrictBoolean(),
        load_default=None,
        allow_none=True,
        metadata={"help": "Turn monitoring data collectors on or off, by collector name."},
    )
    data_collector_interval = fields.Dict(
        keys=fields.String(),
        values=fld.StrictInteger(),
        load_default=None,
        allow_none=True,
        metadata={"help": "How often each data collector runs, in microseconds, by name."},
    )


class ClusterRedistConfSchema(OpCodeSchema):
    """Push the full configuration and support files to every node again."""

    OP_ID = "OP_CLUSTER_REDIST_CONF"


class ClusterActivateMasterIpSchema(OpCodeSchema):
    """Bring up the master IP address on the master node."""

    OP_ID = "OP_CLUSTER_ACTIVATE_MASTER_IP"


class ClusterDeactivateMasterIpSchema(OpCodeSchema):
    """Take the master IP address down on the master node."""

    OP_ID = "OP_CLUSTER_DEACTIVATE_MASTER_IP"


class ClusterRenewCryptoSchema(OpCodeSchema):
    """Issue new node certificates (and a new cluster CA) across the cluster."""

    OP_ID = "OP_CLUSTER_RENEW_CRYPTO"

    node_certificates = fld.boolean("Issue new client certificates to all nodes.", False)
    #: corral's: Ganeti renews its cluster certificate outside the job queue.
    cluster_certificate = fld.boolean(
        "Create a new cluster CA and re-sign every node's certificate with it.", False
    )
    renew_ssh_keys = fld.boolean("Generate and distribute new SSH keys.", False)
    ssh_key_type = fld.one_of(
        fld.SSH_KEY_TYPES, "Type of the new SSH keys; null keeps the current type.", None
    )
    ssh_key_bits = fld.integer(
        "Size in bits of the new SSH keys; null keeps the current size.", None, minimum=1
    )
    verbose = fld.verbose()
    debug = fld.boolean("Report debugging detail while renewing.", False)
