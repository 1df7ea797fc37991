"""Unit tests for corral.opcodes: registry, defaults, round trips, summaries, errors."""

from __future__ import annotations

import copy
import json
import pickle
from typing import TYPE_CHECKING
from typing import Any

import pytest

from corral.api.errors import OpPrereqError
from corral.opcodes import OPCODES
from corral.opcodes import OpCode
from corral.opcodes import OpCodeSchema
from corral.opcodes import OpcodeValidationError
from corral.opcodes import all_op_ids
from corral.opcodes import dump_opcode
from corral.opcodes import load_opcode
from corral.opcodes import make_opcode
from corral.opcodes import opcode_schema
from corral.opcodes import private_fields

if TYPE_CHECKING:
    from marshmallow import fields

EXPECTED_OP_IDS = [
    "OP_BACKUP_EXPORT",
    "OP_BACKUP_PREPARE",
    "OP_BACKUP_REMOVE",
    "OP_CLUSTER_ACTIVATE_MASTER_IP",
    "OP_CLUSTER_CONFIG_QUERY",
    "OP_CLUSTER_DEACTIVATE_MASTER_IP",
    "OP_CLUSTER_DESTROY",
    "OP_CLUSTER_POST_INIT",
    "OP_CLUSTER_QUERY",
    "OP_CLUSTER_REDIST_CONF",
    "OP_CLUSTER_RENAME",
    "OP_CLUSTER_RENEW_CRYPTO",
    "OP_CLUSTER_REPAIR_DISK_SIZES",
    "OP_CLUSTER_SET_PARAMS",
    "OP_CLUSTER_VERIFY",
    "OP_CLUSTER_VERIFY_CONFIG",
    "OP_CLUSTER_VERIFY_DISKS",
    "OP_CLUSTER_VERIFY_GROUP",
    "OP_EXT_STORAGE_DIAGNOSE",
    "OP_GROUP_ADD",
    "OP_GROUP_ASSIGN_NODES",
    "OP_GROUP_EVACUATE",
    "OP_GROUP_REMOVE",
    "OP_GROUP_RENAME",
    "OP_GROUP_SET_PARAMS",
    "OP_GROUP_VERIFY_DISKS",
    "OP_INSTANCE_ACTIVATE_DISKS",
    "OP_INSTANCE_CHANGE_GROUP",
    "OP_INSTANCE_CONSOLE",
    "OP_INSTANCE_CREATE",
    "OP_INSTANCE_DEACTIVATE_DISKS",
    "OP_INSTANCE_FAILOVER",
    "OP_INSTANCE_GROW_DISK",
    "OP_INSTANCE_MIGRATE",
    "OP_INSTANCE_MOVE",
    "OP_INSTANCE_MULTI_ALLOC",
    "OP_INSTANCE_QUERY_DATA",
    "OP_INSTANCE_REBOOT",
    "OP_INSTANCE_RECREATE_DISKS",
    "OP_INSTANCE_REINSTALL",
    "OP_INSTANCE_REMOVE",
    "OP_INSTANCE_RENAME",
    "OP_INSTANCE_REPLACE_DISKS",
    "OP_INSTANCE_SET_PARAMS",
    "OP_INSTANCE_SHUTDOWN",
    "OP_INSTANCE_STARTUP",
    "OP_NETWORK_ADD",
    "OP_NETWORK_CONNECT",
    "OP_NETWORK_DISCONNECT",
    "OP_NETWORK_REMOVE",
    "OP_NETWORK_SET_PARAMS",
    "OP_NODE_ADD",
    "OP_NODE_EVACUATE",
    "OP_NODE_MIGRATE",
    "OP_NODE_MODIFY_STORAGE",
    "OP_NODE_POWERCYCLE",
    "OP_NODE_QUERYVOLS",
    "OP_NODE_QUERY_STORAGE",
    "OP_NODE_REMOVE",
    "OP_NODE_SET_PARAMS",
    "OP_OOB_COMMAND",
    "OP_OS_DIAGNOSE",
    "OP_QUERY",
    "OP_QUERY_FIELDS",
    "OP_REPAIR_NODE_STORAGE",
    "OP_RESTRICTED_COMMAND",
    "OP_TAGS_DEL",
    "OP_TAGS_GET",
    "OP_TAGS_SEARCH",
    "OP_TAGS_SET",
    "OP_TEST_ALLOCATOR",
    "OP_TEST_DELAY",
    "OP_TEST_DUMMY",
    "OP_TEST_JQUEUE",
    "OP_TEST_OS_PARAMS",
]

COMMON = {"dry_run", "debug_level", "priority", "depends", "comment", "reason"}

