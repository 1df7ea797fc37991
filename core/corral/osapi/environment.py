"""The environment OS scripts run in, variable for variable as Ganeti 3.0 builds it.

Scripts get nothing else: no variable of the node daemon leaks in
(``ganeti-os-interface(7)``: "the environment will be cleaned up"), and
``PATH`` is Ganeti's fixed ``/sbin:/bin:/usr/sbin:/usr/bin``.

The input is plain data (:class:`OSInstance`, :class:`OSDisk`,
:class:`OSNic`, :class:`OSNetwork`) that the node daemon fills from its
config objects, so this module knows nothing of the config's classes.
Where the man page and Ganeti's code disagree, the code wins, because
existing providers were tested against it: ``NIC_<N>_NETWORK_FAMILY`` is
documented but never set (networks lost their family in Ganeti 2.14), and
``INSTANCE_UUID``, ``INSTANCE_PRIMARY_NODE``, ``INSTANCE_SECONDARY_NODES``,
``INSTANCE_CTIME``/``MTIME`` and ``INSTANCE_HV_*``/``INSTANCE_BE_*`` are set
though undocumented.
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field
from typing import TYPE_CHECKING
from typing import Any

from corral.osapi.provider import OSAction
from corral.osapi.provider import OSProviderError

if TYPE_CHECKING:
    from collections.abc import Mapping
    from collections.abc import Sequence

    from corral.osapi.provider import OSProvider

#: The only PATH scripts get (Ganeti's ``HOOKS_PATH``).
SCRIPT_PATH = "/sbin:/bin:/usr/sbin:/usr/bin"

#: Disk templates whose devices the node sees as block devices.
BLOCK_TEMPLATES = frozenset({"blockdev", "drbd", "ext", "plain", "rbd"})
#: Disk templates backed by files, shown as ``file:<driver>``.
FILE_TEMPLATES = frozenset({"file", "gluster", "sharedfile"})

#: The hvparams giving the guest's disk and NIC types (``*_FRONTEND_TYPE``).
HV_DISK_TYPE = "disk_type"
HV_NIC_TYPE = "nic_type"


@dataclass(frozen=True)
class OSDisk:
    """One instance disk as scripts see it.

    ``path`` is the device or file on this node (``None`` when the disk is
    reachable through ``uri`` only, userspace access); ``access`` is its
    mode, ``rw`` or ``ro``; ``size`` is in MiB; ``template`` is the disk
    template (``plain``, ``drbd``, ``file``...) and ``file_driver`` the
    file driver of a file-based one (``loop``, ``blktap``, ``blktap2``).
    """

    path: str | None
    access: str = "rw"
    uuid: str = ""
    size: int = 0
    name: str | None = None
    uri: str | None = None
    template: str | None = None
    file_driver: str | None = None

    @property
    def backend_type(self) -> str | None:
        """``DISK_<N>_BACKEND_TYPE``: ``block``, ``file:<driver>``, or unset."""
        if self.template in BLOCK_TEMPLATES:
            return "block"
        if self.template in FILE_TEMPLATES and self.file_driver:
            return f"file:{self.file_driver}"
        return None


@dataclass(frozen=True)
class OSNetwork:
    """The network a NIC is connected to (``gnt-network``), if any."""

    name: str
    uuid: str
    subnet: str | None = None
    gateway: str | None = None
    subnet6: str | None = None
    gateway6: str | None = None
    mac_prefix: str | None = None
    tags: Sequence[str] = ()


@dataclass(frozen=True)
class OSNic:
    """One instance NIC: its filled nicparams ``mode`` and ``link``, and identity."""

    mac: str
    mode: str
    link: str = ""
    uuid: str = ""
    name: str | None = None
    ip: str | None = None
    network: OSNetwork | None = None


@dataclass(frozen=True)
class OSInstance:
    """What OS scripts learn about an instance.

    ``os`` is the instance's full OS name with its variant
    (``debootstrap+default``). ``hvparams`` and ``beparams`` are the filled
    ones; ``osparams`` holds public and private OS parameters together.
    ``ctime``/``mtime`` are the config's timestamps (seconds since the epoch).
    """

    name: str
    os: str
    hypervisor: str
    uuid: str = ""
    primary_node: str = ""
    secondary_nodes: Sequence[str] = ()
    ctime: float = 0.0
    mtime: float = 0.0
    hvparams: Mapping[str, Any] = field(default_factory=dict)
    beparams: Mapping[str, Any] = field(default_factory=dict)
    osparams: Mapping[str, Any] = field(default_factory=dict)
    disks: Sequence[OSDisk] = ()
    nics: Sequence[OSNic] = ()


def _text(value: Any) -> str:
    """A parameter value as Ganeti passes it: Python's ``str``."""
    return str(value)


def core_environment(
    provider: OSProvider, os_name: str, osparams: Mapping[str, Any], debug: int = 0
) -> dict[str, str]:
    """The variables every script gets, also the only ones ``verify`` gets.

    ``os_name`` is the full name with variant; an unnamed variant is the
    provider's first (as Ganeti, once the name was accepted with
    ``--force-variant`` or the check was skipped).
    """
    env = {
        "OS_API_VERSION": str(provider.api_version),
        "OS_NAME": provider.name,
        "DEBUG_LEVEL": str(debug),
        "OS_VARIANT": provider.variant_for(os_name),
    }
    for name, value in osparams.items():
        env["OSP_" + name.upper().replace("-", "_")] = _text(value)
    env["PATH"] = SCRIPT_PATH
    return env


