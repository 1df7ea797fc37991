"""Moving an instance to another node: live migration and failover, with their checks.

Only disks every node can reach (a ``SHARED`` template such as
``sharedfile``) or replicated ones (``MIRRORED``) allow it; ``file`` disks
live on one node (``gnt-instance move`` copies them). A migration runs
Ganeti's steps (source info, target accepts, source sends, poll, finalize
target, switch the primary in the config, finalize source) and undoes the
target side if anything fails, so the instance keeps running where it was.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING
from typing import Any

from twisted.internet import task

from corral.api.errors import CorralError
from corral.api.errors import OpExecError
from corral.api.errors import OpPrereqError
from corral.cmdlib import instance_common as ic
from corral.config import objects as o
from corral.config.inheritance import effective_beparams
from corral.config.inheritance import instance_hvparams
from corral.config.writer import target as rpc_target
from corral.iallocator import builtin
from corral.iallocator import request as ia_request
from corral.iallocator import runner as ia_runner
from corral.plugins.kinds import DriverKind

if TYPE_CHECKING:
    from corral.cmdlib.base import LogicalUnit

#: Seconds between two looks at a running migration.
POLL_INTERVAL = 0.2
#: Longest a migration may take before it is given up.
MIGRATION_TIMEOUT = 3600.0


def check_movable(lu: LogicalUnit, inst: o.Instance, action: str) -> None:
    cls = lu.master.registry.driver_class(DriverKind.STORAGE, inst.disk_template)
    if not (getattr(cls, "SHARED", False) or getattr(cls, "MIRRORED", False)):
        raise OpPrereqError(
            f"Instance's disk layout '{inst.disk_template}' does not allow {action}s"
            f" (use 'gnt-instance move' to copy its disks to another node)"
        )


async def choose_target(
    lu: LogicalUnit, inst: o.Instance, target_name: str | None, iallocator: str | None
) -> o.Node:
    """The node to move ``inst`` to: the one given, the mirror's secondary, or an allocator's."""
    cfg = lu.master.config
    if target_name:
        node = ic.lookup_node(cfg, target_name)
        if node.uuid == inst.primary_node:
            raise OpPrereqError(f"Instance {inst.name} is already on node {node.name}")
        if inst.secondary_nodes and node.uuid not in inst.secondary_nodes:
            raise OpPrereqError(
                f"Instances with disk template {inst.disk_template} can only move to their"
                " secondary node"
            )
        return node
    if inst.secondary_nodes:
        return cfg.nodes[inst.secondary_nodes[0]]
    group = cfg.nodes[inst.primary_node].group
    nodes = [n for n in cfg.nodes.values() if n.group == group]
    live = await ic.node_info(lu.master, nodes, inst.hypervisor)
    data = ia_request.cluster_data(cfg, live, inst.hypervisor, lu.master.reserved)
    pnode = cfg.nodes[inst.primary_node].name
    name = ia_runner.resolve(iallocator, cfg.cluster.default_iallocator)
    be = effective_beparams(cfg.cluster, inst)
    if name == ia_runner.BUILTIN:
        req = {
            "memory": be["maxmem"],
            "vcpus": be["vcpus"],
            "spindle_use": be["spindle_use"],
            "disk_template": inst.disk_template,
            "disk_space_total": 0,
        }
        chosen, why = builtin.choose(data, req, 1, exclude={pnode}, group=group)
        if not chosen:
            raise OpPrereqError(f"No node can take instance {inst.name}: {why}")
    else:
        data["request"] = {
            "type": "relocate",
            "name": inst.name,
            "required_nodes": 1,
            "relocate_from": [pnode],
        }
        chosen = await ia_runner.run(name, data, lu.master.registry)
    lu.feedback(f"Selected node {chosen[0]} for instance {inst.name} via iallocator {name}")
    return ic.lookup_node(cfg, chosen[0])


async def check_target(
    lu: LogicalUnit, inst: o.Instance, node: o.Node, ignore_ipolicy: bool, needs_memory: bool
) -> None:
    cfg = lu.master.config
    ic.check_node_usable(node, f"receive instance {inst.name}")
    ic.check_ipolicy(cfg, node, ic.specs_of(cfg, inst), ignore_ipolicy, "Moving the instance")
    if needs_memory:
        memory = int(effective_beparams(cfg.cluster, inst)["maxmem"])
        await ic.check_free_memory(
            lu.master, node, inst.hypervisor, memory, f"instance {inst.name}"
        )


async def _switch_primary(lu: LogicalUnit, inst: o.Instance, target: o.Node) -> o.Instance:
    """Make ``target`` the primary (the old primary becomes the secondary of a mirror)."""
    secondaries = tuple(inst.primary_node if u == target.uuid else u for u in inst.secondary_nodes)
    disks = tuple(dataclasses.replace(d, nodes=(target.uuid, *secondaries)) for d in inst.disks)
    return await ic.set_instance(
        lu.master, inst, primary_node=target.uuid, secondary_nodes=secondaries, disks=disks
    )


def live_mode(lu: LogicalUnit, inst: o.Instance, mode: str | None, live: bool | None) -> bool:
    """Live or not: the option, else the hypervisor's ``migration_mode`` parameter."""
    if mode is not None and live is not None:
        raise OpPrereqError("give either --migration-mode or --live/--non-live, not both")
    if live is not None:
        return live
    if mode is None:
        cls = lu.master.registry.driver_class(DriverKind.HYPERVISOR, inst.hypervisor)
        mode = instance_hvparams(lu.master.config.cluster, inst, cls.param_defaults()).get(
            "migration_mode", "live"
        )
    return mode == "live"