CREATE = {
    "OP_ID": "OP_INSTANCE_CREATE",
    "instance_name": "web1",
    "mode": "create",
    "disks": [{"size": 1024}],
    "nics": [{}],
}


def errors_of(data: Any) -> OpcodeValidationError:
    with pytest.raises(OpcodeValidationError) as info:
        load_opcode(data)
    return info.value


# --- registry -----------------------------------------------------------------


def test_registry_holds_exactly_the_expected_op_ids() -> None:
    assert all_op_ids() == EXPECTED_OP_IDS
    assert len(EXPECTED_OP_IDS) == 75


@pytest.mark.parametrize("op_id", EXPECTED_OP_IDS)
def test_schema_is_well_formed(op_id: str) -> None:
    cls = opcode_schema(op_id)
    assert OPCODES[op_id] is cls
    assert issubclass(cls, OpCodeSchema)
    assert cls.OP_ID == op_id
    doc = (cls.__doc__ or "").strip()
    assert doc and "\n" not in doc, "one-line docstring"
    schema = cls()
    assert COMMON <= set(schema.fields)
    if cls.OP_DSC_FIELD is not None:
        assert cls.OP_DSC_FIELD in schema.fields


@pytest.mark.parametrize("op_id", EXPECTED_OP_IDS)
def test_every_field_has_help(op_id: str) -> None:
    def check(name: str, field: fields.Field[Any]) -> None:
        help_text = field.metadata.get("help")
        assert isinstance(help_text, str), f"{op_id}.{name} has no help"
        assert help_text.strip(), f"{op_id}.{name} has empty help"

    for name, field in opcode_schema(op_id)().fields.items():
        check(name, field)


def test_duplicate_op_id_is_refused_at_definition() -> None:
    before = dict(OPCODES)
    with pytest.raises(TypeError, match="OP_INSTANCE_CREATE is defined twice"):

        class Again(OpCodeSchema):
            """A second definition of an existing opcode."""

            OP_ID = "OP_INSTANCE_CREATE"

    assert before == OPCODES


def test_malformed_op_id_and_missing_docstring_are_refused() -> None:
    with pytest.raises(TypeError, match="malformed OP_ID"):

        class Bad(OpCodeSchema):
            """Bad id."""

            OP_ID = "instance-create"

    with pytest.raises(TypeError, match="docstring"):

        class NoDoc(OpCodeSchema):
            OP_ID = "OP_SOMETHING_WITHOUT_DOCS"

    assert "OP_SOMETHING_WITHOUT_DOCS" not in OPCODES


def test_opcode_schema_unknown_suggests_closest() -> None:
    with pytest.raises(OpcodeValidationError, match="did you mean 'OP_NODE_ADD'"):
        opcode_schema("OP_NODE_AD")


# --- defaults -----------------------------------------------------------------


def test_common_defaults() -> None:
    op = load_opcode({"OP_ID": "OP_CLUSTER_QUERY"})
    assert op.dry_run is None
    assert op.debug_level is None
    assert op.priority == 0
    assert op.depends is None
    assert op.comment is None
    assert op.reason == []


def test_instance_create_defaults() -> None:
    op = load_opcode(CREATE)
    expected = {
        "start": True,
        "name_check": True,
        "ip_check": True,
        "wait_for_sync": True,
        "conflicts_check": True,
        "force_variant": False,
        "ignore_ipolicy": False,
        "opportunistic_locking": False,
        "identify_defaults": False,
        "forthcoming": False,
        "commit": False,
        "instance_communication": False,
        "beparams": {},
        "hvparams": {},
        "osparams": {},
        "tags": [],
        "compress": "none",
        "source_shutdown_timeout": 120,
        "disk_template": None,
        "hypervisor": None,
        "iallocator": None,
        "pnode": None,
        "snode": None,
        "os_type": None,
        "no_install": None,
        "osparams_private": None,
        "osparams_secret": None,
        "helper_startup_timeout": None,
        "helper_shutdown_timeout": None,
    }
    for name, value in expected.items():
        assert getattr(op, name) == value, name
        assert type(getattr(op, name)) is type(value), name


def test_instance_shutdown_defaults() -> None:
    op = load_opcode({"OP_ID": "OP_INSTANCE_SHUTDOWN", "instance_name": "web1"})
    assert op.timeout == 120
    assert op.force is False
    assert op.no_remember is False
    assert op.ignore_offline_nodes is False
    assert op.admin_state_source is None


