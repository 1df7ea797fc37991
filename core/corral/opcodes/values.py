"""Value sets of opcode parameters: the strings (and limits) Ganeti 3.0 uses.

Existing scripts, RAPI clients and job files keep working because these are
the same values; each set lives here once and the field factories use it.
"""

from __future__ import annotations

from typing import Final

# ---------------------------------------------------------------------------
# Value sets (Ganeti 3.0's strings)
# ---------------------------------------------------------------------------

#: Ganeti's disk templates. Opcodes accept any plugin's name (fields.PLUGIN_NAME);
#: this list documents the names existing configs and scripts use.
DISK_TEMPLATES: Final = (
    "blockdev",
    "diskless",
    "drbd",
    "ext",
    "file",
    "gluster",
    "plain",
    "rbd",
    "sharedfile",
)
#: Ganeti's hypervisor names (documentation only, as for DISK_TEMPLATES).
HYPERVISORS: Final = ("chroot", "fake", "kvm", "lxc", "xen-hvm", "xen-pvm")
#: Ways of migrating a running instance.
MIGRATION_MODES: Final = ("live", "non-live")
#: How a new instance gets its disks' content.
INSTANCE_CREATE_MODES: Final = ("create", "import", "remote-import")
#: Kinds of instance reboot.
REBOOT_TYPES: Final = ("full", "hard", "soft")
#: Ways of replacing an instance's mirrored disks.
REPLACE_DISK_MODES: Final = (
    "replace_auto",
    "replace_new_secondary",
    "replace_on_primary",
    "replace_on_secondary",
)
#: Where an export goes.
EXPORT_MODES: Final = ("local", "remote")
#: Which instances a node evacuation moves.
NODE_EVAC_MODES: Final = ("all", "primary-only", "secondary-only")
#: Directions of the allocator test opcode.
IALLOCATOR_DIRECTIONS: Final = ("in", "out")
#: Request kinds of the iallocator protocol.
IALLOCATOR_MODES: Final = (
    "allocate",
    "allocate-secondary",
    "change-group",
    "multi-allocate",
    "node-evacuate",
    "relocate",
)
#: Node group allocation policies.
ALLOC_POLICIES: Final = ("preferred", "last_resort", "unallocable")
#: Objects that carry tags.
TAG_KINDS: Final = ("cluster", "instance", "network", "node", "nodegroup")
#: Storage unit types a node can report on.
STORAGE_TYPES: Final = (
    "blockdev",
    "diskless",
    "ext",
    "file",
    "gluster",
    "lvm-pv",
    "lvm-vg",
    "rados",
    "sharedfile",
)
#: Drivers for file-backed disks.
FILE_DRIVERS: Final = ("blktap", "blktap2", "loop")
#: Out-of-band management commands.
OOB_COMMANDS: Final = ("health", "power-cycle", "power-off", "power-on", "power-status")
#: Resources that the generic query opcodes can list.
QUERY_RESOURCES: Final = (
    "cluster",
    "export",
    "extstorage",
    "filter",
    "group",
    "instance",
    "job",
    "lock",
    "network",
    "node",
    "os",
)
#: NIC connection modes (for network-to-group connections).
NIC_MODES: Final = ("bridged", "openvswitch", "pool", "routed")
#: Optional cluster-verify checks that may be skipped.
VERIFY_OPTIONAL_CHECKS: Final = ("nplusone_mem",)
#: Cluster-verify error codes that can be demoted to warnings.
CV_ERROR_CODES: Final = (
    "ECLUSTERCERT",
    "ECLUSTERCFG",
    "ECLUSTERCLIENTCERT",
    "ECLUSTERDANGLINGINST",
    "ECLUSTERDANGLINGNODES",
    "ECLUSTERFILECHECK",
    "EEXTAGS",
    "EGROUPDIFFERENTPVSIZE",
    "EINSTANCEBADNODE",
    "EINSTANCEDOWN",
    "EINSTANCEFAULTYDISK",
    "EINSTANCELAYOUT",
    "EINSTANCEMISSINGCFGPARAMETER",
    "EINSTANCEMISSINGDISK",
    "EINSTANCEPOLICY",
    "EINSTANCESPLITGROUPS",
    "EINSTANCEUNSUITABLENODE",
    "EINSTANCEWRONGNODE",
    "ENODEDRBD",
    "ENODEDRBDHELPER",
    "ENODEDRBDVERSION",
    "ENODEFILECHECK",
    "ENODEFILESTORAGEPATHS",
    "ENODEFILESTORAGEPATHUNUSABLE",
    "ENODEGLUSTERSTORAGEPATHUNUSABLE",
    "ENODEHOOKS",
    "ENODEHV",
    "ENODELVM",
    "ENODEN1",
    "ENODENET",
    "ENODEOOBPATH",
    "ENODEORPHANINSTANCE",
    "ENODEORPHANLV",
    "ENODEOS",
    "ENODERPC",
    "ENODESETUP",
    "ENODESHAREDFILESTORAGEPATHUNUSABLE",
    "ENODESSH",
    "ENODETIME",
    "ENODEUSERSCRIPTS",
    "ENODEVERSION",
)
#: SSH key types the cluster can use.
SSH_KEY_TYPES: Final = ("dsa", "ecdsa", "rsa")
#: Who changed an instance's administrative state last.
ADMIN_STATE_SOURCES: Final = ("admin", "user")
#: Actions of the two-item (legacy) device modification format and of OS lists.
DDM_SIMPLE: Final = ("add", "attach", "detach", "remove")
#: Actions of the three-item device modification format.
DDM_WITH_MODIFY: Final = ("add", "attach", "detach", "modify", "remove")
#: Final job statuses a dependency can wait for.
JOB_FINAL_STATUSES: Final = ("canceled", "error", "success")
#: Disk access modes.
DISK_ACCESS_MODES: Final = ("ro", "rw")
#: The most disks one instance may have.
MAX_DISKS: Final = 16
#: Default time, in seconds, an instance gets to shut down cleanly.
DEFAULT_SHUTDOWN_TIMEOUT: Final = 120
#: Lowest and highest opcode priority (lower numbers run first).
PRIORITY_HIGHEST: Final = -20
PRIORITY_LOWEST: Final = 19
#: Priority of an opcode that does not say.
PRIORITY_DEFAULT: Final = 0
#: The priorities a client may ask for when submitting (the queue may change
#: a waiting opcode's priority within the whole range above).
SUBMIT_PRIORITIES: Final = (-10, 0, 10)

#: Keys of an instance disk specification with a type of their own; any other
#: key is a provider parameter for ``ext`` disks (a string or an integer).
DISK_SPEC_KEYS: Final = (
    "access",
    "adopt",
    "dev_type",
    "metavg",
    "mode",
    "name",
    "provider",
    "size",
    "spindles",
    "vg",
)
#: Keys of a NIC specification.
NIC_SPEC_KEYS: Final = ("bridge", "ip", "link", "mac", "mode", "name", "network", "vlan")
