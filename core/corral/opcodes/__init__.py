"""Opcodes: the operations jobs carry, with Ganeti 3.0's OP_IDs and parameters.

Each opcode is a marshmallow schema (see :mod:`corral.opcodes.base`) with
Ganeti's field names, defaults and value sets, so LUXI job submissions,
RAPI bodies and ``gnt-*`` options map one to one onto them, and bad input is
refused with the name of the field at fault::

    >>> op = load_opcode({"OP_ID": "OP_INSTANCE_SHUTDOWN", "instance_name": "web1"})
    >>> op.timeout, op.summary()
    (120, 'INSTANCE_SHUTDOWN(web1)')

Every opcode of Ganeti 3.0 is defined, 75 in all (``all_op_ids()``), in one
module per area: cluster, node (with OOB and restricted commands), group,
instance, backup, network, os (with ExtStorage diagnosis), tags, query and
test (OP_TEST_*). None was skipped: even OP_TEST_OS_PARAMS, OP_TEST_DUMMY and
OP_NODE_QUERYVOLS are kept, because job-queue tests and old clients use them.
Where it differs from Ganeti, or picks among choices Ganeti left open:

* booleans must be JSON booleans and integers JSON integers (a float
  without a fraction such as ``5.0`` is accepted as ``5``); Ganeti's own
  checks are equally strict, marshmallow's defaults are not; a float
  parameter takes integers and stores them as floats, as Ganeti did;
* names that identify an object (instance, node, group, network) must be
  non-empty even where Ganeti only asked for a string;
* a disk specification's named keys (``vg``, ``mode``, ``size``, ...) must
  have the type that key needs, where Ganeti accepted any string or integer
  and failed later, and ``size`` is required when a disk is created or added;
* ``priority`` accepts the whole range -20..19 (the queue changes the
  priority of waiting opcodes within it); which values a client may submit
  (-10, 0, 10 in Ganeti) is the job queue's check, see
  :data:`corral.opcodes.fields.SUBMIT_PRIORITIES`;
* a ``null`` reason trail is read as an empty one;
* value sets (reboot types, migration modes, tag kinds, ...) are Ganeti's
  and live in :mod:`corral.opcodes.values`; names of plugin-provided drivers
  (hypervisors, disk templates) are open: any well-formed name passes
  (:data:`corral.opcodes.fields.PLUGIN_NAME`), and whether the cluster
  enables it is checked when the opcode runs. NIC modes inside NIC
  specifications are not checked here at all (network plugins own them);
  only OP_NETWORK_CONNECT's ``network_mode`` is.

Fields holding private or secret values carry ``metadata["private"]`` or
``metadata["secret"]`` so that logs and the job queue can redact them;
:meth:`OpCode.__repr__` already does.
"""

from __future__ import annotations

from corral.opcodes import backup as backup
from corral.opcodes import cluster as cluster
from corral.opcodes import group as group
from corral.opcodes import instance as instance
from corral.opcodes import network as network
from corral.opcodes import node as node
from corral.opcodes import os as os
from corral.opcodes import query as query
from corral.opcodes import tags as tags
from corral.opcodes import test as test
from corral.opcodes.base import OPCODES
from corral.opcodes.base import OpCode
from corral.opcodes.base import OpCodeSchema
from corral.opcodes.base import OpcodeValidationError
from corral.opcodes.base import all_op_ids
from corral.opcodes.base import dump_opcode
from corral.opcodes.base import load_opcode
from corral.opcodes.base import make_opcode
from corral.opcodes.base import opcode_schema
from corral.opcodes.base import private_fields

__all__ = [
    "OPCODES",
    "OpCode",
    "OpCodeSchema",
    "OpcodeValidationError",
    "all_op_ids",
    "backup",
    "cluster",
    "dump_opcode",
    "group",
    "instance",
    "load_opcode",
    "make_opcode",
    "network",
    "node",
    "opcode_schema",
    "os",
    "private_fields",
    "query",
    "tags",
    "test",
]
