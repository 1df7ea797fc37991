"""Opcodes for testing and debugging the job machinery (``gnt-debug``)."""

from __future__ import annotations

from marshmallow import fields

from corral.opcodes import fields as fld
from corral.opcodes.base import OpCodeSchema


class TestDelaySchema(OpCodeSchema):
    """Sleep on the master and/or nodes; a negative duration fails the opcode."""

    __test__ = False  # not a pytest test class
    OP_ID = "OP_TEST_DELAY"
    OP_DSC_FIELD = "duration"

    duration = fld.number("Seconds to sleep; below zero makes the opcode fail on purpose.")
    on_master = fld.boolean("Sleep on the master node first.", True)
    on_nodes = fld.string_list("Nodes to sleep on after the master.")
    on_node_uuids = fld.node_uuids("UUIDs of the nodes to sleep on; filled in by the master.")
    repeat = fld.integer("How many extra times to repeat the sleep.", 0, minimum=0)
    interruptible = fld.boolean("Allow the sleep to be cut short through a socket.", False)
    no_locks = fld.boolean("Hold no locks while sleeping.", True)


class TestAllocatorSchema(OpCodeSchema):
    """Build an allocator request (direction 'in') or run an allocator on it ('out')."""

    __test__ = False
    OP_ID = "OP_TEST_ALLOCATOR"
    OP_DSC_FIELD = "iallocator"

    direction = fld.one_of(
        fld.IALLOCATOR_DIRECTIONS, "'in' returns the request; 'out' runs the allocator on it."
    )
    mode = fld.one_of(fld.IALLOCATOR_MODES, "Kind of allocator request.")
    name = fld.string(
        "Object of the request: the new instance, the node to evacuate, ...", non_empty=True
    )
    nics = fields.List(
        fld.NicSpec(),
        load_default=None,
        allow_none=True,
        metadata={"help": "NICs of the instance described by the request."},
    )
    disks = fld.any_list("Disks of the instance described by the request.")
    hypervisor = fld.hypervisor()
    iallocator = fld.iallocator()
    tags = fld.string_list("Tags of the instance described by the request.")
    memory = fld.integer("Memory (MiB) of the instance in the request.", None, minimum=0)
    vcpus = fld.integer("Virtual CPUs of the instance in the request.", None, minimum=0)
    os = fld.maybe_string("OS of the instance in the request.")
    disk_template = fld.disk_template()
    instances = fld.string_list("Instances the request is about.", None)
    evac_mode = fld.one_of(fld.NODE_EVAC_MODES, "Evacuation mode for node-evacuate requests.", None)
    target_groups = fld.target_groups()
    spindle_use = fld.integer("Spindles the instance in the request uses.", 1, minimum=0)
    count = fld.integer("How many instances the request asks for.", 1, minimum=0)
    group_name = fld.maybe_string("Node group the request is about.")


class TestJqueueSchema(OpCodeSchema):
    """Exercise job queue features: lock-wait and execution notices, log lines, failure."""

    __test__ = False
    OP_ID = "OP_TEST_JQUEUE"

    notify_waitlock = fld.boolean("Report when the opcode starts waiting for locks.", False)
    notify_exec = fld.boolean("Report when the opcode starts executing.", False)
    log_messages = fld.string_list("Log lines for the opcode to emit.", non_empty=False)
    fail = fld.boolean("Make the opcode fail at the end.", False)


class TestOsParamsSchema(OpCodeSchema):
    """Check that secret OS parameters reach the master intact."""

    __test__ = False
    OP_ID = "OP_TEST_OS_PARAMS"

    osparams_secret = fld.osparams_secret("Secret OS parameters to pass through.")


def _anything(help: str) -> fields.Raw:
    return fields.Raw(load_default=None, allow_none=True, metadata={"help": help})


class TestDummySchema(OpCodeSchema):
    """Opcode for unit tests of the job machinery; it has no logical unit."""

    __test__ = False
    OP_ID = "OP_TEST_DUMMY"

    result = _anything("Value the opcode should return.")
    messages = _anything("Messages the opcode should log.")
    fail = _anything("Whether (and how) the opcode should fail.")
    submit_jobs = _anything("Jobs the opcode should submit.")
