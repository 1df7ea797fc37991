"""marshmallow schemas for the config tree: the single source of truth for its format.

Loading a schema yields the frozen objects of :mod:`corral.config.objects`;
dumping one yields JSON-ready dicts. Core-owned parameter dicts are checked
here against :mod:`corral.config.params`; plugin-owned ones (hvparams,
diskparams, osparams) need the plugin, so :mod:`corral.config.check` does
them when it is given a driver registry.
"""

from __future__ import annotations

from typing import Any

from marshmallow import RAISE
from marshmallow import Schema
from marshmallow import ValidationError
from marshmallow import fields
from marshmallow import post_load
from marshmallow import validate
from marshmallow import validates_schema

from corral.api.params import load_params
from corral.config import objects
from corral.config.params import BeParams
from corral.config.params import IPolicy
from corral.config.params import NdParams
from corral.config.params import NicParams
from corral.fieldtypes import IPAddress
from corral.fieldtypes import IPv4Address
from corral.fieldtypes import IPv4Network
from corral.fieldtypes import IPv6Address
from corral.fieldtypes import IPv6Network

UUID_RE = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
MAC_RE = r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$"
# Hostnames as Ganeti accepts them: dot-separated labels of letters, digits, - and _.
NAME_RE = (
    r"^[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?(\.[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?)*$"
)
TAG_RE = r"^[\w.+*/:@-]{1,128}$"


def uuid_field(**kw: Any) -> fields.String:
    return fields.String(validate=validate.Regexp(UUID_RE, error="Not a valid UUID."), **kw)


def name_field(**kw: Any) -> fields.String:
    return fields.String(
        validate=[validate.Length(max=255), validate.Regexp(NAME_RE, error="Not a valid name.")],
        **kw,
    )


class Overrides(fields.Field[dict[str, Any]]):
    """A dict of parameters set at one level, checked against the owner's schema.

    Every key is optional and no default is filled in: defaults come from
    inheritance, not from the file.
    """

    def __init__(self, schema: type[Schema], **kwargs: Any) -> None:
        super().__init__(load_default=dict, **kwargs)
        self.schema_cls = schema

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if not isinstance(value, dict):
            raise ValidationError("Not a valid mapping type.")
        return load_params(self.schema_cls, value)

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> Any:
        return None if value is None else dict(value)


def params_field(schema: type[Schema] | None = None) -> fields.Field[Any]:
    """A parameter dict: free-form when the owner is a plugin, checked when it is the core."""
    if schema is None:
        return fields.Dict(keys=fields.String(), load_default=dict)
    return Overrides(schema)


def params_by_key(schema: type[Schema] | None = None, *, with_default: bool = False) -> fields.Dict:
    """A dict of parameter dicts keyed by hypervisor, template, OS, or ``"default"``."""
    empty: Any = (lambda: {"default": {}}) if with_default else dict
    return fields.Dict(keys=fields.String(), values=params_field(schema), load_default=empty)


def tags_field() -> fields.List[str]:
    return fields.List(
        fields.String(validate=validate.Regexp(TAG_RE, error="Not a valid tag.")),
        load_default=list,
    )


class _Base(Schema):
    class Meta:
        unknown = RAISE

    #: The dataclass a loaded dict becomes.
    object_class: type[Any]

    @post_load
    def _build(self, data: dict[str, Any], **kwargs: Any) -> Any:
        for key, value in data.items():
            if isinstance(value, list):
                data[key] = tuple(value)
        return self.object_class(**data)


class _Stamped(_Base):
    uuid = uuid_field(required=True)
    serial_no = fields.Integer(validate=validate.Range(min=1), load_default=1)
    ctime = fields.Float(load_default=0.0)
    mtime = fields.Float(load_default=0.0)


