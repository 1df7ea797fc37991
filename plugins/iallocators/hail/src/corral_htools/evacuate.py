"""hail's node-evacuate and change-group: instances move as Ganeti's hail moves them.

Ganeti's rules are kept, so that its answers and ours can be compared move
by move. The nodes being evacuated (every listed instance's primary and/or
DRBD secondary, as the mode says) and every offline or drained node take
nothing. Instances go one by one, in request order, each to the placement
with the best score of its group:

- a DRBD instance leaving both nodes tries every (primary, secondary) pair
  through Ganeti's three steps: a new secondary on the future primary, a
  failover onto it, a second new secondary. Ganeti scores each pair by
  replaying the steps on a copy of the cluster (cubic in the group size:
  83 s for one request on 200 nodes here); corral scores all pairs of a
  block of primaries as one (primaries x secondaries) matrix, and skips the
  primaries whose lower bound cannot beat the best pair found;
- a DRBD instance leaving its primary fails over; one leaving its secondary
  takes the best new secondary;
- a shared-storage instance moves to the best node.

change-group takes each instance to the group where it would be allocated
best and places it there the same way, the target group's score deciding.

Ties go to the last candidate in node order, as in Ganeti's fold. A failure
is reported with Ganeti's words: the step and the first check that refused
the last candidate, or every refusing node.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import TYPE_CHECKING
from typing import Any

import numpy as np

from corral_htools.alloc import AllocOptions
from corral_htools.alloc import allocate_in_group
from corral_htools.alloc import group_of
from corral_htools.alloc import spindles_fit
from corral_htools.balance import BOUND_MARGIN
from corral_htools.balance import SCORE_EPS
from corral_htools.balance import prepare_kind
from corral_htools.cost import WEIGHTS
from corral_htools.cost import score
from corral_htools.evaluate import Evaluator
from corral_htools.evaluate import NodeView
from corral_htools.model import DiskTemplate
from corral_htools.moves import MoveKind
from corral_htools.moves import opcodes
from corral_htools.state import GroupState
from corral_htools.state import group_state
from corral_htools.state import migration_matrix

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from corral_htools.ialloc import Request
    from corral_htools.model import Cluster
    from corral_htools.model import Group
    from corral_htools.model import Instance

    Arr = NDArray[np.float64]
    BArr = NDArray[np.bool_]
    IArr = NDArray[np.intp]
    SArr = NDArray[np.str_]

#: Cells of the (primaries x secondaries) matrix scored at once.
PAIR_CELLS = 262_144

#: Ganeti's answers always migrate (with allow_failover); the master fails a stopped
#: instance over instead.
MIGRATE = True

_ALL_FAILED = "Can't find any good nodes for relocation"
_NONE_GOOD = "Can't find any good node"


@dataclass
class _Moved:
    nodes: list[int]
    ops: list[dict[str, Any]]


def evacuate(cluster: Cluster, req: Request, opts: AllocOptions) -> tuple[bool, str, list[Any]]:
    """node-evacuate: move each instance off its primary/secondary as ``evac_mode`` says."""
    mode = req.evac_mode
    by_name = {inst.name: inst for inst in cluster.instances}
    excluded = {n.name for n in cluster.nodes if n.offline or n.drained}
    excluded |= set(opts.model.offline)
    for name in req.instances:
        inst = by_name.get(name)
        if inst is None:
            continue
        if mode != "secondary-only":
            excluded.add(inst.pnode)
        if mode != "primary-only" and inst.mirror_internal and inst.snode:
            excluded.add(inst.snode)
    states: dict[str, GroupState] = {}
    moved: list[Any] = []
    failed: list[Any] = []
    jobs: list[Any] = []
    for name in req.instances:
        inst = by_name.get(name)
        if inst is None:
            failed.append([name, f"Instance {name} not found"])
            continue
        group = group_of(cluster, inst)
        st = states.get(group.uuid)
        if st is None:
            st = states[group.uuid] = group_state(cluster, group.uuid, opts.model)
        i = st.inst_index[name]
        avail = np.array([n.name not in excluded for n in st.nodes], dtype=bool)
        avail[st.pnode[i]] = False
        res = _evacuate_one(st, i, mode, opts.model.ignore_soft_errors, avail)
        if isinstance(res, str):
            failed.append([name, res])
            continue
        moved.append([name, group.name, [st.nodes[j].name for j in res.nodes]])
        jobs.append(res.ops)
    for st in states.values():
        st.to_cluster_nodes()
    return _moved_answer(moved, failed, jobs)


def _moved_answer(
    moved: list[Any], failed: list[Any], jobs: list[Any]
) -> tuple[bool, str, list[Any]]:
    """The answer of a node-evacuate or change-group request, in Ganeti's words."""
    info = (
        f"Request successful: {len(failed)} instances failed to move and "
        f"{len(moved)} were moved successfully"
    )
    return True, info, [moved, failed, jobs]


