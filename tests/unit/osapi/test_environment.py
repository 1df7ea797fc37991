"""The scripts' environment, against ganeti-os-interface(7) and Ganeti 3.0's node daemon."""

from __future__ import annotations

import gzip
import itertools
import re

import pytest

from corral.osapi import OSAction
from corral.osapi import OSDisk
from corral.osapi import OSInstance
from corral.osapi import OSNetwork
from corral.osapi import OSNic
from corral.osapi import OSProviderError
from corral.osapi import action_environment
from corral.osapi import core_environment
from corral.osapi import load_provider
from corral.osapi.environment import instance_environment

MAN_PAGE = "usr/share/ganeti/3.0/root/usr/share/man/man7/ganeti-os-interface.7.gz"


def full_instance(os_name: str = "deb+trixie") -> OSInstance:
    """An instance using every feature the environment describes."""
    return OSInstance(
        name="web1.example.com",
        os=os_name,
        hypervisor="kvm",
        uuid="inst-uuid",
        primary_node="node1.example.com",
        secondary_nodes=["node2.example.com"],
        ctime=1700000000.5,
        mtime=1700000100.25,
        hvparams={"disk_type": "paravirtual", "nic_type": "e1000", "acpi": True},
        beparams={"maxmem": 512, "vcpus": 2},
        osparams={"dhcp": "yes", "root-size": 8},
        disks=[
            OSDisk(
                "/dev/drbd0",
                access="rw",
                uuid="disk0-uuid",
                size=1024,
                name="root",
                template="drbd",
            ),
            OSDisk(
                None,
                access="ro",
                uuid="disk1-uuid",
                size=512,
                uri="rbd:pool/vol",
                template="rbd",
            ),
            OSDisk(
                "/srv/disks/web1.disk2",
                uuid="disk2-uuid",
                size=256,
                template="file",
                file_driver="loop",
            ),
        ],
        nics=[
            OSNic(
                "aa:00:00:11:22:33",
                mode="bridged",
                link="br0",
                uuid="nic0-uuid",
                name="eth0",
                ip="192.0.2.10",
                network=OSNetwork(
                    "lan",
                    "net-uuid",
                    subnet="192.0.2.0/24",
                    gateway="192.0.2.1",
                    subnet6="2001:db8::/64",
                    gateway6="2001:db8::1",
                    mac_prefix="aa:00:00",
                    tags=["a", "b"],
                ),
            ),
            OSNic("aa:00:00:11:22:44", mode="routed", link="100", uuid="nic1-uuid"),
        ],
    )


@pytest.fixture
def provider(make_provider):
    return load_provider(
        make_provider(
            "deb",
            api="20\n15\n",
            files={"variants.list": "bookworm\ntrixie\n", "parameters.list": "dhcp x\n"},
        )
    )