def _network(prefix: str, net: OSNetwork) -> dict[str, str]:
    env = {
        f"{prefix}NETWORK_NAME": net.name,
        f"{prefix}NETWORK_UUID": net.uuid,
        f"{prefix}NETWORK_TAGS": " ".join(net.tags),
    }
    optional = {
        "SUBNET": net.subnet,
        "GATEWAY": net.gateway,
        "SUBNET6": net.subnet6,
        "GATEWAY6": net.gateway6,
        "MAC_PREFIX": net.mac_prefix,
    }
    env.update({f"{prefix}NETWORK_{key}": value for key, value in optional.items() if value})
    return env


def instance_environment(
    provider: OSProvider, instance: OSInstance, debug: int = 0
) -> dict[str, str]:
    """The common environment of ``create``, ``import``, ``export`` and ``rename``."""
    env = core_environment(provider, instance.os, instance.osparams, debug)
    env.update(
        {
            "INSTANCE_NAME": instance.name,
            "INSTANCE_OS": instance.os,
            "INSTANCE_UUID": instance.uuid,
            "INSTANCE_CTIME": _text(instance.ctime),
            "INSTANCE_MTIME": _text(instance.mtime),
            "INSTANCE_PRIMARY_NODE": instance.primary_node,
            "HYPERVISOR": instance.hypervisor,
            "DISK_COUNT": str(len(instance.disks)),
            "NIC_COUNT": str(len(instance.nics)),
            "INSTANCE_SECONDARY_NODES": " ".join(instance.secondary_nodes),
        }
    )
    disk_type = instance.hvparams.get(HV_DISK_TYPE)
    for idx, disk in enumerate(instance.disks):
        prefix = f"DISK_{idx}_"
        env[prefix + "ACCESS"] = disk.access
        env[prefix + "UUID"] = disk.uuid
        env[prefix + "SIZE"] = str(disk.size)
        if disk.path:
            env[prefix + "PATH"] = disk.path
        if disk.uri:
            env[prefix + "URI"] = disk.uri
        if disk.name:
            env[prefix + "NAME"] = disk.name
        if disk_type is not None:
            env[prefix + "FRONTEND_TYPE"] = _text(disk_type)
        if disk.backend_type:
            env[prefix + "BACKEND_TYPE"] = disk.backend_type
    nic_type = instance.hvparams.get(HV_NIC_TYPE)
    for idx, nic in enumerate(instance.nics):
        prefix = f"NIC_{idx}_"
        env[prefix + "MAC"] = nic.mac
        env[prefix + "UUID"] = nic.uuid
        if nic.name:
            env[prefix + "NAME"] = nic.name
        if nic.ip:
            env[prefix + "IP"] = nic.ip
        env[prefix + "MODE"] = nic.mode
        if nic.mode == "bridged":
            env[prefix + "BRIDGE"] = nic.link
        if nic.link:
            env[prefix + "LINK"] = nic.link
        if nic.network is not None:
            env.update(_network(prefix, nic.network))
        if nic_type is not None:
            env[prefix + "FRONTEND_TYPE"] = _text(nic_type)
    for kind, params in (("BE", instance.beparams), ("HV", instance.hvparams)):
        for key, value in params.items():
            env[f"INSTANCE_{kind}_{key}"] = _text(value)
    return env


def _disk(instance: OSInstance, index: int | None, action: OSAction) -> OSDisk:
    if index is None:
        raise OSProviderError(f"the OS {action.value} script needs the index of the disk to move")
    if not 0 <= index < len(instance.disks):
        raise OSProviderError(
            f"instance {instance.name} has {len(instance.disks)} disk(s): there is no disk {index}"
            f" to {action.value}"
        )
    return instance.disks[index]


def action_environment(
    provider: OSProvider,
    action: OSAction,
    instance: OSInstance,
    *,
    debug: int = 0,
    reinstall: bool = False,
    old_name: str | None = None,
    disk_index: int | None = None,
) -> dict[str, str]:
    """The full environment of one script run.

    ``create``: ``INSTANCE_REINSTALL=1`` with ``reinstall``. ``rename``:
    ``OLD_INSTANCE_NAME`` (``old_name`` is required); ``INSTANCE_NAME`` is
    the new name. ``import``/``export``: the disk ``disk_index`` as
    ``IMPORT_*``/``EXPORT_*`` (``_INDEX``, ``_DEVICE``, ``_DISK_PATH``,
    ``_DISK_URI``). ``verify`` is not run per instance: see
    :func:`core_environment`.
    """
    if action is OSAction.VERIFY:
        raise OSProviderError("verify runs with core_environment(), not for an instance")
    env = instance_environment(provider, instance, debug)
    if action is OSAction.CREATE and reinstall:
        env["INSTANCE_REINSTALL"] = "1"
    elif action is OSAction.RENAME:
        if not old_name:
            raise OSProviderError(
                f"renaming instance {instance.name} needs its old name (OLD_INSTANCE_NAME)"
            )
        env["OLD_INSTANCE_NAME"] = old_name
    elif action in (OSAction.IMPORT, OSAction.EXPORT):
        disk = _disk(instance, disk_index, action)
        word = action.value.upper()
        if disk.path:
            env[f"{word}_DEVICE"] = disk.path
            env[f"{word}_DISK_PATH"] = disk.path
        if disk.uri:
            env[f"{word}_DISK_URI"] = disk.uri
        env[f"{word}_INDEX"] = str(disk_index)
    return env