def test_test_delay_defaults() -> None:
    op = load_opcode({"OP_ID": "OP_TEST_DELAY", "duration": 1})
    assert op.duration == 1.0 and isinstance(op.duration, float)
    assert op.on_master is True
    assert op.on_nodes == []
    assert op.on_node_uuids is None
    assert op.repeat == 0
    assert op.interruptible is False
    assert op.no_locks is True


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (
            {"OP_ID": "OP_BACKUP_EXPORT", "instance_name": "i", "target_node": "n"},
            {"mode": "local", "shutdown": True, "compress": "none", "shutdown_timeout": 120},
        ),
        ({"OP_ID": "OP_OOB_COMMAND", "command": "health"}, {"timeout": 60, "power_delay": 2.0}),
        (
            {
                "OP_ID": "OP_NETWORK_CONNECT",
                "group_name": "g",
                "network_name": "n",
                "network_mode": "bridged",
                "network_link": "br0",
            },
            {"network_vlan": "", "conflicts_check": True},
        ),
        (
            {"OP_ID": "OP_TEST_ALLOCATOR", "direction": "in", "mode": "allocate", "name": "x"},
            {"spindle_use": 1, "count": 1, "tags": [], "nics": None},
        ),
        (
            {"OP_ID": "OP_INSTANCE_ACTIVATE_DISKS", "instance_name": "i"},
            {"wait_for_sync": False, "ignore_size": False},
        ),
        (
            {"OP_ID": "OP_INSTANCE_MIGRATE", "instance_name": "i"},
            {"mode": None, "live": None, "allow_runtime_changes": True, "cleanup": False},
        ),
        (
            {"OP_ID": "OP_INSTANCE_SET_PARAMS", "instance_name": "i"},
            {"disks": [], "nics": [], "beparams": {}, "ext_params": {}, "offline": None},
        ),
        (
            {"OP_ID": "OP_CLUSTER_VERIFY"},
            {"skip_checks": [], "ignore_errors": [], "verbose": False},
        ),
    ],
)
def test_more_defaults(data: dict[str, Any], expected: dict[str, Any]) -> None:
    op = load_opcode(data)
    for name, value in expected.items():
        assert getattr(op, name) == value, name


def test_mutable_defaults_are_not_shared() -> None:
    first = load_opcode(CREATE)
    second = load_opcode(CREATE)
    first.beparams["memory"] = 512
    first.tags.append("x")
    assert second.beparams == {}
    assert second.tags == []


@pytest.mark.parametrize(
    ("op_id", "required"),
    [
        ("OP_INSTANCE_CREATE", {"instance_name", "mode", "disks", "nics"}),
        ("OP_TEST_DELAY", {"duration"}),
        ("OP_QUERY", {"what", "fields"}),
        ("OP_BACKUP_EXPORT", {"instance_name", "target_node"}),
        ("OP_TAGS_SET", {"kind", "tags"}),
        ("OP_NODE_EVACUATE", {"node_name", "mode"}),
        ("OP_INSTANCE_GROW_DISK", {"instance_name", "disk", "amount"}),
        ("OP_CLUSTER_QUERY", set()),
    ],
)
def test_required_fields(op_id: str, required: set[str]) -> None:
    schema = opcode_schema(op_id)()
    assert {name for name, f in schema.fields.items() if f.required} == required
    err = errors_of({"OP_ID": op_id}) if required else None
    if err is not None:
        assert set(err.errors) == required
        for name in required:
            assert f"{op_id}: {name}: Missing data for required field." in str(err)


# --- round trips, OpCode ------------------------------------------------------


def test_round_trip_dump_load() -> None:
    op = load_opcode(
        {
            **CREATE,
            "beparams": {"memory": 512},
            "depends": [[-1, ["success"]]],
            "reason": [["gnt:client:gnt-instance", "add", 1700000000000000000]],
            "tags": ["web"],
        }
    )
    data = dump_opcode(op)
    assert data["OP_ID"] == "OP_INSTANCE_CREATE"
    assert data == op.to_dict()
    assert load_opcode(json.loads(json.dumps(data))) == op


def test_dump_contains_every_field() -> None:
    op = load_opcode({"OP_ID": "OP_NODE_REMOVE", "node_name": "n1"})
    assert set(dump_opcode(op)) == {"OP_ID", "node_name", "node_uuid", *COMMON}


def test_summary() -> None:
    assert load_opcode(CREATE).summary() == "INSTANCE_CREATE(web1)"
    assert load_opcode({"OP_ID": "OP_CLUSTER_VERIFY"}).summary() == "CLUSTER_VERIFY"
    search = load_opcode({"OP_ID": "OP_TAGS_SEARCH", "pattern": "^web"})
    assert search.summary() == "TAGS_SEARCH(^web)"
    assert load_opcode({"OP_ID": "OP_TEST_DELAY", "duration": 2}).summary() == "TEST_DELAY(2.0)"
    assert OpCode("OP_GROUP_REMOVE", {"group_name": ["a", "b"]}).summary() == "GROUP_REMOVE(a,b)"
    assert load_opcode({"OP_ID": "OP_TAGS_GET", "kind": "cluster"}).summary() == "TAGS_GET(None)"