def test_the_create_environment_is_exactly_ganetis(provider) -> None:
    env = action_environment(provider, OSAction.CREATE, full_instance(), debug=1, reinstall=True)
    assert env == {
        "OS_API_VERSION": "20",
        "OS_NAME": "deb",
        "OS_VARIANT": "trixie",
        "DEBUG_LEVEL": "1",
        "OSP_DHCP": "yes",
        "OSP_ROOT_SIZE": "8",
        "PATH": "/sbin:/bin:/usr/sbin:/usr/bin",
        "INSTANCE_NAME": "web1.example.com",
        "INSTANCE_OS": "deb+trixie",
        "INSTANCE_UUID": "inst-uuid",
        "INSTANCE_CTIME": "1700000000.5",
        "INSTANCE_MTIME": "1700000100.25",
        "INSTANCE_PRIMARY_NODE": "node1.example.com",
        "INSTANCE_SECONDARY_NODES": "node2.example.com",
        "INSTANCE_REINSTALL": "1",
        "HYPERVISOR": "kvm",
        "DISK_COUNT": "3",
        "DISK_0_PATH": "/dev/drbd0",
        "DISK_0_ACCESS": "rw",
        "DISK_0_UUID": "disk0-uuid",
        "DISK_0_SIZE": "1024",
        "DISK_0_NAME": "root",
        "DISK_0_FRONTEND_TYPE": "paravirtual",
        "DISK_0_BACKEND_TYPE": "block",
        "DISK_1_URI": "rbd:pool/vol",
        "DISK_1_ACCESS": "ro",
        "DISK_1_UUID": "disk1-uuid",
        "DISK_1_SIZE": "512",
        "DISK_1_FRONTEND_TYPE": "paravirtual",
        "DISK_1_BACKEND_TYPE": "block",
        "DISK_2_PATH": "/srv/disks/web1.disk2",
        "DISK_2_ACCESS": "rw",
        "DISK_2_UUID": "disk2-uuid",
        "DISK_2_SIZE": "256",
        "DISK_2_FRONTEND_TYPE": "paravirtual",
        "DISK_2_BACKEND_TYPE": "file:loop",
        "NIC_COUNT": "2",
        "NIC_0_MAC": "aa:00:00:11:22:33",
        "NIC_0_UUID": "nic0-uuid",
        "NIC_0_NAME": "eth0",
        "NIC_0_IP": "192.0.2.10",
        "NIC_0_MODE": "bridged",
        "NIC_0_BRIDGE": "br0",
        "NIC_0_LINK": "br0",
        "NIC_0_FRONTEND_TYPE": "e1000",
        "NIC_0_NETWORK_NAME": "lan",
        "NIC_0_NETWORK_UUID": "net-uuid",
        "NIC_0_NETWORK_SUBNET": "192.0.2.0/24",
        "NIC_0_NETWORK_GATEWAY": "192.0.2.1",
        "NIC_0_NETWORK_SUBNET6": "2001:db8::/64",
        "NIC_0_NETWORK_GATEWAY6": "2001:db8::1",
        "NIC_0_NETWORK_MAC_PREFIX": "aa:00:00",
        "NIC_0_NETWORK_TAGS": "a b",
        "NIC_1_MAC": "aa:00:00:11:22:44",
        "NIC_1_UUID": "nic1-uuid",
        "NIC_1_MODE": "routed",
        "NIC_1_LINK": "100",
        "NIC_1_FRONTEND_TYPE": "e1000",
        "INSTANCE_HV_disk_type": "paravirtual",
        "INSTANCE_HV_nic_type": "e1000",
        "INSTANCE_HV_acpi": "True",
        "INSTANCE_BE_maxmem": "512",
        "INSTANCE_BE_vcpus": "2",
    }


def test_without_reinstall_create_sets_no_reinstall_flag(provider) -> None:
    env = action_environment(provider, OSAction.CREATE, full_instance())
    assert "INSTANCE_REINSTALL" not in env and env["DEBUG_LEVEL"] == "0"


def test_rename_passes_the_old_name(provider) -> None:
    env = action_environment(provider, OSAction.RENAME, full_instance(), old_name="old.example")
    assert (env["OLD_INSTANCE_NAME"], env["INSTANCE_NAME"]) == ("old.example", "web1.example.com")
    with pytest.raises(OSProviderError, match="needs its old name"):
        action_environment(provider, OSAction.RENAME, full_instance())


def test_export_and_import_name_their_disk(provider) -> None:
    inst = full_instance()
    export = action_environment(provider, OSAction.EXPORT, inst, disk_index=2)
    assert {k: v for k, v in export.items() if k.startswith("EXPORT_")} == {
        "EXPORT_INDEX": "2",
        "EXPORT_DEVICE": "/srv/disks/web1.disk2",
        "EXPORT_DISK_PATH": "/srv/disks/web1.disk2",
    }
    imported = action_environment(provider, OSAction.IMPORT, inst, disk_index=1)
    assert {k: v for k, v in imported.items() if k.startswith("IMPORT_")} == {
        "IMPORT_INDEX": "1",
        "IMPORT_DISK_URI": "rbd:pool/vol",
    }
    with pytest.raises(OSProviderError, match=r"has 3 disk\(s\): there is no disk 3 to export"):
        action_environment(provider, OSAction.EXPORT, inst, disk_index=3)
    with pytest.raises(OSProviderError, match="needs the index"):
        action_environment(provider, OSAction.IMPORT, inst)


