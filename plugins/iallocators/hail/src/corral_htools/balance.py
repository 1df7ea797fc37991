"""hbal's search: repeatedly apply the single move that lowers the score most.

Each step bounds, per movable instance and move kind, the best score any
target could give (:meth:`Evaluator.score_bound`, cheap (instances x 1)
arrays), scores the most promising instances exactly, and then scores
exactly (:mod:`corral_htools.evaluate`, in chunks of instances so that
memory stays bounded) only the instances whose bound can still match the
best move found. The chosen move is the same as scoring every candidate.
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field
from typing import TYPE_CHECKING

import numpy as np

from corral_htools.carried import Carried
from corral_htools.carried import Snapshot
from corral_htools.carried import drift
from corral_htools.cellbound import Features
from corral_htools.cellbound import cell_bound
from corral_htools.cost import WEIGHTS
from corral_htools.cost import score
from corral_htools.evaluate import Evaluator
from corral_htools.evaluate import NodeView
from corral_htools.moves import DRBD_KINDS
from corral_htools.moves import Move
from corral_htools.moves import MoveKind
from corral_htools.moves import new_nodes

if TYPE_CHECKING:
    from collections.abc import Callable

    from numpy.typing import NDArray

    from corral_htools.state import GroupState

    Arr = NDArray[np.float64]
    IArr = NDArray[np.int64]

#: Candidate matrix cells evaluated at once (a chunk's arrays then fit in a core's cache).
CHUNK_CELLS = 65_536
#: Instances whose bounds are computed at once.
BOUND_ROWS = 4096
#: Rows of each move kind scored first, to get a score the bounds are compared with.
SEED_ROWS = 16
#: Relative slack on that score, far above the rounding of either computation (1e-14).
BOUND_MARGIN = 1e-9
#: Relative score differences below this are rounding noise of the bulk formula.
SCORE_EPS = 1e-9


@dataclass
class BalanceOptions:
    max_length: int = -1
    min_score: float = 1e-9
    min_gain: float = 0.01
    min_gain_limit: float = 0.1
    evac_mode: bool = False
    excluded: frozenset[str] = frozenset()
    no_disk_moves: bool = False
    no_instance_moves: bool = False
    ignore_soft_errors: bool = False
    #: instances on offline/drained primaries may not end with a migration to a new node
    restricted_migration: bool = False
    restrict_to_nodes: frozenset[str] = field(default_factory=frozenset)


_ENDS_IN_MIGRATION = (MoveKind.REPLACE_PRIMARY, MoveKind.REPLACE_AND_FAILOVER)


def movable_instances(state: GroupState, opts: BalanceOptions) -> tuple[IArr, IArr]:
    """Indices of the DRBD and the shared-storage instances hbal may move."""
    # instance specs are not checked here: Ganeti's hbal moves instances outside the
    # policy's min/max too (only the nodes' cpu and spindle ratios limit moves)
    ok = np.array([inst.name not in opts.excluded for inst in state.instances], dtype=bool)
    ok &= (state.pnode >= 0) & state.auto_balance
    if opts.evac_mode:
        bad = state.offline
        on_bad = bad[np.clip(state.pnode, 0, None)] | (
            (state.snode >= 0) & bad[np.clip(state.snode, 0, None)]
        )
        ok &= on_bad
    drbd = np.flatnonzero(ok & state.drbd & (state.snode >= 0))
    # Ganeti's hbal leaves diskless instances where they are
    ext = np.flatnonzero(ok & state.external & ~state.diskless)
    return drbd, ext


def _views_drbd(
    ev: Evaluator, kind: MoveKind, idx: IArr, cols: IArr | None = None
) -> tuple[list[NodeView], list[NodeView], NodeView | None, IArr, IArr]:
    """Node views (scored, checked only) of a move kind for instances ``idx`` x targets.

    The view of the target node (every node, or the nodes ``cols``, one per
    column) is also returned on its own: it is scored by its changes
    (:meth:`Evaluator.score_split`).

    Replacing the primary runs the instance on its secondary for a while, so
    that intermediate state must be feasible too (Ganeti checks it as well).
    """
    st = ev.state
    v = ev.inst_vec(idx)
    p = st.pnode[idx][:, None]
    s = st.snode[idx][:, None]
    t = (np.arange(st.n) if cols is None else cols)[None, :]
    views: list[NodeView] = []
    checks: list[NodeView] = []
    tv: NodeView | None = None
    if kind is MoveKind.FAILOVER:
        pv, sv = NodeView(ev, p), NodeView(ev, s)
        pv.lose_primary(v)
        pv.change_secondary(ev, v, None, s)
        sv.change_secondary(ev, v, p, None)
        sv.gain_primary(v)
        views = [pv, sv]
        new_p, new_s = s, p
    elif kind is MoveKind.REPLACE_SECONDARY:
        sv, tv = NodeView(ev, s), NodeView(ev, t)
        sv.change_secondary(ev, v, p, None)
        tv.change_secondary(ev, v, None, p)
        views = [sv, tv]
        new_p, new_s = p, t
    elif kind is MoveKind.REPLACE_PRIMARY:
        pv, sv, tv = NodeView(ev, p), NodeView(ev, s), NodeView(ev, t)
        pv.lose_primary(v)
        sv.change_secondary(ev, v, p, t)
        tv.gain_primary(v)
        views = [pv, sv, tv]
        new_p, new_s = t, s
        interim = NodeView(ev, s)
        interim.change_secondary(ev, v, p, None)
        interim.gain_primary(v)
        checks = [interim]
    elif kind is MoveKind.REPLACE_AND_FAILOVER:
        pv, sv, tv = NodeView(ev, p), NodeView(ev, s), NodeView(ev, t)
        sv.change_secondary(ev, v, p, None)
        pv.lose_primary(v)
        pv.change_secondary(ev, v, None, t)
        tv.gain_primary(v)
        views = [sv, pv, tv]
        new_p, new_s = t, p
    elif kind is MoveKind.FAILOVER_AND_REPLACE:
        pv, sv, tv = NodeView(ev, p), NodeView(ev, s), NodeView(ev, t)
        pv.lose_primary(v)
        sv.change_secondary(ev, v, p, None)
        sv.gain_primary(v)
        tv.change_secondary(ev, v, None, s)
        views = [pv, sv, tv]
        new_p, new_s = s, t
    else:
        pv, tv = NodeView(ev, p), NodeView(ev, t)
        pv.lose_primary(v)
        tv.gain_primary(v)
        views = [pv, tv]
        new_p, new_s = t, np.full_like(t, -1)
    return views, checks, tv, np.asarray(new_p), np.asarray(new_s)


def prepare_kind(
    ev: Evaluator, kind: MoveKind, idx: IArr, cols: IArr | None = None
) -> tuple[list[NodeView], list[NodeView], NodeView | None, Arr, IArr, IArr]:
    """Views of ``kind`` for instances ``idx`` (targets ``cols``) and the tag/location change.

    Returns the views (scored), the views only checked, the target's view
    (or None), the extra score of tags and locations, and the new primary
    and secondary index arrays.
    """
    st = ev.state
    views, checks, target, new_p, new_s = _views_drbd(ev, kind, idx, cols)
    extra = np.zeros((len(idx), 1))
    if kind is not MoveKind.REPLACE_SECONDARY:
        extra = extra - WEIGHTS["pri_tags_score"] * ev.tag_drop(idx, st.pnode[idx])[:, None]
        extra = extra + WEIGHTS["pri_tags_score"] * ev.tag_gain(
            idx, np.broadcast_to(new_p, (len(idx), new_p.shape[1]))
        )
    extra = extra + ev.location_delta(idx, new_p, new_s)
    return views, checks, target, extra, new_p, new_s


def evaluate_kind(
    ev: Evaluator, kind: MoveKind, idx: IArr, soft: bool, allowed: NDArray[np.bool_] | None
) -> Arr:
    """Scores of ``kind`` for instances ``idx`` (rows) and targets (columns); inf if invalid."""
    st = ev.state
    views, checks, target, extra, _, _ = prepare_kind(ev, kind, idx)
    p = st.pnode[idx][:, None]
    s = st.snode[idx][:, None]
    if target is None:
        scores = ev.score_of(views, extra)
    else:
        scores = ev.score_split([v for v in views if v is not target], target, extra)
    ok = ev.valid(views + checks, idx, soft)
    if st.has_migration_tags:
        t_all = np.arange(st.n)[None, :]
        mig = st.mig_ok
        ok = (
            ok
            & {
                MoveKind.FAILOVER: mig[p, s],
                MoveKind.REPLACE_PRIMARY: mig[p, s] & mig[s, t_all],
                MoveKind.REPLACE_SECONDARY: True,
                MoveKind.REPLACE_AND_FAILOVER: mig[p, t_all],
                MoveKind.FAILOVER_AND_REPLACE: mig[p, s],
                MoveKind.FAILOVER_TO_ANY: mig[p, t_all],
            }[kind]
        )
    if kind is not MoveKind.FAILOVER:
        t = np.arange(st.n)[None, :]
        ok = ok & (t != p) & (t != s)
        if allowed is not None:
            ok = ok & allowed[None, :]
    scores = np.where(np.broadcast_to(ok, scores.shape), scores, np.inf)
    return np.asarray(scores, dtype=np.float64)


def bound_kind(ev: Evaluator, kind: MoveKind, idx: IArr) -> Arr:
    """Per instance of ``idx``, a lower bound of every score :func:`evaluate_kind` gives."""
    views, _, target, extra, _, _ = prepare_kind(ev, kind, idx)
    if target is None:
        low: Arr = np.asarray(ev.score_of(views, extra), dtype=np.float64).min(axis=1)
        return low
    res: Arr = ev.score_bound([v for v in views if v is not target], target, extra)
    return res


class _Search:
    """Candidates of one step, evaluated row subset by row subset.

    Ties go to the first candidate in (kind, instance, target) order, as if
    every kind were one matrix evaluated in turn.
    """

    def __init__(self, ev: Evaluator, opts: BalanceOptions) -> None:
        st = ev.state
        self.ev = ev
        self.opts = opts
        self.allowed: NDArray[np.bool_] | None = None
        if opts.restrict_to_nodes:
            names = opts.restrict_to_nodes
            self.allowed = np.array([n.name in names for n in st.nodes], dtype=bool)
        self.chunk = max(1, CHUNK_CELLS // max(1, st.n))
        self.score = np.inf
        self.key: tuple[int, int, int] = (0, 0, 0)
        self.move: Move | None = None

    def run(self, order: int, kind: MoveKind, cand: IArr, rows: IArr) -> None:
        st = self.ev.state
        for start in range(0, len(rows), self.chunk):
            pos = rows[start : start + self.chunk]
            idx = cand[pos]
            scores = evaluate_kind(self.ev, kind, idx, self.opts.ignore_soft_errors, self.allowed)
            if self.opts.restricted_migration and kind in _ENDS_IN_MIGRATION:
                scores[st.offline[st.pnode[idx]]] = np.inf
            if scores.size == 0:
                continue
            flat = int(np.argmin(scores))
            value = float(scores.flat[flat])
            row, col = divmod(flat, scores.shape[1])
            key = (order, int(pos[row]), col)
            if not (value < self.score or (value == self.score and key < self.key)):
                continue
            i = int(idx[row])
            p, s = int(st.pnode[i]), int(st.snode[i])
            t = -1 if scores.shape[1] == 1 else col
            np_, ns = new_nodes(kind, p, s, t)
            self.score, self.key = value, key
            self.move = Move(i, kind, t, p, s, np_, ns)


def cell_bound_kind(
    ev: Evaluator,
    feats: Features,
    kind: MoveKind,
    idx: IArr,
    allowed: NDArray[np.bool_] | None,
    cols: IArr | None = None,
) -> Arr:
    """Per (instance of ``idx``, target) a lower bound of the score :func:`evaluate_kind` gives.

    Targets: every node, or the nodes ``cols``. Targets the move can never
    use (its own nodes, offline or disallowed nodes) are inf.
    """
    st = ev.state
    views, _, target, extra, _, _ = prepare_kind(ev, kind, idx, cols)
    assert target is not None
    low = cell_bound(ev, feats, [v for v in views if v is not target], target, extra, cols)
    t = (np.arange(st.n) if cols is None else cols)[None, :]
    bad = (t == st.pnode[idx][:, None]) | (t == st.snode[idx][:, None])
    if allowed is not None:
        bad = bad | ~allowed[t]
    low[bad] = np.inf
    return low


def drift_kind(ev: Evaluator, feats: Features, kind: MoveKind, idx: IArr, prev: Snapshot) -> Arr:
    """Per instance of ``idx``, the least change of its untouched cells' scores since ``prev``."""
    views, _, target, _, _, _ = prepare_kind(ev, kind, idx)
    assert target is not None
    return drift(ev, feats, [v for v in views if v is not target], target, prev)