def test_tiny_summary() -> None:
    assert load_opcode(CREATE).tiny_summary() == "I_CREATE"
    assert load_opcode({"OP_ID": "OP_CLUSTER_VERIFY"}).tiny_summary() == "C_VERIFY"
    assert load_opcode({"OP_ID": "OP_GROUP_REMOVE", "group_name": "g"}).tiny_summary() == "G_REMOVE"
    assert (
        load_opcode({"OP_ID": "OP_QUERY_FIELDS", "what": "node"}).tiny_summary() == "QUERY_FIELDS"
    )


def test_opcode_attributes_equality_and_copies() -> None:
    op = make_opcode("OP_INSTANCE_STARTUP", instance_name="web1")
    assert op.OP_ID == "OP_INSTANCE_STARTUP"
    assert op.params["instance_name"] == "web1"
    op.force = True
    assert op.force is True
    with pytest.raises(AttributeError, match="no parameter 'forse'"):
        op.forse = True
    with pytest.raises(AttributeError, match="no parameter 'nothing'"):
        _ = op.nothing
    other = make_opcode("OP_INSTANCE_STARTUP", instance_name="web1", force=True)
    assert op == other
    assert op != make_opcode("OP_INSTANCE_STARTUP", instance_name="web2")
    assert op != make_opcode("OP_INSTANCE_SHUTDOWN", instance_name="web1")
    assert copy.deepcopy(op) == op
    assert pickle.loads(pickle.dumps(op)) == op
    with pytest.raises(TypeError):
        hash(op)


def test_input_is_neither_mutated_nor_aliased() -> None:
    data = copy.deepcopy({**CREATE, "beparams": {"memory": 512}})
    before = copy.deepcopy(data)
    op = load_opcode(data)
    op.beparams["memory"] = 1
    op.disks[0]["size"] = 1
    assert data == before


def test_secret_and_private_values_are_redacted_in_repr() -> None:
    op = load_opcode({**CREATE, "osparams_secret": {"password": "hunter2"}})
    assert "hunter2" not in repr(op)
    assert op.osparams_secret == {"password": "hunter2"}
    assert private_fields("OP_INSTANCE_CREATE") == {"osparams_private", "osparams_secret"}
    assert private_fields("OP_CLUSTER_SET_PARAMS") == {"osparams_private_cluster"}


# --- error reporting ----------------------------------------------------------


def test_error_is_an_op_prereq_error_with_one_line_per_problem() -> None:
    err = errors_of({**CREATE, "disks": [{"size": "big"}], "start": "yes"})
    assert isinstance(err, OpPrereqError)
    assert err.op_id == "OP_INSTANCE_CREATE"
    assert err.errors == {
        "disks[0].size": ["Not a valid integer."],
        "start": ["Not a valid boolean (expected true or false)."],
    }
    assert str(err).splitlines() == [
        "OP_INSTANCE_CREATE: disks[0].size: Not a valid integer.",
        "OP_INSTANCE_CREATE: start: Not a valid boolean (expected true or false).",
    ]


def test_unknown_op_id_names_it_and_suggests() -> None:
    err = errors_of({"OP_ID": "OP_INSTANCE_CRATE"})
    assert err.op_id == "OP_INSTANCE_CRATE"
    assert "unknown opcode 'OP_INSTANCE_CRATE'" in str(err)
    assert "did you mean 'OP_INSTANCE_CREATE'?" in str(err)
    far = errors_of({"OP_ID": "XYZZY"})
    assert "did you mean" not in str(far)


def test_missing_or_bad_op_id() -> None:
    err = errors_of({"instance_name": "web1"})
    assert err.op_id is None
    assert list(err.errors) == ["OP_ID"]
    assert "missing" in str(err)
    err = errors_of({"OP_ID": 5})
    assert list(err.errors) == ["OP_ID"]
    assert "must be a string" in str(err)


@pytest.mark.parametrize("data", [None, [], ["OP_ID"], "OP_CLUSTER_QUERY", 5])
def test_non_dict_input(data: Any) -> None:
    err = errors_of(data)
    assert err.op_id is None
    assert "an opcode must be a dict" in str(err)


def test_unknown_field_is_named() -> None:
    err = errors_of({"OP_ID": "OP_INSTANCE_STARTUP", "instance_name": "x", "forse": True})
    assert err.errors == {"forse": ["unknown field (did you mean 'force'?)"]}
    assert "OP_INSTANCE_STARTUP: forse: unknown field" in str(err)
    err = errors_of({"OP_ID": "OP_CLUSTER_QUERY", "zzz": 1})
    assert err.errors == {"zzz": ["unknown field"]}