class DiskSchema(_Stamped):
    object_class = objects.Disk
    dev_type = fields.String(required=True, validate=validate.Length(min=1))
    size = fields.Integer(required=True, validate=validate.Range(min=1))
    mode = fields.Enum(objects.DiskMode, by_value=True, load_default=objects.DiskMode.RW)
    name = fields.String(allow_none=True, load_default=None)
    iv_name = fields.String(load_default="")
    logical_id = fields.String(allow_none=True, load_default=None)
    nodes = fields.List(uuid_field(), load_default=list)
    params = params_field()
    spindles = fields.Integer(allow_none=True, load_default=None, validate=validate.Range(min=0))


class NicSchema(_Base):
    object_class = objects.Nic
    uuid = uuid_field(required=True)
    mac = fields.String(required=True, validate=validate.Regexp(MAC_RE, error="Not a valid MAC."))
    name = fields.String(allow_none=True, load_default=None)
    ip = IPAddress(allow_none=True, load_default=None)
    network = uuid_field(allow_none=True, load_default=None)
    nicparams = params_field(NicParams)


class InstanceSchema(_Stamped):
    object_class = objects.Instance
    name = name_field(required=True)
    primary_node = uuid_field(required=True)
    secondary_nodes = fields.List(uuid_field(), load_default=list)
    os = fields.String(required=True)
    hypervisor = fields.String(required=True, validate=validate.Length(min=1))
    disk_template = fields.String(required=True, validate=validate.Length(min=1))
    hvparams = params_field()
    beparams = params_field(BeParams)
    osparams = params_field()
    admin_state = fields.Enum(
        objects.AdminState, by_value=True, load_default=objects.AdminState.DOWN
    )
    admin_state_source = fields.Enum(
        objects.AdminStateSource, by_value=True, load_default=objects.AdminStateSource.ADMIN
    )
    nics = fields.List(fields.Nested(NicSchema), load_default=list)
    disks = fields.List(fields.Nested(DiskSchema), load_default=list)
    disks_active = fields.Boolean(load_default=False)
    network_port = fields.Integer(
        allow_none=True, load_default=None, validate=validate.Range(min=1, max=65535)
    )
    tags = tags_field()


class NodeSchema(_Stamped):
    object_class = objects.Node
    name = name_field(required=True)
    primary_ip = IPAddress(required=True)
    secondary_ip = IPAddress(allow_none=True, load_default=None)
    group = uuid_field(required=True)
    master_candidate = fields.Boolean(load_default=False)
    master_capable = fields.Boolean(load_default=True)
    vm_capable = fields.Boolean(load_default=True)
    offline = fields.Boolean(load_default=False)
    drained = fields.Boolean(load_default=False)
    powered = fields.Boolean(load_default=True)
    ndparams = params_field(NdParams)
    tags = tags_field()

    @validates_schema
    def _roles(self, data: dict[str, Any], **kwargs: Any) -> None:
        if data.get("master_candidate") and (data.get("offline") or data.get("drained")):
            raise ValidationError("an offline or drained node cannot be a master candidate")
        if data.get("offline") and data.get("drained"):
            raise ValidationError("a node cannot be both offline and drained")


class NodeGroupSchema(_Stamped):
    object_class = objects.NodeGroup
    name = name_field(required=True)
    alloc_policy = fields.Enum(
        objects.AllocPolicy, by_value=True, load_default=objects.AllocPolicy.PREFERRED
    )
    ndparams = params_field(NdParams)
    diskparams = params_by_key()
    ipolicy = params_field(IPolicy)
    networks = fields.Dict(keys=uuid_field(), values=params_field(NicParams), load_default=dict)
    tags = tags_field()


class NetworkSchema(_Stamped):
    object_class = objects.Network
    name = name_field(required=True)
    network = IPv4Network(required=True)
    gateway = IPv4Address(allow_none=True, load_default=None)
    network6 = IPv6Network(allow_none=True, load_default=None)
    gateway6 = IPv6Address(allow_none=True, load_default=None)
    mac_prefix = fields.String(
        allow_none=True,
        load_default=None,
        validate=validate.Regexp(r"^[0-9a-f]{2}:[0-9a-f]{2}:[0-9a-f]{2}$"),
    )
    reservations = fields.List(IPv4Address(), load_default=list)
    ext_reservations = fields.List(IPv4Address(), load_default=list)
    tags = tags_field()


