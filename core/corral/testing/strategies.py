"""Hypothesis strategies that build valid, internally consistent configs.

Used by corral's property tests and available to plugin authors who want
to test against realistic cluster configurations.
"""

from __future__ import annotations

import string
from typing import Any

from hypothesis import strategies as st

from corral.config import objects as o
from corral.config.params import ISPEC_KEYS

uuids = st.uuids().map(str)
names = st.from_regex(r"[a-z][a-z0-9-]{0,8}[a-z0-9](\.example\.com)?", fullmatch=True)
tags = st.lists(
    st.text(string.ascii_letters + string.digits + ":._-", min_size=1, max_size=12), max_size=3
)
times = st.floats(min_value=0, max_value=4e9, allow_nan=False).map(lambda t: round(t, 3))
serials = st.integers(min_value=1, max_value=10**6)
ipv4 = st.ip_addresses(v=4).map(str)
scalars = st.one_of(st.booleans(), st.integers(-(2**31), 2**31), st.text(max_size=8))
free_params = st.dictionaries(st.from_regex(r"[a-z_]{1,10}", fullmatch=True), scalars, max_size=3)


@st.composite
def beparams(draw: st.DrawFn) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if draw(st.booleans()):
        mem = draw(st.integers(128, 65536))
        out["maxmem"] = mem
        out["minmem"] = draw(st.integers(128, mem))
    if draw(st.booleans()):
        out["vcpus"] = draw(st.integers(1, 64))
    if draw(st.booleans()):
        out["auto_balance"] = draw(st.booleans())
    return out


ndparams = st.fixed_dictionaries(
    {},
    optional={
        "spindle_count": st.integers(1, 64),
        "exclusive_storage": st.booleans(),
        "ssh_port": st.integers(1, 65535),
        "cpu_speed": st.floats(0.1, 10, allow_nan=False),
    },
)
nicparams = st.fixed_dictionaries(
    {},
    optional={
        "mode": st.sampled_from(["bridged", "routed", "openvswitch"]),
        "link": st.from_regex(r"br[0-9]{1,2}", fullmatch=True),
        "vlan": st.sampled_from(["", ".100", ":100:200"]),
    },
)


@st.composite
def ipolicy(draw: st.DrawFn) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if draw(st.booleans()):
        out["vcpu-ratio"] = draw(st.floats(0.5, 32, allow_nan=False))
    if draw(st.booleans()):
        low = {k: draw(st.integers(1, 4)) for k in ISPEC_KEYS}
        high = {k: low[k] + draw(st.integers(0, 100)) for k in ISPEC_KEYS}
        out["minmax"] = [{"min": low, "max": high}]
        out["std"] = dict(low)
    return out


def _stamps(draw: st.DrawFn) -> dict[str, Any]:
    return {"serial_no": draw(serials), "ctime": draw(times), "mtime": draw(times)}