def _evacuate_one(st: GroupState, i: int, mode: str, soft: bool, avail: BArr) -> _Moved | str:
    """Move instance ``i`` as ``mode`` says, onto ``avail`` nodes; the move, or why not."""
    inst = st.instances[i]
    if inst.template == DiskTemplate.PLAIN:
        return "Instances of type plain cannot be relocated"
    if inst.template == DiskTemplate.FILE:
        return "Instances of type file cannot be relocated"
    if not inst.mirror_internal:
        if mode == "secondary-only":
            return f"Instances with disk template '{inst.template}' can't execute change secondary"
        return _one_node(st, i, MoveKind.FAILOVER_TO_ANY, soft, avail)
    if st.snode[i] < 0:
        return "Can't relocate/evacuate non-mirrored instances"
    if mode == "primary-only":
        return _failover(st, i, soft)
    if mode == "secondary-only":
        return _one_node(st, i, MoveKind.REPLACE_SECONDARY, soft, avail)
    return _drbd_all(st, i, soft, avail)


def _forced(st: GroupState, node: int) -> BArr:
    """Ganeti forces a move (soft checks off) when the node it leaves is offline."""
    return np.array([[bool(st.offline[node])]])


def _migration_ok(st: GroupState, src: int, dst: IArr) -> BArr:
    """Whether the instance may migrate from ``src`` to each of ``dst`` (migration tags)."""
    res: BArr = st.mig_ok[src, dst]
    return res


def _step_failures(ev: Evaluator, kind: MoveKind, i: int, soft: bool, cols: IArr) -> SArr:
    """Ganeti's failure mode (or "") of move ``kind`` of instance ``i`` onto each of ``cols``."""
    st = ev.state
    idx = np.array([i])
    views, checks, _target, _extra, _p, _s = prepare_kind(ev, kind, idx, cols)
    p, s = int(st.pnode[i]), int(st.snode[i])
    if kind is MoveKind.REPLACE_SECONDARY:
        # Ganeti: addSec on the target, forced when the old secondary is offline;
        # then the primary is re-read, which fails where it has no memory or
        # disk left (always on an offline primary: a new secondary needs the
        # primary's data)
        fails = ev.failures(views, idx, soft, _forced(st, s))[0]
        short = ~spindles_fit(st, st.instances[i].spindles)[cols]
        fails = np.where((fails == "") & short, "FailSpindles", fails)
        return np.where(fails == "", _primary_reread(st, i), fails)
    # Ganeti checks the migration, then the new primary (addPri), then the
    # old primary as the new secondary (not at all when it is offline)
    gaining = [v for v in views if v.gain_p]
    if kind is MoveKind.REPLACE_AND_FAILOVER:
        # the new primary held the secondary a moment before (step 1): giving it
        # up re-derives its N+1 flag, which is what Ganeti's check then reads
        for v in gaining:
            v.lost = True
    if not st.offline[p]:
        gaining += [v for v in views if v.gain_s and not v.gain_p]
    fails = ev.failures(gaining + checks, idx, soft, _forced(st, p), to_offline=True)[0]
    dst = np.array([s]) if kind is MoveKind.FAILOVER else cols
    fails = np.where(_migration_ok(st, p, dst), fails, "FailMig")
    return np.broadcast_to(fails, cols.shape)