async def migrate(lu: LogicalUnit, inst: o.Instance, target: o.Node, live: bool) -> o.Instance:
    """Move a running instance; on failure it keeps running on its primary."""
    master, cfg = lu.master, lu.master.config
    source = cfg.nodes[inst.primary_node]
    doc = ic.document(master, inst)
    lu.feedback(f"* checking on node {source.name}")
    info = await ic.call(master, source, "instance_migration_info", {"instance": doc})
    mode = "live" if live else "non-live"
    lu.feedback(f"* migrating instance to {target.name} ({mode})")
    accepted = migrated = False
    try:
        await ic.call(
            master,
            target,
            "instance_accept",
            {"instance": doc, "info": info, "target": target.primary_ip},
        )
        accepted = True
        await ic.call(
            master,
            source,
            "instance_migrate",
            {"instance": doc, "target": target.primary_ip, "live": live},
        )
        migrated = True
        waited = 0.0
        while True:
            status = await ic.call(master, source, "instance_migration_status", {"instance": doc})
            if status == "completed":
                break
            if status in ("failed", "cancelled"):
                raise OpExecError(f"the migration of instance {inst.name} {status}")
            if waited > MIGRATION_TIMEOUT:
                raise OpExecError(f"the migration of {inst.name} did not end in time")
            await task.deferLater(lu.ctx.clock, POLL_INTERVAL, lambda: None)
            waited += POLL_INTERVAL
        await ic.call(
            master,
            target,
            "instance_finalize_dst",
            {"instance": doc, "info": info, "success": True},
        )
    except BaseException:
        await _undo_migration(lu, inst, source, target, doc, info, accepted, migrated)
        raise
    moved = await _switch_primary(lu, inst, target)
    try:
        await ic.call(
            master,
            source,
            "instance_finalize_src",
            {"instance": doc, "success": True, "live": live},
        )
    except CorralError as err:
        lu.feedback(f"WARNING: could not clean up on the source node {source.name}: {err}")
    lu.feedback("* done")
    return moved


async def _undo_migration(
    lu: LogicalUnit,
    inst: o.Instance,
    source: o.Node,
    target: o.Node,
    doc: dict[str, Any],
    info: Any,
    accepted: bool,
    migrated: bool,
) -> None:
    rpc = lu.master.rpc
    lu.feedback(f"Migration of {inst.name} failed: keeping it on {source.name}")
    if accepted:
        answer = await rpc.call(
            rpc_target(target),
            "instance_finalize_dst",
            {"instance": doc, "info": info, "success": False},
        )
        if not answer.ok:
            lu.feedback(f"WARNING: cleanup on {target.name} failed: {answer.error}")
    if migrated:
        answer = await rpc.call(
            rpc_target(source),
            "instance_finalize_src",
            {"instance": doc, "success": False, "live": True},
        )
        if not answer.ok:
            lu.feedback(f"WARNING: resuming on {source.name} failed: {answer.error}")


async def failover(
    lu: LogicalUnit,
    inst: o.Instance,
    target: o.Node,
    shutdown_timeout: int,
    ignore_consistency: bool,
) -> o.Instance:
    """Stop the instance on its primary, switch, and start it on ``target`` if it should run."""
    master, cfg = lu.master, lu.master.config
    source = cfg.nodes[inst.primary_node]
    doc = ic.document(master, inst)
    if source.offline:
        lu.feedback(f"* node {source.name} is offline: not shutting the instance down there")
    else:
        lu.feedback(f"* shutting down instance on source node {source.name}")
        answer = await master.rpc.call(
            rpc_target(source),
            "instance_stop",
            {"instance": doc, "timeout": shutdown_timeout},
            timeout=shutdown_timeout + 60,
        )
        if not answer.ok:
            if not ignore_consistency:
                raise OpExecError(
                    f"Could not shutdown instance {inst.name} on node {source.name}:"
                    f" {answer.error} (use --ignore-consistency if the node is really down)"
                )
            lu.feedback(f"WARNING: could not shut it down on {source.name}: {answer.error}")
    moved = await _switch_primary(lu, inst, target)
    if inst.admin_state == o.AdminState.UP:
        lu.feedback(f"* starting the instance on the target node {target.name}")
        try:
            await ic.call(
                master, target, "instance_start", {"instance": ic.document(master, moved)}
            )
        except CorralError as err:
            raise OpExecError(
                f"Could not start instance {inst.name} on node {target.name}: {err}. It is now"
                f" there in the config: fix the cause and 'gnt-instance startup {inst.name}'"
            ) from None
    return moved