@st.composite
def configs(draw: st.DrawFn, max_nodes: int = 5, max_instances: int = 6) -> o.ConfigData:
    """A complete config whose references all resolve."""
    hvs = ("fake",)
    templates = ("diskless", "file")
    n_groups = draw(st.integers(1, 3))
    n_nodes = draw(st.integers(1, max_nodes))
    n_insts = draw(st.integers(0, max_instances))
    all_names = draw(st.lists(names, min_size=n_groups + n_nodes + n_insts + 2, unique=True))
    ids = draw(st.lists(uuids, min_size=n_groups + n_nodes + n_insts + 2, unique=True))
    net = o.Network(
        uuid=ids.pop(),
        name=all_names.pop(),
        network="192.0.2.0/24",
        gateway="192.0.2.1",
        reservations=tuple(
            draw(st.lists(st.sampled_from(["192.0.2.10", "192.0.2.11"]), unique=True))
        ),
        tags=tuple(draw(tags)),
    )
    groups = [
        o.NodeGroup(
            uuid=ids.pop(),
            name=all_names.pop(),
            alloc_policy=draw(st.sampled_from(list(o.AllocPolicy))),
            ndparams=draw(ndparams),
            ipolicy=draw(ipolicy()),
            diskparams={"file": {}} if draw(st.booleans()) else {},
            networks={net.uuid: draw(nicparams)} if draw(st.booleans()) else {},
            tags=tuple(draw(tags)),
            **_stamps(draw),
        )
        for _ in range(n_groups)
    ]
    nodes = []
    for idx in range(n_nodes):
        offline = draw(st.booleans())
        nodes.append(
            o.Node(
                uuid=ids.pop(),
                name=all_names.pop(),
                primary_ip=draw(ipv4),
                secondary_ip=draw(st.none() | ipv4),
                group=draw(st.sampled_from(groups)).uuid,
                master_candidate=idx == 0 or (not offline and draw(st.booleans())),
                offline=offline and idx != 0,
                ndparams=draw(ndparams),
                tags=tuple(draw(tags)),
                **_stamps(draw),
            )
        )
    macs = iter(draw(st.lists(st.integers(0, 2**24 - 1), min_size=3 * n_insts, unique=True)))
    instances = []
    for _ in range(n_insts):
        template = draw(st.sampled_from(templates))
        pnode = draw(st.sampled_from(nodes))
        disks: tuple[o.Disk, ...] = ()
        if template != "diskless":
            disks = tuple(
                o.Disk(
                    uuid=str(draw(st.uuids())),
                    dev_type=template,
                    size=draw(st.integers(1, 10**6)),
                    mode=draw(st.sampled_from(list(o.DiskMode))),
                    iv_name=f"disk/{i}",
                    logical_id=f"/srv/file/{i}.disk",
                    nodes=(pnode.uuid,),
                    **_stamps(draw),
                )
                for i in range(draw(st.integers(1, 3)))
            )
        nics = tuple(
            o.Nic(
                uuid=str(draw(st.uuids())),
                mac="aa:00:00:" + ":".join(f"{b:02x}" for b in next(macs).to_bytes(3, "big")),
                ip=draw(st.none() | ipv4),
                network=draw(st.sampled_from([None, net.uuid])),
                nicparams=draw(nicparams),
            )
            for _ in range(draw(st.integers(0, 3)))
        )
        instances.append(
            o.Instance(
                uuid=ids.pop(),
                name=all_names.pop(),
                primary_node=pnode.uuid,
                os=draw(st.sampled_from(["noop", "debootstrap+default", "image+raw"])),
                hypervisor=draw(st.sampled_from(hvs)),
                disk_template=template,
                hvparams=draw(free_params),
                beparams=draw(beparams()),
                osparams=draw(free_params),
                admin_state=draw(st.sampled_from(list(o.AdminState))),
                nics=nics,
                disks=disks,
                disks_active=draw(st.booleans()),
                tags=tuple(draw(tags)),
                **_stamps(draw),
            )
        )
    cluster = o.Cluster(
        uuid=ids.pop(),
        cluster_name=all_names.pop(),
        master_node=nodes[0].uuid,
        master_ip=draw(ipv4),
        enabled_hypervisors=hvs,
        enabled_disk_templates=templates,
        hvparams={"fake": {}},
        os_hvp=draw(st.sampled_from([{}, {"noop": {"fake": {}}}])),
        beparams={"default": draw(beparams())},
        nicparams={"default": draw(nicparams)},
        osparams=draw(st.dictionaries(st.sampled_from(["noop", "debootstrap"]), free_params)),
        ndparams=draw(ndparams),
        ipolicy=draw(ipolicy()),
        tags=tuple(draw(tags)),
        **_stamps(draw),
    )
    return o.ConfigData(
        cluster=cluster,
        nodegroups={g.uuid: g for g in groups},
        nodes={n.uuid: n for n in nodes},
        instances={i.uuid: i for i in instances},
        networks={net.uuid: net},
        **_stamps(draw),
    )
