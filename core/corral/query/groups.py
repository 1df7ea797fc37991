"""The ``group`` query: Ganeti's node group fields (``gnt-group list``)."""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field as dc_field
from typing import TYPE_CHECKING

from corral.config.inheritance import effective_ipolicy
from corral.config.inheritance import effective_ndparams
from corral.query.fields import NUMBER
from corral.query.fields import OTHER
from corral.query.fields import TEXT
from corral.query.fields import TIMESTAMP
from corral.query.fields import Field
from corral.query.fields import Resource
from corral.query.fields import field

if TYPE_CHECKING:
    from corral.config.objects import ConfigData
    from corral.masterd.context import MasterContext


@dataclass
class GroupData:
    cfg: ConfigData
    nodes: dict[str, list[str]] = dc_field(default_factory=dict)  # group uuid -> node names
    instances: dict[str, list[str]] = dc_field(default_factory=dict)  # by primary's group


FIELDS: dict[str, Field] = {
    f.name: f
    for f in [
        field("name", "Group", TEXT, "Group name", lambda g, d: g.name),
        field("uuid", "UUID", TEXT, "Group UUID", lambda g, d: g.uuid),
        field("alloc_policy", "AllocPolicy", TEXT, "Allocation policy for group",
              lambda g, d: str(g.alloc_policy)),
        field("node_cnt", "Nodes", NUMBER, "Number of nodes",
              lambda g, d: len(d.nodes.get(g.uuid, []))),
        field("node_list", "NodeList", OTHER, "List of nodes",
              lambda g, d: sorted(d.nodes.get(g.uuid, []))),
        field("pinst_cnt", "Instances", NUMBER, "Number of primary instances",
              lambda g, d: len(d.instances.get(g.uuid, []))),
        field("pinst_list", "InstanceList", OTHER, "List of primary instances",
              lambda g, d: sorted(d.instances.get(g.uuid, []))),
        field("ndparams", "NDParams", OTHER, "Node parameters",
              lambda g, d: effective_ndparams(d.cfg.cluster, g, None)),
        field("custom_ndparams", "CustomNDParams", OTHER, "Custom node parameters",
              lambda g, d: dict(g.ndparams)),
        field("ipolicy", "InstancePolicy", OTHER, "Instance policy limitations (merged)",
              lambda g, d: effective_ipolicy(d.cfg.cluster, g)),
        field("custom_ipolicy", "CustomInstancePolicy", OTHER,
              "Custom instance policy limitations", lambda g, d: dict(g.ipolicy)),
        field("diskparams", "DiskParameters", OTHER, "Disk parameters (merged)",
              lambda g, d: {t: {**d.cfg.cluster.diskparams.get(t, {}), **p}
                            for t, p in {**{k: {} for k in d.cfg.cluster.diskparams},
                                         **g.diskparams}.items()}),
        field("custom_diskparams", "CustomDiskParameters", OTHER, "Custom disk parameters",
              lambda g, d: {t: dict(p) for t, p in g.diskparams.items()}),
        field("networks", "Networks", OTHER, "Networks connected to this group",
              lambda g, d: sorted(d.cfg.networks[n].name for n in g.networks
                                  if n in d.cfg.networks)),
        field("tags", "Tags", OTHER, "Tags", lambda g, d: sorted(g.tags)),
        field("serial_no", "SerialNo", NUMBER, "Group object serial number, incremented on each"
              " modification", lambda g, d: g.serial_no),
        field("ctime", "CTime", TIMESTAMP, "Creation timestamp", lambda g, d: g.ctime),
        field("mtime", "MTime", TIMESTAMP, "Modification timestamp", lambda g, d: g.mtime),
    ]
}  # fmt: skip


def resource(master: MasterContext) -> Resource[GroupData]:
    async def context(live: bool, needed: set[str]) -> GroupData:
        cfg = master.config
        data = GroupData(cfg)
        for node in cfg.nodes.values():
            data.nodes.setdefault(node.group, []).append(node.name)
        for inst in cfg.instances.values():
            primary = cfg.nodes.get(inst.primary_node)
            if primary is not None:
                data.instances.setdefault(primary.group, []).append(inst.name)
        return data

    return Resource(
        what="group",
        fields=FIELDS,
        objects=lambda d: sorted(d.cfg.nodegroups.values(), key=lambda g: g.name),
        context=context,
        name_of=lambda g: g.name,
    )