def _primary_reread(st: GroupState, i: int) -> str:
    """Ganeti re-reads the primary after a new secondary: no memory or disk left fails.

    That is always the case on an offline primary (a new secondary needs
    the primary's data to copy).
    """
    p = int(st.pnode[i])
    if st.fmem[p] <= 0:
        return "FailMem"
    if st.local[i] and st.fdsk[p] <= 0:
        return "FailDisk"
    return ""


def _off_a_dead_primary(st: GroupState, i: int, soft: bool, ops: list[dict[str, Any]]) -> str:
    """Ganeti first fails an instance on an offline primary over to its secondary.

    The failover is applied to ``st`` and its opcodes added to ``ops``; a
    refusal is returned in Ganeti's words ("" when all went well).
    """
    if not st.offline[st.pnode[i]]:
        return ""
    why = _step_failures(Evaluator(st), MoveKind.FAILOVER, i, soft, st.snode[i : i + 1])[0]
    if why:
        return f"{_ALL_FAILED}: Allocation failed: Failing over to the secondary: {why}"
    st.move(i, int(st.snode[i]), int(st.pnode[i]))
    ops += opcodes(MoveKind.FAILOVER, st.instances[i].name, "", MIGRATE)
    return ""


def _last_best(scores: Arr) -> int:
    """Index of the lowest score, the last one among ties (Ganeti's fold keeps the last)."""
    low = float(scores.min())
    ties = np.flatnonzero(scores <= low + SCORE_EPS * max(1.0, abs(low)))
    return int(ties[-1])


def _one_node(st: GroupState, i: int, kind: MoveKind, soft: bool, avail: BArr) -> _Moved | str:
    """Ganeti's evacOneNodeOnly: the best new secondary (DRBD) or new node (shared storage)."""
    ev = Evaluator(st)
    cols = np.flatnonzero(avail)
    inst = st.instances[i]
    p = int(st.pnode[i])
    if not len(cols):
        return f"{_NONE_GOOD}: "
    fails = _step_failures(ev, kind, i, soft, cols)
    good = fails == ""
    if not good.any():
        names = [st.nodes[t].name for t in cols]
        why = "".join(f" Node {n} failed: {m};" for n, m in zip(names, fails, strict=True))
        return f"{_NONE_GOOD}: {why}"
    idx = np.array([i])
    views, _checks, target, extra, _p, _s = prepare_kind(ev, kind, idx, cols)
    assert target is not None
    scores = ev.score_split([v for v in views if v is not target], target, extra)[0]
    scores = np.where(good, np.broadcast_to(scores, cols.shape), np.inf)
    t = int(cols[_last_best(scores)])
    if kind is MoveKind.REPLACE_SECONDARY:
        st.move(i, p, t)
        return _Moved([p, t], opcodes(kind, inst.name, st.nodes[t].name, MIGRATE))
    st.move(i, t, -1)
    return _Moved([t], opcodes(kind, inst.name, st.nodes[t].name, MIGRATE))


def _failover(st: GroupState, i: int, soft: bool) -> _Moved | str:
    """A DRBD instance leaving its primary fails over to its secondary."""
    ev = Evaluator(st)
    inst = st.instances[i]
    p, s = int(st.pnode[i]), int(st.snode[i])
    why = _step_failures(ev, MoveKind.FAILOVER, i, soft, np.array([s]))[0]
    if why:
        return str(why)
    st.move(i, s, p)
    return _Moved([s, p], opcodes(MoveKind.FAILOVER, inst.name, "", MIGRATE))