def test_missing_required_field_is_named() -> None:
    err = errors_of({"OP_ID": "OP_INSTANCE_REMOVE"})
    assert err.errors == {"instance_name": ["Missing data for required field."]}
    assert str(err) == "OP_INSTANCE_REMOVE: instance_name: Missing data for required field."


def test_null_for_a_non_maybe_field() -> None:
    err = errors_of({"OP_ID": "OP_INSTANCE_REMOVE", "instance_name": None})
    assert err.errors == {"instance_name": ["Field may not be null."]}
    err = errors_of({"OP_ID": "OP_INSTANCE_REMOVE", "instance_name": "i", "shutdown_timeout": None})
    assert list(err.errors) == ["shutdown_timeout"]


def test_empty_name_is_refused() -> None:
    err = errors_of({"OP_ID": "OP_NODE_ADD", "node_name": ""})
    assert err.errors == {"node_name": ["Must be a non-empty string."]}


# --- strict scalar types ------------------------------------------------------

STARTUP = {"OP_ID": "OP_INSTANCE_STARTUP", "instance_name": "web1"}


@pytest.mark.parametrize("value", ["yes", "true", 1, 0, "1", None, [], {}])
def test_strict_boolean_refuses_non_booleans(value: Any) -> None:
    err = errors_of({**STARTUP, "force": value})
    assert list(err.errors) == ["force"]


def test_maybe_boolean_takes_null() -> None:
    op = load_opcode({"OP_ID": "OP_NODE_SET_PARAMS", "node_name": "n", "offline": None})
    assert op.offline is None
    op = load_opcode({"OP_ID": "OP_NODE_SET_PARAMS", "node_name": "n", "offline": True})
    assert op.offline is True
    assert list(errors_of({**STARTUP, "dry_run": "no"}).errors) == ["dry_run"]


@pytest.mark.parametrize("value", [True, False, "5", "abc", 1.5, [5], None])
def test_strict_integer_refuses(value: Any) -> None:
    err = errors_of({**STARTUP, "shutdown_timeout": value})
    assert list(err.errors) == ["shutdown_timeout"]


def test_strict_integer_takes_integral_float() -> None:
    op = load_opcode({**STARTUP, "shutdown_timeout": 30.0})
    assert op.shutdown_timeout == 30 and type(op.shutdown_timeout) is int


def test_integer_bounds() -> None:
    err = errors_of({**STARTUP, "shutdown_timeout": -1})
    assert err.errors == {"shutdown_timeout": ["Must be greater than or equal to 0."]}
    grow = {"OP_ID": "OP_INSTANCE_GROW_DISK", "instance_name": "i", "amount": 1}
    assert load_opcode({**grow, "disk": 15}).disk == 15
    assert list(errors_of({**grow, "disk": 16}).errors) == ["disk"]


@pytest.mark.parametrize("value", ["2", True, float("nan"), float("inf"), None])
def test_strict_float_refuses(value: Any) -> None:
    err = errors_of({"OP_ID": "OP_TEST_DELAY", "duration": value})
    assert list(err.errors) == ["duration"]


def test_plugin_names_are_open_but_well_formed() -> None:
    # A site may install a disk template or hypervisor Ganeti never had; whether
    # the cluster enables it is the logical unit's check, not the opcode's.
    for template in ("plain", "drbd", "file", "sharedfile", "blockdev", "rbd", "ext", "acme-san"):
        assert load_opcode({**CREATE, "disk_template": template}).disk_template == template
    err = errors_of({**CREATE, "disk_template": "Plain Disk", "hypervisor": "KVM!"})
    assert err.errors["disk_template"] == ["Not a valid plugin name (e.g. kvm, file, xen-pvm)."]
    assert list(err.errors) == ["disk_template", "hypervisor"]
    cluster = {"OP_ID": "OP_CLUSTER_SET_PARAMS", "enabled_hypervisors": ["kvm", "acme-hv"]}
    assert load_opcode(cluster).enabled_hypervisors == ["kvm", "acme-hv"]
    assert list(errors_of({**cluster, "enabled_hypervisors": ["kvm", "no way"]}).errors) == [
        "enabled_hypervisors[1]"
    ]


