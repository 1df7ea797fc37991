"""``gnt-instance move``: copy a node-local instance's disks to another node and move it.

For templates whose disks live on one node (``file``; Ganeti's ``plain``
too). The new disks are made on the target first, so a node that cannot
take them costs no downtime; then the instance stops, every disk is copied
in pieces through the master (a piece of zeros is announced, not sent, so
sparse disks stay cheap), the config switches to the target, the source
disks go and the instance starts where it now lives. A failure before the
switch removes the new disks and restarts the instance where it was.
"""

from __future__ import annotations

import base64
import dataclasses
import time
from typing import Any

from corral.api.errors import CorralError
from corral.api.errors import OpExecError
from corral.api.errors import OpPrereqError
from corral.cmdlib import instance_common as ic
from corral.cmdlib.instance_create import format_eta
from corral.cmdlib.instance_lifecycle import InstanceLU
from corral.config import objects as o
from corral.config.inheritance import effective_beparams
from corral.config.writer import target as rpc_target
from corral.plugins.kinds import DriverKind

#: MiB copied by one read/write pair: large enough to keep the nodes busy,
#: small enough that a piece (base64 in a JSON answer) stays a few MiB.
PIECE = 4
MIB = 1024 * 1024
#: Seconds between two progress lines of one disk.
PROGRESS_EVERY = 5.0


def check_copyable(lu: Any, inst: o.Instance) -> None:
    cls = lu.master.registry.driver_class(DriverKind.STORAGE, inst.disk_template)
    if getattr(cls, "SHARED", False) or getattr(cls, "MIRRORED", False):
        raise OpPrereqError(
            f"Instance {inst.name} has disk template {inst.disk_template}, whose disks every"
            " node can reach or that is replicated: use 'gnt-instance migrate' or 'failover'"
            " to move it, not 'move'"
        )