def _drbd_all(st: GroupState, i: int, soft: bool, avail: BArr) -> _Moved | str:
    """Ganeti's change-all: the best (primary, secondary) pair reached in three steps."""
    inst = st.instances[i]
    ops: list[dict[str, Any]] = []
    cols = np.flatnonzero(avail)
    if len(cols) < 2:
        return f"{_ALL_FAILED}: no nodes available"
    why = _off_a_dead_primary(st, i, soft, ops)
    if why:
        return why
    p, s = int(st.pnode[i]), int(st.snode[i])
    ev = Evaluator(st)
    # steps 1 and 2 depend on the future primary only
    first = _step_failures(ev, MoveKind.REPLACE_SECONDARY, i, soft, cols)
    second = _step_failures(ev, MoveKind.REPLACE_AND_FAILOVER, i, soft, cols)
    rows = cols[(first == "") & (second == "")]
    best = _best_pair(ev, i, soft, rows, cols)
    if best is None:
        why = _last_pair_failure(ev, i, soft, cols, first, second)
        if ops:
            st.move(i, s, p)  # undo the failover: the instance stays where it was
        return f"{_ALL_FAILED}: Allocation failed: {why}"
    t1, t2 = best
    st.move(i, t1, t2)
    name = inst.name
    ops += opcodes(MoveKind.REPLACE_SECONDARY, name, st.nodes[t1].name, MIGRATE)
    ops += opcodes(MoveKind.FAILOVER, name, "", MIGRATE)
    ops += opcodes(MoveKind.REPLACE_SECONDARY, name, st.nodes[t2].name, MIGRATE)
    return _Moved([t1, t2], ops)


def _pair_views(
    ev: Evaluator, i: int, rows: IArr, cols: IArr
) -> tuple[list[NodeView], NodeView, Arr]:
    """Views of instance ``i`` moved to (``rows[r]``, ``cols[c]``), and the extra score.

    The fixed views (old primary, old secondary, new primary) are shaped
    (R, 1), the new secondary's (1, C): it gains the secondary role with the
    row's node as peer, so its reserved memory is (R, C).
    """
    st = ev.state
    r = len(rows)
    idx = np.full(r, i)
    v = ev.inst_vec(idx)
    p = np.full((r, 1), st.pnode[i])
    s = np.full((r, 1), st.snode[i])
    t1 = rows[:, None]
    t2 = cols[None, :]
    pv, sv, pri = NodeView(ev, p), NodeView(ev, s), NodeView(ev, t1)
    pv.lose_primary(v)
    sv.change_secondary(ev, v, p, None)
    pri.gain_primary(v)
    sec = NodeView(ev, t2)
    sec.change_secondary(ev, v, None, t1)
    w = WEIGHTS["pri_tags_score"]
    extra = -w * ev.tag_drop(idx, st.pnode[idx])[:, None] + w * ev.tag_gain(idx, t1)
    extra = extra + ev.location_delta(idx, t1, t2)
    return [pv, sv, pri], sec, extra


def _pair_valid(ev: Evaluator, i: int, soft: bool, sec: NodeView, rows: IArr, cols: IArr) -> BArr:
    """Step 3 (the final secondary) is possible, for each (row, column) pair."""
    st = ev.state
    idx = np.full(len(rows), i)
    # the old secondary at that point is the old primary: forced if it is offline
    forced = np.full((len(rows), 1), bool(st.offline[st.pnode[i]]))
    ok = ev.valid([sec], idx, soft, forced)
    fits = spindles_fit(st, st.instances[i].spindles)[cols][None, :]
    res: BArr = ok & fits & (rows[:, None] != cols[None, :])
    return res