def test_one_of_value_sets() -> None:
    assert list(errors_of({**CREATE, "mode": "clone"}).errors) == ["mode"]
    tags = {"OP_ID": "OP_TAGS_GET", "kind": "nodegroup"}
    assert load_opcode(tags).kind == "nodegroup"
    assert list(errors_of({**tags, "kind": "group"}).errors) == ["kind"]
    migrate = {"OP_ID": "OP_INSTANCE_MIGRATE", "instance_name": "i"}
    assert load_opcode({**migrate, "mode": "non-live"}).mode == "non-live"
    assert list(errors_of({**migrate, "mode": "fast"}).errors) == ["mode"]


def test_list_items_are_checked() -> None:
    err = errors_of({"OP_ID": "OP_CLUSTER_VERIFY", "skip_checks": ["nplusone_mem", "disks"]})
    assert list(err.errors) == ["skip_checks[1]"]
    err = errors_of({"OP_ID": "OP_TAGS_SET", "kind": "cluster", "tags": ["ok", 5]})
    assert list(err.errors) == ["tags[1]"]


def test_ip_fields() -> None:
    base = {"OP_ID": "OP_NETWORK_ADD", "network_name": "net1", "network": "10.0.0.0/24"}
    op = load_opcode(
        {**base, "gateway": "10.0.0.1", "network6": "fd00::/64", "gateway6": "fd00::1"}
    )
    assert op.gateway == "10.0.0.1"
    assert list(errors_of({**base, "network": "10.0.0.1/24"}).errors) == ["network"]
    assert list(errors_of({**base, "gateway": "10.0.0"}).errors) == ["gateway"]
    assert list(errors_of({**base, "gateway6": "10.0.0.1"}).errors) == ["gateway6"]
    assert list(errors_of({**base, "add_reserved_ips": ["10.0.0.5", "x"]}).errors) == [
        "add_reserved_ips[1]"
    ]


# --- common fields: priority, depends, reason ---------------------------------


@pytest.mark.parametrize("value", [-20, -10, 0, 10, 19])
def test_priority_range(value: int) -> None:
    assert load_opcode({**STARTUP, "priority": value}).priority == value


@pytest.mark.parametrize("value", [-21, 20, "0", True, 1.5, None])
def test_priority_refused(value: Any) -> None:
    err = errors_of({**STARTUP, "priority": value})
    assert list(err.errors) == ["priority"]


def test_depends_valid() -> None:
    op = load_opcode(
        {**STARTUP, "depends": [[12, ["success"]], [-1, ["error", "canceled"]], ["34", []]]}
    )
    assert op.depends == [[12, ["success"]], [-1, ["error", "canceled"]], [34, []]]
    assert load_opcode({**STARTUP, "depends": None}).depends is None
    assert load_opcode({**STARTUP, "depends": []}).depends == []


@pytest.mark.parametrize(
    ("value", "path"),
    [
        (5, "depends"),
        ([5], "depends[0]"),
        ([[1]], "depends[0]"),
        ([[1, ["success"], 3]], "depends[0]"),
        ([[1, "success"]], "depends[0][1]"),
        ([[1, ["done"]]], "depends[0][1][0]"),
        ([[True, []]], "depends[0][0]"),
        ([[1.5, []]], "depends[0][0]"),
        ([["abc", []]], "depends[0][0]"),
        ([[1, []], [None, []]], "depends[1][0]"),
    ],
)
def test_depends_refused(value: Any, path: str) -> None:
    err = errors_of({**STARTUP, "depends": value})
    assert list(err.errors) == [path]
    assert f"OP_INSTANCE_STARTUP: {path}: " in str(err)


def test_reason_trail_shape() -> None:
    trail = [["gnt:client:gnt-instance", "startup", 1700000000000000000], ["gnt:opcode", "", 1]]
    assert load_opcode({**STARTUP, "reason": trail}).reason == trail
    assert load_opcode({**STARTUP, "reason": None}).reason == []
    for value, path in [
        (5, "reason"),
        ([["a", "b"]], "reason[0]"),
        ([["a", "b", 1, 2]], "reason[0]"),
        ([[1, "b", 2]], "reason[0][0]"),
        ([["a", None, 2]], "reason[0][1]"),
        ([["a", "b", "c"]], "reason[0][2]"),
    ]:
        assert list(errors_of({**STARTUP, "reason": value}).errors) == [path], value


# --- disk and NIC specifications ----------------------------------------------


def test_disk_spec_accepts_known_and_provider_keys() -> None:
    disk = {
        "size": 1024,
        "mode": "rw",
        "name": "data",
        "vg": "xenvg",
        "metavg": "metavg",
        "spindles": 2,
        "provider": "pvdr",
        "adopt": "lv0",
        "access": "userspace",
        "param1": "value",
        "param2": 7,
    }
    op = load_opcode({**CREATE, "disks": [disk, {"size": 2048.0, "name": None}]})
    assert op.disks == [disk, {"size": 2048, "name": None}]


