"""Parameters the core itself owns, with Ganeti's names and defaults.

Hypervisor, disk and OS parameters belong to their plugins; backend
parameters (memory, vcpus), node parameters, the NIC basics and the
instance policy are the core's, so they live here.
"""

from __future__ import annotations

from typing import Any

from marshmallow import Schema
from marshmallow import ValidationError
from marshmallow import fields
from marshmallow import validate
from marshmallow import validates_schema

from corral.api.params import ParamsSchema

_POSITIVE = validate.Range(min=1)
_NON_NEGATIVE = validate.Range(min=0)


class BeParams(ParamsSchema):
    """Backend parameters: what an instance gets, whatever the hypervisor."""

    maxmem = fields.Integer(
        load_default=128, validate=_POSITIVE, metadata={"help": "Memory (MiB) the instance may use"}
    )
    minmem = fields.Integer(
        load_default=128,
        validate=_POSITIVE,
        metadata={"help": "Memory (MiB) the instance must always have; <= maxmem"},
    )
    vcpus = fields.Integer(load_default=1, validate=_POSITIVE, metadata={"help": "Virtual CPUs"})
    spindle_use = fields.Integer(
        load_default=1,
        validate=_NON_NEGATIVE,
        metadata={"help": "Spindles the instance is counted as using"},
    )
    always_failover = fields.Boolean(
        load_default=False,
        metadata={"help": "Fail over instead of live-migrating, even when migration works"},
    )
    auto_balance = fields.Boolean(
        load_default=True,
        metadata={"help": "Count the instance in N+1 memory checks and rebalancing"},
    )

    @validates_schema
    def _min_below_max(self, data: dict[str, Any], **kwargs: Any) -> None:
        if "minmem" in data and "maxmem" in data and data["minmem"] > data["maxmem"]:
            raise ValidationError(
                f"minmem ({data['minmem']}) is larger than maxmem ({data['maxmem']})", "minmem"
            )


class NdParams(ParamsSchema):
    """Node parameters: set per cluster, overridden per group and per node."""

    cpu_speed = fields.Float(
        load_default=1.0,
        validate=validate.Range(min=0, min_inclusive=False),
        metadata={"help": "Relative CPU speed of the node, for balancing"},
    )
    exclusive_storage = fields.Boolean(
        load_default=False, metadata={"help": "Give each disk its own physical volumes"}
    )
    oob_program = fields.String(
        load_default="", metadata={"help": "Out-of-band management program for the node"}
    )
    ovs = fields.Boolean(load_default=False, metadata={"help": "Set up Open vSwitch on the node"})
    ovs_link = fields.String(
        load_default="", metadata={"help": "Physical interface to attach to the Open vSwitch"}
    )
    ovs_name = fields.String(
        load_default="switch1", metadata={"help": "Name of the Open vSwitch to create"}
    )
    spindle_count = fields.Integer(
        load_default=1, validate=_POSITIVE, metadata={"help": "Spindles (disks) the node has"}
    )
    ssh_port = fields.Integer(
        load_default=22,
        validate=validate.Range(min=1, max=65535),
        metadata={"help": "SSH port of the node"},
    )


class NicParams(ParamsSchema):
    """The NIC parameters every link mode understands; ``mode`` picks the network plugin."""

    mode = fields.String(
        load_default="bridged",
        validate=validate.Length(min=1),
        metadata={
            "help": "How the NIC is linked: the name of a network plugin (bridged, routed, ...)"
        },
    )
    link = fields.String(
        load_default="xen-br0",
        metadata={"help": "The bridge, routing table or switch the NIC is linked to"},
    )
    vlan = fields.String(
        load_default="",
        validate=validate.Regexp(r"^$|^[.:]?\d+(:\d+)*$"),
        metadata={"help": "VLAN tag(s), e.g. .100 (untagged) or :100:200 (trunk)"},
    )


# The instance policy uses Ganeti's hyphenated keys, so its schemas are
# built from dicts rather than class attributes.

ISPEC_KEYS = ("cpu-count", "disk-count", "disk-size", "memory-size", "nic-count", "spindle-use")
_ISPEC_HELP = {
    "cpu-count": "virtual CPUs",
    "disk-count": "number of disks",
    "disk-size": "size of each disk (MiB)",
    "memory-size": "memory (MiB)",
    "nic-count": "number of NICs",
    "spindle-use": "spindles used",
}

ISPECS_MIN = {
    "cpu-count": 1, "disk-count": 1, "disk-size": 1024, "memory-size": 128,
    "nic-count": 1, "spindle-use": 1,
}  # fmt: skip
ISPECS_MAX = {
    "cpu-count": 8, "disk-count": 16, "disk-size": 1048576, "memory-size": 32768,
    "nic-count": 8, "spindle-use": 12,
}  # fmt: skip


#: Every disk template Ganeti knows, allowed by the default policy.
DISK_TEMPLATES = (
    "blockdev", "diskless", "drbd", "ext", "file", "gluster", "plain", "rbd", "sharedfile",
)  # fmt: skip


def _ispec_schema(name: str, required: bool) -> type[Schema]:
    return Schema.from_dict(
        {
            key: fields.Integer(
                required=required, validate=_NON_NEGATIVE, metadata={"help": _ISPEC_HELP[key]}
            )
            for key in ISPEC_KEYS
        },
        name=name,
    )


FullISpec = _ispec_schema("FullISpec", required=True)
PartialISpec = _ispec_schema("PartialISpec", required=False)


class MinMax(Schema):
    min = fields.Nested(FullISpec, required=True, metadata={"help": "Smallest allowed instance"})
    max = fields.Nested(FullISpec, required=True, metadata={"help": "Largest allowed instance"})

    @validates_schema
    def _ordered(self, data: dict[str, Any], **kwargs: Any) -> None:
        bad = [k for k in ISPEC_KEYS if data["min"][k] > data["max"][k]]
        if bad:
            raise ValidationError(f"min is larger than max for {', '.join(bad)}")


IPolicy = Schema.from_dict(
    {
        "minmax": fields.List(
            fields.Nested(MinMax),
            load_default=lambda: [{"min": dict(ISPECS_MIN), "max": dict(ISPECS_MAX)}],
            validate=validate.Length(min=1),
            metadata={"help": "Allowed ranges of instance specs (one or more min/max pairs)"},
        ),
        "std": fields.Nested(
            PartialISpec,
            load_default=lambda: dict(ISPECS_MIN),
            metadata={"help": "Standard instance spec, used by capacity planning"},
        ),
        "disk-templates": fields.List(
            fields.String(),
            load_default=lambda: list(DISK_TEMPLATES),
            metadata={"help": "Disk templates instances may use"},
        ),
        "vcpu-ratio": fields.Float(
            load_default=4.0,
            validate=validate.Range(min=0, min_inclusive=False),
            metadata={"help": "Maximum virtual CPUs per physical CPU"},
        ),
        "spindle-ratio": fields.Float(
            load_default=32.0,
            validate=validate.Range(min=0, min_inclusive=False),
            metadata={"help": "Maximum instances per spindle"},
        ),
    },
    name="IPolicy",
)


def check_std_within_bounds(policy: dict[str, Any]) -> list[str]:
    """Problems with a filled policy whose ``std`` lies outside every min/max pair."""
    std = policy.get("std", {})
    for pair in policy.get("minmax", []):
        if all(pair["min"][k] <= std.get(k, pair["min"][k]) <= pair["max"][k] for k in ISPEC_KEYS):
            return []
    return ["std: the standard spec lies outside every min/max range"]