def _carry_over(
    ev: Evaluator,
    feats: Features,
    plans: list[tuple[MoveKind, IArr]],
    carry: Carried,
    search: _Search,
) -> None:
    """Bring the carried bounds up to date after the last move (:mod:`corral_htools.carried`)."""
    st = ev.state
    prev, touched = carry.prev, carry.touched
    if prev is None or touched is None:
        return  # no move since the bounds were made
    carry.prev = carry.touched = None
    if ev.loc_excl is not None:
        carry.bounds.clear()  # exclusion counts per location change with any move
        return
    for order, low in carry.bounds.items():
        kind, cand = plans[order]
        hit = np.isin(st.pnode[cand], touched) | np.isin(st.snode[cand], touched)
        low[hit] = -np.inf
        rows = np.flatnonzero(np.isfinite(low))
        for start in range(0, len(rows), BOUND_ROWS):
            pos = rows[start : start + BOUND_ROWS]
            idx = cand[pos]
            moved = low[pos] + drift_kind(ev, feats, kind, idx, prev)
            fresh = cell_bound_kind(ev, feats, kind, idx, search.allowed, touched).min(axis=1)
            low[pos] = np.minimum(moved, fresh)


def best_move(
    ev: Evaluator, drbd: IArr, ext: IArr, opts: BalanceOptions, carry: Carried | None = None
) -> tuple[float, Move | None]:
    """The lowest-scoring allowed move over all candidates.

    Instances whose lower bound (:func:`bound_kind`) already exceeds a score
    found are skipped: the best few rows of every kind are scored first.
    The rows left get a bound per target (:func:`cell_bound_kind`) and are
    scored in the order of their least one, as long as it can still beat or
    tie the best score found so far. With ``carry``, those per-row bounds
    are kept for the next step, which then bounds only what the move touched
    afresh.
    """
    search = _Search(ev, opts)
    carry = Carried() if carry is None else carry
    plans: list[tuple[MoveKind, IArr]] = [(MoveKind.FAILOVER, drbd)]
    if not opts.no_disk_moves:
        plans += [(kind, drbd) for kind in DRBD_KINDS]
        plans.append((MoveKind.FAILOVER_TO_ANY, ext))
    bounds: list[Arr | None] = []
    for order, (kind, cand) in enumerate(plans):
        if kind is MoveKind.FAILOVER or len(cand) == 0:
            search.run(order, kind, cand, np.arange(len(cand)))
            bounds.append(None)
            continue
        parts = [
            bound_kind(ev, kind, cand[start : start + BOUND_ROWS])
            for start in range(0, len(cand), BOUND_ROWS)
        ]
        bounds.append(np.concatenate(parts))
    feats = Features(ev)
    _carry_over(ev, feats, plans, carry, search)
    for order, b in enumerate(bounds):
        kept = carry.bounds.get(order)
        if b is not None and kept is not None:
            bounds[order] = np.maximum(b, kept)
    seeded: list[IArr] = []
    for order, (kind, cand) in enumerate(plans):
        b = bounds[order]
        if b is None:
            seeded.append(np.zeros(0, dtype=np.int64))
            continue
        seed = np.sort(np.argsort(b, kind="stable")[:SEED_ROWS])
        search.run(order, kind, cand, seed)
        seeded.append(seed)
    orders: list[IArr] = []
    positions: list[IArr] = []
    lows: list[Arr] = []
    for order, (kind, cand) in enumerate(plans):
        b = bounds[order]
        if b is None:
            continue
        keep = b <= _limit(search.score)
        keep[seeded[order]] = False
        rows = np.flatnonzero(keep)
        for start in range(0, len(rows), search.chunk):
            pos = rows[start : start + search.chunk]
            low = cell_bound_kind(ev, feats, kind, cand[pos], search.allowed).min(axis=1)
            carry.bounds.setdefault(order, np.full(len(cand), -np.inf))[pos] = low
            orders.append(np.full(len(pos), order, dtype=np.int64))
            positions.append(pos)
            lows.append(low)
    if not lows:
        return search.score, search.move
    all_orders = np.concatenate(orders)
    all_pos = np.concatenate(positions)
    all_lows = np.concatenate(lows)
    ranked = np.argsort(all_lows, kind="stable")
    for start in range(0, len(ranked), search.chunk):
        batch = ranked[start : start + search.chunk]
        batch = batch[all_lows[batch] <= _limit(search.score)]
        if len(batch) == 0:
            break
        for order in np.unique(all_orders[batch]):
            kind, cand = plans[int(order)]
            pos = np.sort(all_pos[batch[all_orders[batch] == order]])
            search.run(int(order), kind, cand, pos)
    return search.score, search.move