@pytest.mark.parametrize(
    ("disk", "path", "message"),
    [
        ({}, "disks[0].size", "Missing data for required field."),
        ({"size": "abc"}, "disks[0].size", "Not a valid integer."),
        ({"size": True}, "disks[0].size", "Not a valid integer."),
        ({"size": -1}, "disks[0].size", "Must be greater than or equal to 0."),
        ({"size": 1, "mode": "rx"}, "disks[0].mode", "Must be one of: ro, rw."),
        ({"size": 1, "vg": ""}, "disks[0].vg", "Must be a non-empty string."),
        ({"size": 1, "spindles": "2"}, "disks[0].spindles", "Not a valid integer."),
        ({"size": 1, "extra": [1]}, "disks[0].extra", "Provider parameters must be"),
        ({"size": 1, "extra": 1.5}, "disks[0].extra", "Provider parameters must be"),
    ],
)
def test_disk_spec_errors(disk: dict[str, Any], path: str, message: str) -> None:
    err = errors_of({**CREATE, "disks": [disk]})
    assert list(err.errors) == [path]
    assert err.errors[path][0].startswith(message)


def test_disks_must_be_a_list_of_dicts() -> None:
    assert list(errors_of({**CREATE, "disks": 5}).errors) == ["disks"]
    assert list(errors_of({**CREATE, "disks": [5]}).errors) == ["disks[0]"]


def test_nic_spec() -> None:
    nic = {"mac": "auto", "ip": None, "mode": "bridged", "link": "br0", "vlan": ".100"}
    assert (
        load_opcode({**CREATE, "nics": [nic, {"network": "net1", "name": "eth0"}]}).nics[0] == nic
    )
    err = errors_of({**CREATE, "nics": [{"bridge": "br0"}, {"colour": "red", "ip": 5}]})
    assert set(err.errors) == {"nics[1].colour", "nics[1].ip"}
    assert err.errors["nics[1].colour"][0].startswith("unknown NIC parameter")


# --- modification lists, recreate-disks, multi-alloc --------------------------

SET_PARAMS = {"OP_ID": "OP_INSTANCE_SET_PARAMS", "instance_name": "web1"}


def test_device_modifications_both_formats() -> None:
    disks = [
        ["add", -1, {"size": 1024, "mode": "rw"}],
        ["modify", "data", {"mode": "ro"}],
        ["remove", 0, {}],
        ["attach", -1, {"name": "shared"}],
        ("detach", 1, {}),
        ["add", {"size": 5}],
        [2, {"mode": "ro"}],
    ]
    nics = [["add", -1, {"mac": "auto"}], [0, {"ip": None}]]
    op = load_opcode({**SET_PARAMS, "disks": disks, "nics": nics})
    assert op.disks[4] == ["detach", 1, {}]
    assert op.disks[5] == ["add", {"size": 5}]
    data = dump_opcode(op)
    assert data["disks"][4] == ["detach", 1, {}]
    assert load_opcode(json.loads(json.dumps(data))) == op


@pytest.mark.parametrize(
    ("disks", "path"),
    [
        (5, "disks"),
        ([5], "disks[0]"),
        ([["add"]], "disks[0]"),
        ([["grow", 0, {}]], "disks[0][0]"),
        ([["modify", 1.5, {}]], "disks[0][1]"),
        ([["modify", 0, 5]], "disks[0][2]"),
        ([["add", -1, {"mode": "rw"}]], "disks[0][2].size"),
        ([["modify", 0, {"size": "x"}]], "disks[0][2].size"),
        ([["modify", {}]], "disks[0][0]"),
        ([[-1, {}]], "disks[0][0]"),
        ([["add", {"vg": "x"}]], "disks[0][1].size"),
    ],
)
def test_device_modification_errors(disks: Any, path: str) -> None:
    err = errors_of({**SET_PARAMS, "disks": disks})
    assert list(err.errors) == [path]


def test_nic_modification_errors() -> None:
    err = errors_of({**SET_PARAMS, "nics": [["add", -1, {"speed": "fast"}]]})
    assert list(err.errors) == ["nics[0][2].speed"]


def test_recreate_disks() -> None:
    base = {"OP_ID": "OP_INSTANCE_RECREATE_DISKS", "instance_name": "i"}
    assert load_opcode(base).disks == []
    assert load_opcode({**base, "disks": [0, 2]}).disks == [0, 2]
    op = load_opcode({**base, "disks": [[0, {"size": 10}], (1, {})]})
    assert op.disks == [[0, {"size": 10}], [1, {}]]
    assert load_opcode(dump_opcode(op)) == op
    for value, path in [
        (5, "disks"),
        ([-1], "disks[0]"),
        (["a"], "disks[0]"),
        ([0, [1, {}]], "disks[0]"),
        ([[0, 5]], "disks[0][1]"),
        ([[-1, {}]], "disks[0][0]"),
        ([[0, {"size": "x"}]], "disks[0][1].size"),
    ]:
        assert list(errors_of({**base, "disks": value}).errors) == [path], value