def _best_pair(ev: Evaluator, i: int, soft: bool, rows: IArr, cols: IArr) -> tuple[int, int] | None:
    """The (primary, secondary) of ``rows`` x ``cols`` with the lowest score, the last among ties.

    Rows are scored in blocks, most promising first by their lower bound
    (:meth:`Evaluator.score_bound`); once a row's bound is above the best
    score found, no later row can win.
    """
    if not len(rows):
        return None
    fixed, sec, extra = _pair_views(ev, i, rows, cols)
    bounds = ev.score_bound(fixed, sec, extra)
    order = np.argsort(bounds, kind="stable")
    bounds = bounds[order]
    block = max(1, PAIR_CELLS // len(cols))
    best = np.inf
    key = (-1, -1)
    for start in range(0, len(rows), block):
        if bounds[start] > best + BOUND_MARGIN * max(1.0, abs(best)):
            break
        pos = np.sort(order[start : start + block])
        sub = rows[pos]
        fixed, sec, extra = _pair_views(ev, i, sub, cols)
        scores = ev.score_split(fixed, sec, extra)
        scores = np.where(_pair_valid(ev, i, soft, sec, sub, cols), scores, np.inf)
        low = float(scores.min())
        if not np.isfinite(low):
            continue
        if low < best - SCORE_EPS * max(1.0, abs(best)):
            best, key = low, (-1, -1)
        if low <= best + SCORE_EPS * max(1.0, abs(best)):
            flat = _last_best(scores.ravel())
            r, c = divmod(flat, len(cols))
            key = max(key, (int(pos[r]), c))
            best = min(best, low)
    if key[0] < 0:
        return None
    return int(rows[key[0]]), int(cols[key[1]])


def _last_pair_failure(
    ev: Evaluator, i: int, soft: bool, cols: IArr, first: SArr, second: SArr
) -> str:
    """Why Ganeti's last pair (the last two nodes) failed: the step and its failure mode."""
    if first[-1]:
        return f"Changing secondary to new primary: {first[-1]}"
    if second[-1]:
        return f"Failing over to new primary: {second[-1]}"
    st = ev.state
    t1, t2 = cols[-1:], cols[-2:-1]
    _fixed, sec, _extra = _pair_views(ev, i, t1, t2)
    forced = np.array([[bool(st.offline[st.pnode[i]])]])
    why = str(ev.failures([sec], np.array([i]), soft, forced)[0, 0])
    if not why and not spindles_fit(st, st.instances[i].spindles)[t2[0]]:
        why = "FailSpindles"
    return f"Changing secondary to final secondary: {why}"


def scores_after(cluster: Cluster, moved: list[Any]) -> dict[str, float]:
    """Each touched group's score once a node-evacuate answer's moves are applied.

    ``moved`` is the answer's first part, ``[instance, group, [primary,
    secondary?]]`` entries (the instances stay in their groups). This is how
    two answers to one request (Ganeti's and ours) are compared.
    """
    by_name = {inst.name: inst for inst in cluster.instances}
    states: dict[str, GroupState] = {}
    for name, _group, nodes in moved:
        uuid = group_of(cluster, by_name[name]).uuid
        st = states.get(uuid)
        if st is None:
            st = states[uuid] = group_state(cluster, uuid, None)
        new_s = st.node_index[nodes[1]] if len(nodes) > 1 else -1
        st.move(st.inst_index[name], st.node_index[nodes[0]], new_s)
    return {uuid: score(st) for uuid, st in sorted(states.items())}


# ------------------------------------------------------------------ change-group


def change_group(cluster: Cluster, req: Request, opts: AllocOptions) -> tuple[bool, str, list[Any]]:
    """change-group: each instance to the best other group, as Ganeti's hail moves it.

    The group is the one where the instance would be allocated best (by
    allocation policy, then score); there the instance is placed as a
    change-all evacuation places it (:func:`_into_group`).
    """
    by_name = {inst.name: inst for inst in cluster.instances}
    listed = [by_name[n] for n in req.instances if n in by_name]
    leaving = {group_of(cluster, inst).uuid for inst in listed}
    wanted = set(req.target_groups) if req.target_groups else {g.uuid for g in cluster.groups}
    targets = [g for g in cluster.groups if g.uuid in wanted and g.uuid not in leaving]
    search = AllocOptions(model=opts.model, no_capacity_checks=True)
    moved: list[Any] = []
    failed: list[Any] = []
    jobs: list[Any] = []
    for name in req.instances:
        inst = by_name.get(name)
        if inst is None:
            failed.append([name, f"Instance {name} not found"])
            continue
        group = _best_group(cluster, inst, targets, search)
        if isinstance(group, str):
            failed.append([name, group])
            continue
        res = _into_group(cluster, inst, group, opts.model.ignore_soft_errors)
        if isinstance(res, str):
            failed.append([name, res])
            continue
        moved.append([name, group.name, res.names])
        jobs.append(res.ops)
    return _moved_answer(moved, failed, jobs)


def _best_group(
    cluster: Cluster, inst: Instance, targets: list[Group], opts: AllocOptions
) -> Group | str:
    """Where ``inst`` would be allocated best (Ganeti's findBestAllocGroup), or why nowhere."""
    from corral_htools.ialloc import NewInstance

    if not targets:
        return "no groups for evacuation: no target group (other than the instances' own)"
    new = NewInstance.from_instance(inst)
    results = [allocate_in_group(cluster, g, new, opts)[0] for g in targets]
    good = sorted((r for r in results if r.nodes), key=lambda r: r.rank())
    if not good:
        return ", ".join(r.describe() for r in results)
    return good[0].group


@dataclass
class _Arrived:
    names: list[str]
    ops: list[dict[str, Any]]


def _into_group(cluster: Cluster, inst: Instance, group: Group, soft: bool) -> _Arrived | str:
    """Ganeti's change-all evacuation of ``inst`` into ``group``; the cluster records follow.

    A DRBD instance takes the best (primary, secondary) pair of the group
    reached through Ganeti's three steps, a shared-storage one the best node;
    the target group's score decides.
    """
    if inst.template == DiskTemplate.PLAIN:
        return "Instances of type plain cannot be relocated"
    if inst.template == DiskTemplate.FILE:
        return "Instances of type file cannot be relocated"
    src = group_state(cluster, group_of(cluster, inst).uuid, None)
    j = src.inst_index[inst.name]
    if inst.mirror_internal and src.snode[j] < 0:
        return "Can't relocate/evacuate non-mirrored instances"
    nodes = [n for n in cluster.nodes if n.group == group.uuid]
    arriving = copy.copy(inst)
    arriving.pnode = arriving.snode = ""
    names = {n.name for n in nodes}
    others = [i for i in cluster.instances if i.pnode in names]
    dst = GroupState(cluster, nodes, [*others, arriving], cluster.policy_of(group), src.opts)
    i = dst.m - 1
    cols = np.flatnonzero(dst.online)
    if inst.mirror_internal:
        got = _drbd_into(src, j, dst, i, cols, soft)
    else:
        got = _shared_into(src, j, dst, i, cols, soft)
    if isinstance(got, str):
        return got
    ops, t1, t2 = got
    dst.move(i, t1, t2)
    src.move(j, -1, -1)
    src.to_cluster_nodes()
    dst.to_cluster_nodes()
    inst.pnode, inst.snode = arriving.pnode, arriving.snode
    return _Arrived([dst.nodes[t].name for t in (t1, t2) if t >= 0], ops)


def _migration_into(src: GroupState, p: int, dst: GroupState, cols: IArr) -> BArr:
    """Whether the instance may migrate from ``p`` (source group) onto each of ``cols``."""
    mig = migration_matrix(src.cluster, [src.nodes[p]], [dst.nodes[t] for t in cols])
    return np.ones(len(cols), dtype=bool) if mig is None else mig[0]


def _primary_gives_way(src: GroupState, j: int, soft: bool) -> str:
    """Ganeti's check of the old primary becoming the secondary of a node outside its group."""
    ev = Evaluator(src)
    idx = np.array([j])
    v = ev.inst_vec(idx)
    p = int(src.pnode[j])
    pv = NodeView(ev, np.array([[p]]))
    pv.lose_primary(v)
    pv.change_secondary(ev, v, None, np.array([[-1]]))
    if src.offline[p]:
        return ""
    return str(ev.failures([pv], idx, soft, np.array([[False]]), to_offline=True)[0, 0])


def _drbd_into(
    src: GroupState, j: int, dst: GroupState, i: int, cols: IArr, soft: bool
) -> tuple[list[dict[str, Any]], int, int] | str:
    """The change-all pair search for a DRBD instance arriving in ``dst`` (see _drbd_all)."""
    inst = src.instances[j]
    ops: list[dict[str, Any]] = []
    if len(cols) < 2:
        return f"{_ALL_FAILED}: no nodes available"
    why = _off_a_dead_primary(src, j, soft, ops)
    if why:
        return why
    p, s = int(src.pnode[j]), int(src.snode[j])
    ev = Evaluator(dst)
    idx = np.array([i])
    v = ev.inst_vec(idx)
    fits = spindles_fit(dst, inst.spindles)[cols]
    # step 1: a new secondary (the future primary) for the primary outside
    step1 = NodeView(ev, cols[None, :])
    step1.change_secondary(ev, v, None, np.full((1, len(cols)), -1))
    first = ev.failures([step1], idx, soft, _forced(src, s))[0]
    first = np.where((first == "") & ~fits, "FailSpindles", first)
    first = np.where(first == "", _primary_reread(src, j), first)
    # step 2: failover onto it (migration, its new primary role, then the old primary)
    pri = NodeView(ev, cols[None, :])
    pri.gain_primary(v)
    pri.lost = True  # it held the secondary a moment before (see _step_failures)
    second = ev.failures([pri], idx, soft, _forced(src, p), to_offline=True)[0]
    second = np.where(second == "", _primary_gives_way(src, j, soft), second)
    second = np.where(_migration_into(src, p, dst, cols), second, "FailMig")
    rows = cols[(first == "") & (second == "")]
    best = _best_arrival(ev, i, soft, rows, cols, fits)
    if best is None:
        if first[-1]:
            why = f"Changing secondary to new primary: {first[-1]}"
        elif second[-1]:
            why = f"Failing over to new primary: {second[-1]}"
        else:
            sec = NodeView(ev, cols[None, -2:-1])
            sec.change_secondary(ev, v, None, cols[None, -1:])
            mode = str(ev.failures([sec], idx, soft, np.array([[False]]))[0, 0])
            why = f"Changing secondary to final secondary: {mode or 'FailSpindles'}"
        if ops:
            src.move(j, s, p)
        return f"{_ALL_FAILED}: Allocation failed: {why}"
    t1, t2 = best
    name = inst.name
    ops += opcodes(MoveKind.REPLACE_SECONDARY, name, dst.nodes[t1].name, MIGRATE)
    ops += opcodes(MoveKind.FAILOVER, name, "", MIGRATE)
    ops += opcodes(MoveKind.REPLACE_SECONDARY, name, dst.nodes[t2].name, MIGRATE)
    return ops, t1, t2


def _best_arrival(
    ev: Evaluator, i: int, soft: bool, rows: IArr, cols: IArr, fits: BArr
) -> tuple[int, int] | None:
    """The best valid (primary, secondary) of ``rows`` x ``cols`` for arriving instance ``i``."""
    if not len(rows):
        return None
    idx = np.full(len(rows), i)
    v = ev.inst_vec(idx)
    pri = NodeView(ev, rows[:, None])
    pri.gain_primary(v)
    sec = NodeView(ev, cols[None, :])
    sec.change_secondary(ev, v, None, rows[:, None])
    scores = ev.score_split([pri], sec, ev.arrival_delta(i, rows[:, None], cols[None, :]))
    ok = ev.valid([sec], idx, soft, np.zeros((len(rows), 1), dtype=bool))
    ok = ok & fits[None, :] & (rows[:, None] != cols[None, :])
    scores = np.where(ok, scores, np.inf)
    if not np.isfinite(scores).any():
        return None
    r, c = divmod(_last_best(scores.ravel()), len(cols))
    return int(rows[r]), int(cols[c])


def _shared_into(
    src: GroupState, j: int, dst: GroupState, i: int, cols: IArr, soft: bool
) -> tuple[list[dict[str, Any]], int, int] | str:
    """A shared-storage instance to the best node of ``dst`` (Ganeti's evacOneNodeOnly)."""
    inst = src.instances[j]
    if not len(cols):
        return f"{_NONE_GOOD}: "
    p = int(src.pnode[j])
    ev = Evaluator(dst)
    idx = np.array([i])
    v = ev.inst_vec(idx)
    tv = NodeView(ev, cols[None, :])
    tv.gain_primary(v)
    fails = ev.failures([tv], idx, soft, _forced(src, p))[0]
    fails = np.where(_migration_into(src, p, dst, cols), fails, "FailMig")
    good = fails == ""
    if not good.any():
        names = [dst.nodes[t].name for t in cols]
        why = "".join(f" Node {n} failed: {m};" for n, m in zip(names, fails, strict=True))
        return f"{_NONE_GOOD}: {why}"
    scores = ev.score_of([tv], ev.arrival_delta(i, cols[None, :], None))[0]
    scores = np.where(good, scores, np.inf)
    t = int(cols[_last_best(scores)])
    ops = opcodes(MoveKind.FAILOVER_TO_ANY, inst.name, dst.nodes[t].name, MIGRATE)
    return ops, t, -1