def _limit(best: float) -> float:
    """The largest bound that may still belong to a move scoring ``best`` or less."""
    return best + BOUND_MARGIN * max(1.0, abs(best))


def balance(
    state: GroupState,
    opts: BalanceOptions,
    on_step: Callable[[int, Move, float], None] | None = None,
) -> list[tuple[Move, float]]:
    """Run hbal's greedy search on ``state`` (changed in place); return the steps."""
    steps: list[tuple[Move, float]] = []
    if opts.no_instance_moves:
        return steps
    ev = Evaluator(state)
    carry = Carried()
    current = score(state)
    drbd, ext = movable_instances(state, opts)
    while opts.max_length < 0 or len(steps) < opts.max_length:
        if current <= opts.min_score:
            break
        value, move = best_move(ev, drbd, ext, opts, carry)
        # float noise: a "gain" below SCORE_EPS is an equal score, not progress
        if move is None or not value < current - SCORE_EPS * max(1.0, current):
            break
        if current <= opts.min_gain_limit and not current - value > opts.min_gain:
            break
        prev = Snapshot.of(ev)
        state.move(move.inst, move.new_p, move.new_s)
        ev.refresh()
        nodes = {move.old_p, move.old_s, move.new_p, move.new_s} - {-1}
        carry.moved(prev, np.array(sorted(nodes), dtype=np.int64))
        current = score(state)
        steps.append((move, current))
        if on_step is not None:
            on_step(len(steps), move, current)
    return steps