def test_multi_alloc_loads_nested_create_opcodes() -> None:
    inst = {k: v for k, v in CREATE.items() if k != "OP_ID"}
    op = load_opcode(
        {"OP_ID": "OP_INSTANCE_MULTI_ALLOC", "instances": [inst, {**CREATE, "instance_name": "b"}]}
    )
    assert [i.OP_ID for i in op.instances] == ["OP_INSTANCE_CREATE"] * 2
    assert op.instances[0].start is True
    assert op.instances[1].summary() == "INSTANCE_CREATE(b)"
    data = dump_opcode(op)
    assert data["instances"][0]["OP_ID"] == "OP_INSTANCE_CREATE"
    assert data == op.to_dict()
    assert load_opcode(json.loads(json.dumps(data))) == op


def test_multi_alloc_errors_carry_nested_paths() -> None:
    base = {"OP_ID": "OP_INSTANCE_MULTI_ALLOC"}
    err = errors_of({**base, "instances": [{**CREATE, "disks": [{"size": "x"}]}]})
    assert err.errors == {"instances[0].disks[0].size": ["Not a valid integer."]}
    assert str(err) == "OP_INSTANCE_MULTI_ALLOC: instances[0].disks[0].size: Not a valid integer."
    err = errors_of({**base, "instances": [{**CREATE, "OP_ID": "OP_INSTANCE_REMOVE"}]})
    assert list(err.errors) == ["instances[0].OP_ID"]
    err = errors_of({**base, "instances": [5]})
    assert list(err.errors) == ["instances[0]"]
    err = errors_of({**base, "instances": [{}]})
    assert set(err.errors) == {
        "instances[0].instance_name",
        "instances[0].mode",
        "instances[0].disks",
        "instances[0].nics",
    }


# --- other structured fields --------------------------------------------------


def test_cluster_set_params_structured_fields() -> None:
    base = {"OP_ID": "OP_CLUSTER_SET_PARAMS"}
    op = load_opcode(
        {
            **base,
            "uid_pool": [[1000, 2000]],
            "hidden_os": [["add", "debian"], ("remove", "lenny")],
            "diskparams": {"drbd": {"resync-rate": 1024}},
            "enabled_data_collectors": {"cpu-avg-load": True},
            "data_collector_interval": {"cpu-avg-load": 5000000},
            "nicparams": {"mode": "bridged", "link": "br0"},
            "enabled_hypervisors": ["kvm", "fake"],
        }
    )
    assert op.hidden_os == [["add", "debian"], ["remove", "lenny"]]
    assert load_opcode(dump_opcode(op)) == op
    for key, value, path in [
        ("uid_pool", [[1]], "uid_pool[0]"),
        ("uid_pool", [["a", 2]], "uid_pool[0]"),
        ("hidden_os", [["hide", "x"]], "hidden_os[0][0]"),
        ("hidden_os", [["add", ""]], "hidden_os[0][1]"),
        ("diskparams", {"LVM!": {}}, "diskparams.LVM!.key"),
        ("diskparams", {"drbd": 5}, "diskparams.drbd.value"),
        ("enabled_data_collectors", {"x": "yes"}, "enabled_data_collectors.x.value"),
        ("nicparams", {"speed": "x"}, "nicparams.speed.key"),
        ("enabled_hypervisors", ["VMware ESX"], "enabled_hypervisors[0]"),
        ("candidate_pool_size", 0, "candidate_pool_size"),
    ]:
        assert list(errors_of({**base, key: value}).errors) == [path], (key, value)


def test_export_target() -> None:
    base = {"OP_ID": "OP_BACKUP_EXPORT", "instance_name": "i"}
    assert load_opcode({**base, "target_node": "node2"}).target_node == "node2"
    remote = [["host", 1234, "magic", "hmac", "salt"]]
    assert load_opcode({**base, "target_node": remote, "mode": "remote"}).target_node == remote
    for value in (5, "", None, {"a": 1}):
        assert list(errors_of({**base, "target_node": value}).errors) == ["target_node"]


def test_test_dummy_takes_anything() -> None:
    op = load_opcode({"OP_ID": "OP_TEST_DUMMY", "result": {"a": [1, 2]}, "fail": "x"})
    assert op.result == {"a": [1, 2]}
    assert op.messages is None