async def copy_disk(
    lu: Any,
    cfg: o.ConfigData,
    source: tuple[o.Node, o.Instance],
    dest: tuple[o.Node, o.Instance],
    index: int,
) -> None:
    """Copy disk ``index`` piece by piece; ``source``/``dest`` give the node and the
    instance as it is there (each with its own logical ids)."""
    (snode, sinst), (dnode, dinst) = source, dest
    size = sinst.disks[index].size
    src_args = ic.disk_args(lu.master, cfg, sinst, sinst.disks[index], index)
    dst_args = ic.disk_args(lu.master, cfg, dinst, dinst.disks[index], index)
    lu.feedback(f"* copying disk/{index} ({size} MiB) from {snode.name} to {dnode.name}")
    started = last = time.monotonic()
    sent = offset = 0
    while offset < size:
        count = min(PIECE, size - offset)
        piece = await ic.call(
            lu.master, snode, "disk_read", {**src_args, "offset": offset, "size": count}, 600
        )
        data = b""
        if "zero" in piece:  # may cover a whole hole, more than was asked for
            count = min(max(count, int(piece["zero"]) // MIB), size - offset)
        else:
            data = base64.b64decode(piece["data"])
            sent += len(data)
        final = offset + count >= size
        args = {**dst_args, "offset": offset, "sync": final, "zero": 0 if data else count * MIB}
        answer = await lu.master.rpc.call(rpc_target(dnode), "disk_write", args, 600, document=data)
        if not answer.ok:
            raise OpExecError(f"disk_write failed on node {dnode.name}: {answer.error}")
        offset += count
        now = time.monotonic()
        if final or now - last >= PROGRESS_EVERY:
            last = now
            eta = (now - started) / offset * (size - offset)
            lu.feedback(
                f" - INFO:  - done: {100.0 * offset / size:.1f}% ETA: {format_eta(eta)}"
                f" ({sent // (1024 * 1024)} MiB of data sent)"
            )


class LUInstanceMove(InstanceLU):
    OP_ID = "OP_INSTANCE_MOVE"

    def extra_nodes(self) -> list[str]:
        node = ic.lookup_node(self.master.config, self.op.target_node)
        self.target_uuid = node.uuid
        return [node.uuid]

    async def check_prereq(self) -> None:
        await super().check_prereq()
        cfg, inst, op = self.master.config, self.inst, self.op
        if op.compress not in (None, "", "none"):
            raise OpPrereqError(
                f"Compression {op.compress!r} is not available for moves: corral copies"
                " uncompressed (give --compress=none or leave it out)"
            )
        check_copyable(self, inst)
        dest = cfg.nodes[self.target_uuid]
        if dest.uuid == inst.primary_node:
            raise OpPrereqError(f"Instance {inst.name} is already on node {dest.name}")
        ic.check_node_usable(dest, f"receive instance {inst.name}")
        specs = ic.specs_of(cfg, inst)
        ic.check_ipolicy(cfg, dest, specs, op.ignore_ipolicy, "Moving the instance")
        if self.pnode.offline:
            raise OpPrereqError(
                f"Instance {inst.name}'s node {self.pnode.name} is offline: its disks cannot be"
                " read ('gnt-instance recreate-disks -n' makes new empty ones elsewhere)"
            )
        live = await ic.node_info(self.master, [dest], inst.hypervisor)
        answer = live.get(dest.name)
        needed = sum(d.size for d in inst.disks)
        free = (answer.result or {}).get("disk_free") if answer is not None and answer.ok else None
        if needed and isinstance(free, int) and needed > free:
            raise OpPrereqError(
                f"Not enough disk space on node {dest.name} for instance {inst.name}:"
                f" needed {needed} MiB, available {free} MiB"
            )
        if inst.admin_state == o.AdminState.UP:
            memory = int(effective_beparams(cfg.cluster, inst)["maxmem"])
            free_mem = ic.free_memory(answer, dest, inst.hypervisor, self.master.reserved)
            if memory > free_mem:
                raise OpPrereqError(
                    f"Not enough memory on node {dest.name} for instance {inst.name}:"
                    f" needed {memory} MiB, available {free_mem} MiB"
                )
        self.dest = dest

    async def execute(self) -> Any:
        await move(
            self, self.inst, self.dest, int(self.op.shutdown_timeout), self.op.ignore_consistency
        )
        return None


async def move(
    lu: Any, inst: o.Instance, dest: o.Node, shutdown_timeout: int, ignore_consistency: bool
) -> o.Instance:
    """Copy ``inst`` to ``dest`` and make it its primary (see the module's docstring)."""
    master = lu.master
    cfg, source = master.config, master.config.nodes[inst.primary_node]
    moved = dataclasses.replace(
        inst,
        primary_node=dest.uuid,
        disks=tuple(
            dataclasses.replace(d, nodes=(dest.uuid,), logical_id=None) for d in inst.disks
        ),
    )
    moved = await _create(lu, cfg, moved, dest)
    was_up = inst.admin_state == o.AdminState.UP
    try:
        if was_up:
            lu.feedback(f"* shutting down instance {inst.name} on {source.name}")
            await _stop(lu, inst, source, shutdown_timeout, ignore_consistency)
        for index in range(len(inst.disks)):
            await copy_disk(lu, cfg, (source, inst), (dest, moved), index)
    except BaseException:
        await _remove(lu, cfg, moved, dest)
        if was_up:
            await _restart(lu, inst, source)
        raise
    stored = await ic.set_instance(
        master, inst, lu.feedback, primary_node=dest.uuid, disks=moved.disks
    )
    await _remove(lu, cfg, inst, source)
    if was_up:
        lu.feedback(f"* starting the instance on {dest.name}")
        try:
            await ic.call(master, dest, "instance_start", {"instance": ic.document(master, stored)})
        except CorralError as err:
            raise OpExecError(
                f"Could not start instance {inst.name} on node {dest.name}: {err}. It has"
                f" moved there: fix the cause, then 'gnt-instance startup {inst.name}'"
            ) from None
    lu.feedback("* done")
    return stored


async def _create(lu: Any, cfg: o.ConfigData, moved: o.Instance, dest: o.Node) -> o.Instance:
    """``moved`` with its disks made on ``dest`` (none left there if one fails)."""
    made: list[o.Disk] = []
    view = dataclasses.replace(cfg, instances={**cfg.instances, moved.uuid: moved})
    if moved.disks:
        lu.feedback(f"* creating the disks on {dest.name}")
    try:
        for index, disk in enumerate(moved.disks):
            args = ic.disk_args(lu.master, view, moved, moved.disks[index], index)
            logical_id = await ic.call(lu.master, dest, "disk_create", args, 3600)
            made.append(dataclasses.replace(disk, logical_id=str(logical_id)))
    except BaseException:
        await _remove(lu, cfg, dataclasses.replace(moved, disks=tuple(made)), dest)
        raise
    return dataclasses.replace(moved, disks=tuple(made))


async def _remove(lu: Any, cfg: o.ConfigData, inst: o.Instance, node: o.Node) -> None:
    view = dataclasses.replace(cfg, instances={**cfg.instances, inst.uuid: inst})
    for index in range(len(inst.disks)):
        answer = await lu.master.rpc.call(
            rpc_target(node),
            "disk_remove",
            ic.disk_args(lu.master, view, inst, inst.disks[index], index),
            300,
        )
        if not answer.ok:
            lu.feedback(
                f"WARNING: could not remove disk/{index} of {inst.name} on {node.name}:"
                f" {answer.error}"
            )


async def _stop(
    lu: Any, inst: o.Instance, node: o.Node, timeout: int, ignore_consistency: bool
) -> None:
    answer = await lu.master.rpc.call(
        rpc_target(node),
        "instance_stop",
        {"instance": ic.document(lu.master, inst), "timeout": timeout},
        timeout + 60,
    )
    if not answer.ok:
        if not ignore_consistency:
            raise OpExecError(
                f"Could not shutdown instance {inst.name} on node {node.name}:"
                f" {answer.error} (use --ignore-consistency to copy its disks anyway)"
            )
        lu.feedback(f"WARNING: could not shut it down on {node.name}: {answer.error}")


async def _restart(lu: Any, inst: o.Instance, node: o.Node) -> None:
    answer = await lu.master.rpc.call(
        rpc_target(node), "instance_start", {"instance": ic.document(lu.master, inst)}, 120
    )
    if not answer.ok:
        lu.feedback(f"WARNING: could not start {inst.name} again on {node.name}: {answer.error}")
