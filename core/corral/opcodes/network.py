"""IP network opcodes (``gnt-network``)."""

from __future__ import annotations

from marshmallow import fields

from corral.opcodes import fields as fld
from corral.opcodes.base import OpCodeSchema


def _gateway() -> fld.IPv4Address:
    return fld.IPv4Address(
        load_default=None, allow_none=True, metadata={"help": "IPv4 gateway of the network."}
    )


def _network6() -> fld.IPv6Network:
    return fld.IPv6Network(
        load_default=None,
        allow_none=True,
        metadata={"help": "IPv6 subnet of the network, in CIDR notation."},
    )


def _gateway6() -> fld.IPv6Address:
    return fld.IPv6Address(
        load_default=None, allow_none=True, metadata={"help": "IPv6 gateway of the network."}
    )


def _addresses(help: str) -> fields.List[str]:
    return fields.List(
        fld.IPv4Address(), load_default=None, allow_none=True, metadata={"help": help}
    )


class NetworkAddSchema(OpCodeSchema):
    """Define a new IP network."""

    OP_ID = "OP_NETWORK_ADD"
    OP_DSC_FIELD = "network_name"

    network_name = fld.string("Name of the new network.", non_empty=True)
    network = fld.IPv4Network(
        required=True, metadata={"help": "IPv4 subnet of the network, in CIDR notation."}
    )
    gateway = _gateway()
    network6 = _network6()
    gateway6 = _gateway6()
    mac_prefix = fld.mac_prefix()
    add_reserved_ips = _addresses("Addresses to keep out of automatic assignment.")
    conflicts_check = fld.conflicts_check()
    tags = fld.tags("network")


class NetworkRemoveSchema(OpCodeSchema):
    """Delete a network that no node group is connected to."""

    OP_ID = "OP_NETWORK_REMOVE"
    OP_DSC_FIELD = "network_name"

    network_name = fld.network_name()
    force = fld.force()


class NetworkSetParamsSchema(OpCodeSchema):
    """Change a network's settings (everything but its IPv4 subnet)."""

    OP_ID = "OP_NETWORK_SET_PARAMS"
    OP_DSC_FIELD = "network_name"

    network_name = fld.network_name()
    gateway = _gateway()
    network6 = _network6()
    gateway6 = _gateway6()
    mac_prefix = fld.mac_prefix()
    add_reserved_ips = _addresses("Addresses to reserve for use outside the cluster.")
    remove_reserved_ips = _addresses("Reserved addresses to release.")


class NetworkConnectSchema(OpCodeSchema):
    """Make a network available to a node group with a given mode and link."""

    OP_ID = "OP_NETWORK_CONNECT"
    OP_DSC_FIELD = "network_name"

    group_name = fld.group_name()
    network_name = fld.network_name()
    network_mode = fld.one_of(
        fld.NIC_MODES, "How NICs in this network attach in this group (bridged, routed, ...)."
    )
    network_link = fld.string(
        "Link NICs in this network use in this group (a bridge, routing table, ...).",
        non_empty=True,
    )
    network_vlan = fld.string("VLAN for NICs in this network in this group; empty for none.", "")
    conflicts_check = fld.conflicts_check()


class NetworkDisconnectSchema(OpCodeSchema):
    """Remove a network from a node group."""

    OP_ID = "OP_NETWORK_DISCONNECT"
    OP_DSC_FIELD = "network_name"

    group_name = fld.group_name()
    network_name = fld.network_name()
