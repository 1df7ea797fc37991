"""hail's node-evacuate: instances leave their nodes as Ganeti's hail moves them.

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

Ties go to the last candidate in node order, as in Ganeti's fold. A failure
is reported with Ganeti's words: the step and the first check that refused
the last candidate, or every refusing node.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING
from typing import Any

import numpy as np

from corral_htools.alloc import AllocOptions
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

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from corral_htools.ialloc import Request
    from corral_htools.model import Cluster

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
        primary = ""
        if ev.q["fmem"][p] <= 0:
            primary = "FailMem"
        elif st.local[i] and ev.q["fdsk"][p] <= 0:
            primary = "FailDisk"
        return np.where(fails == "", primary, fails)
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
    if st.offline[st.pnode[i]]:
        # Ganeti first fails over to the secondary, then moves on from there
        why = _step_failures(Evaluator(st), MoveKind.FAILOVER, i, soft, st.snode[i : i + 1])[0]
        if why:
            return f"{_ALL_FAILED}: Allocation failed: Failing over to the secondary: {why}"
        st.move(i, int(st.snode[i]), int(st.pnode[i]))
        ops += opcodes(MoveKind.FAILOVER, inst.name, "", MIGRATE)
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