class ClusterSchema(_Stamped):
    object_class = objects.Cluster
    cluster_name = name_field(required=True)
    master_node = uuid_field(required=True)
    master_ip = IPAddress(required=True)
    master_netdev = fields.String(load_default="eth0")
    master_netmask = fields.Integer(load_default=32, validate=validate.Range(min=0, max=128))
    primary_ip_family = fields.Integer(load_default=4, validate=validate.OneOf([4, 6]))
    mac_prefix = fields.String(
        load_default="aa:00:00", validate=validate.Regexp(r"^[0-9a-f]{2}:[0-9a-f]{2}:[0-9a-f]{2}$")
    )
    enabled_hypervisors = fields.List(
        fields.String(), validate=validate.Length(min=1), load_default=lambda: ["fake"]
    )
    enabled_disk_templates = fields.List(
        fields.String(), validate=validate.Length(min=1), load_default=lambda: ["diskless", "file"]
    )
    default_iallocator = fields.String(allow_none=True, load_default=None)
    default_iallocator_params = params_field()
    hvparams = params_by_key()
    os_hvp = fields.Dict(keys=fields.String(), values=params_by_key(), load_default=dict)
    beparams = params_by_key(BeParams, with_default=True)
    nicparams = params_by_key(NicParams, with_default=True)
    osparams = params_by_key()
    ndparams = params_field(NdParams)
    diskparams = params_by_key()
    ipolicy = params_field(IPolicy)
    file_storage_dir = fields.String(load_default="/srv/corral/file-storage")
    shared_file_storage_dir = fields.String(load_default="/srv/corral/shared-file-storage")
    candidate_pool_size = fields.Integer(load_default=10, validate=validate.Range(min=1))
    max_running_jobs = fields.Integer(load_default=20, validate=validate.Range(min=1))
    max_tracked_jobs = fields.Integer(load_default=25, validate=validate.Range(min=1))
    maintain_node_health = fields.Boolean(load_default=False)
    modify_etc_hosts = fields.Boolean(load_default=True)
    prealloc_wipe_disks = fields.Boolean(load_default=False)
    hidden_os = fields.List(fields.String(), load_default=list)
    blacklisted_os = fields.List(fields.String(), load_default=list)
    data_collectors = params_by_key()
    tcpudp_port_pool = fields.List(
        fields.Integer(validate=validate.Range(min=1, max=65535)), load_default=list
    )
    highest_used_port = fields.Integer(load_default=11000)
    rpc_port = fields.Integer(load_default=1811, validate=validate.Range(min=1, max=65535))
    tags = tags_field()


def _keyed(schema: type[Schema]) -> fields.Dict:
    return fields.Dict(keys=uuid_field(), values=fields.Nested(schema), load_default=dict)


class ConfigSchema(_Base):
    """The whole config file."""

    object_class = objects.ConfigData
    version = fields.Integer(required=True)
    cluster = fields.Nested(ClusterSchema, required=True)
    nodegroups = _keyed(NodeGroupSchema)
    nodes = _keyed(NodeSchema)
    instances = _keyed(InstanceSchema)
    networks = _keyed(NetworkSchema)
    serial_no = fields.Integer(validate=validate.Range(min=1), load_default=1)
    ctime = fields.Float(load_default=0.0)
    mtime = fields.Float(load_default=0.0)


#: Schema class for each object class, for code that dumps single objects.
SCHEMA_FOR: dict[type[Any], type[_Base]] = {
    objects.Disk: DiskSchema,
    objects.Nic: NicSchema,
    objects.Instance: InstanceSchema,
    objects.Node: NodeSchema,
    objects.NodeGroup: NodeGroupSchema,
    objects.Network: NetworkSchema,
    objects.Cluster: ClusterSchema,
    objects.ConfigData: ConfigSchema,
}

__all__ = ["SCHEMA_FOR", "ConfigSchema", "Overrides"]