def test_the_variant_defaults_to_the_first_listed(provider) -> None:
    env = instance_environment(provider, full_instance("deb"))
    assert (env["OS_VARIANT"], env["INSTANCE_OS"], env["OS_NAME"]) == ("bookworm", "deb", "deb")


def test_below_api_15_there_is_no_variant(make_provider) -> None:
    old = load_provider(make_provider("deb", api="10\n", drop=["verify"]))
    env = core_environment(old, "deb+trixie", {})
    assert env == {
        "OS_API_VERSION": "10",
        "OS_NAME": "deb",
        "OS_VARIANT": "",
        "DEBUG_LEVEL": "0",
        "PATH": "/sbin:/bin:/usr/sbin:/usr/bin",
    }


def test_optional_values_are_left_out_and_frontend_types_only_when_the_hv_has_them(
    provider,
) -> None:
    inst = OSInstance(
        "a",
        "deb",
        "fake",
        disks=[OSDisk("/d", template="sharedfile"), OSDisk("/e", template="diskless-x")],
        nics=[OSNic("aa:bb:cc:dd:ee:ff", mode="openvswitch")],
    )
    env = instance_environment(provider, inst)
    assert {k for k in env if k.startswith(("DISK_", "NIC_"))} == {
        "DISK_COUNT",
        "DISK_0_PATH",
        "DISK_0_ACCESS",
        "DISK_0_UUID",
        "DISK_0_SIZE",
        "DISK_1_PATH",
        "DISK_1_ACCESS",
        "DISK_1_UUID",
        "DISK_1_SIZE",
        "NIC_COUNT",
        "NIC_0_MAC",
        "NIC_0_UUID",
        "NIC_0_MODE",
    }


def _man_page_variables(text: str) -> set[str]:
    """Every variable the man page defines in a ``.TP`` entry, numbered ones as index 0."""
    names: set[str] = set()
    lines = text.splitlines()
    for tag, entry in itertools.pairwise(lines):
        if tag != ".TP":
            continue
        for raw in entry.split(","):
            name = re.sub(r"\\f\[[A-Z]\]", "", raw).strip()
            name = re.sub(r"%[Nd]_?", "_0_", name).replace("OSPname", "OSP_DHCP")
            names.add(name)
    return names


def test_every_variable_of_the_man_page_is_set(ganeti_reference, provider) -> None:
    """The man page's own list, read from Debian's ganeti-3.0 package, against ours."""
    text = gzip.decompress((ganeti_reference / MAN_PAGE).read_bytes()).decode()
    documented = _man_page_variables(text)
    anchors = {"OS_API_VERSION", "DISK_0_PATH", "NIC_0_NETWORK_TAGS", "EXPORT_DEVICE", "OSP_DHCP"}
    assert len(documented) >= 39 and anchors <= documented, sorted(documented)
    documented |= {"INSTANCE_REINSTALL", "OLD_INSTANCE_NAME"}
    documented |= {f"IMPORT_{v}" for v in ("DISK_PATH", "DISK_URI", "DEVICE", "INDEX")}
    inst = full_instance()
    both = OSDisk("/dev/x", name="boot", uri="kvm:/dev/x", template="plain")
    inst = OSInstance(**{**inst.__dict__, "disks": [both, *inst.disks]})
    seen = set(action_environment(provider, OSAction.CREATE, inst, reinstall=True))
    seen |= set(action_environment(provider, OSAction.RENAME, inst, old_name="old"))
    seen |= set(action_environment(provider, OSAction.EXPORT, inst, disk_index=0))
    seen |= set(action_environment(provider, OSAction.IMPORT, inst, disk_index=0))
    # Ganeti 3.0 documents a network family but its node daemon never sets one.
    assert documented - seen == {"NIC_0_NETWORK_FAMILY"}
