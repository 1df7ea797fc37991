"""hbal's search: bulk predictions equal recomputed scores; steps only improve."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from corral_htools.balance import BalanceOptions
from corral_htools.balance import balance
from corral_htools.balance import best_move
from corral_htools.balance import bound_kind
from corral_htools.balance import cell_bound_kind
from corral_htools.balance import evaluate_kind
from corral_htools.balance import movable_instances
from corral_htools.carried import Carried
from corral_htools.carried import Snapshot
from corral_htools.cellbound import Features
from corral_htools.cost import score
from corral_htools.evaluate import Evaluator
from corral_htools.moves import DRBD_KINDS
from corral_htools.moves import MoveKind
from corral_htools.moves import new_nodes
from corral_htools.state import group_state
from corral_htools.textformat import parse_text
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

if TYPE_CHECKING:
    from numpy.typing import NDArray

    IArr = NDArray[np.int64]


#: The square root of a variance near zero magnifies the sums' rounding (1e-16) to 1e-8.
SQRT_ROUNDING = 1e-7


def _check_predictions(text: str) -> int:
    st = group_state(parse_text(text), None)
    ev = Evaluator(st)
    drbd, ext = movable_instances(st, BalanceOptions())
    checked = 0
    for kind, idx in [
        (MoveKind.FAILOVER, drbd),
        *((k, drbd) for k in DRBD_KINDS),
        (MoveKind.FAILOVER_TO_ANY, ext),
    ]:
        if len(idx) == 0:
            continue
        scores = evaluate_kind(ev, kind, idx, False, None)
        for row, i in enumerate(idx):
            for col in np.flatnonzero(np.isfinite(scores[row])):
                p, s = int(st.pnode[i]), int(st.snode[i])
                t = int(col) if scores.shape[1] > 1 else -1
                a, b = new_nodes(kind, p, s, t)
                flags = st.n1flag.copy()  # N+1 flags depend on the path (as in Ganeti)
                st.move(int(i), a, b)
                actual = score(st)
                st.move(int(i), p, s)
                st.n1flag = flags
                # the bulk formula (sums of squares) rounds differently in the last digits,
                # and a std term whose variance is near zero turns that into 1e-8
                tolerance = 1e-9 * max(1.0, actual) + SQRT_ROUNDING
                assert abs(actual - scores[row, col]) <= tolerance, (kind, int(i), t)
                checked += 1
    return checked


@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_predicted_scores_equal_recomputed(
    clusters: st.SearchStrategy[str], data: st.DataObject
) -> None:
    text = data.draw(clusters)
    _check_predictions(text)


@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_a_step_never_increases_the_score(
    clusters: st.SearchStrategy[str], data: st.DataObject
) -> None:
    text = data.draw(clusters)
    st = group_state(parse_text(text), None)
    before = score(st)
    steps = balance(st, BalanceOptions())
    previous = before
    for _move, value in steps:
        assert value < previous
        previous = value
    assert score(st) <= before


@settings(max_examples=15, deadline=None)
@given(data=st.data())
def test_no_role_is_given_to_an_offline_node(
    clusters: st.SearchStrategy[str], data: st.DataObject
) -> None:
    text = data.draw(clusters)
    st = group_state(parse_text(text), None)
    steps = balance(st, BalanceOptions())
    for move, _ in steps:
        # a node may keep its role while offline (that is being evacuated), never gain one
        assert st.online[move.new_p] or move.new_p == move.old_p
        assert move.new_s < 0 or st.online[move.new_s] or move.new_s == move.old_s
        assert move.new_p != move.new_s


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_bounds_never_exceed_a_valid_score(
    clusters: st.SearchStrategy[str], data: st.DataObject
) -> None:
    """The pruning bound of every row is at most the row's best valid score."""
    text = data.draw(clusters)
    gs = group_state(parse_text(text), None)
    ev = Evaluator(gs)
    drbd, ext = movable_instances(gs, BalanceOptions())
    for kind, idx in [*((k, drbd) for k in DRBD_KINDS), (MoveKind.FAILOVER_TO_ANY, ext)]:
        if len(idx) == 0:
            continue
        low = bound_kind(ev, kind, idx)
        best = evaluate_kind(ev, kind, idx, False, None).min(axis=1)
        slack = 1e-9 * np.maximum(1.0, np.abs(best))
        assert np.all(low <= np.where(np.isfinite(best), best + slack, np.inf))


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_cell_bounds_never_exceed_a_valid_score(
    clusters: st.SearchStrategy[str], data: st.DataObject
) -> None:
    """The per-target bound of every cell is at most the cell's score where it is valid."""
    gs = group_state(parse_text(data.draw(clusters)), None)
    ev = Evaluator(gs)
    feats = Features(ev)
    drbd, ext = movable_instances(gs, BalanceOptions())
    for kind, idx in [*((k, drbd) for k in DRBD_KINDS), (MoveKind.FAILOVER_TO_ANY, ext)]:
        if len(idx) == 0:
            continue
        low = cell_bound_kind(ev, feats, kind, idx, None)
        exact = evaluate_kind(ev, kind, idx, False, None)
        valid = np.isfinite(exact)
        slack = 1e-9 * np.maximum(1.0, np.abs(exact[valid]))
        assert np.all(low[valid] <= exact[valid] + slack)
        cols = np.array([0, gs.n - 1])
        part = cell_bound_kind(ev, feats, kind, idx, None, cols)
        # the same bounds for a subset of the targets (up to the product's rounding)
        assert np.allclose(part, low[:, cols], rtol=1e-12, atol=1e-12)


def _row_minima(ev: Evaluator, drbd: IArr, ext: IArr) -> dict[int, NDArray[np.float64]]:
    kinds = [*((k, drbd) for k in DRBD_KINDS), (MoveKind.FAILOVER_TO_ANY, ext)]
    return {
        order: evaluate_kind(ev, kind, idx, False, None).min(axis=1)
        for order, (kind, idx) in enumerate(kinds, start=1)
        if len(idx)
    }


@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_carried_bounds_stay_below_every_row_after_moves(
    clusters: st.SearchStrategy[str], data: st.DataObject
) -> None:
    """Bounds carried over several steps never exceed a row's best score, and each
    step's move is the one a search without carried bounds makes."""
    gs = group_state(parse_text(data.draw(clusters)), None)
    ev = Evaluator(gs)
    opts = BalanceOptions()
    drbd, ext = movable_instances(gs, opts)
    carry = Carried()
    for _ in range(8):
        value, move = best_move(ev, drbd, ext, opts, carry)
        assert (value, move) == best_move(ev, drbd, ext, opts)
        for order, best in _row_minima(ev, drbd, ext).items():
            kept = carry.bounds.get(order)
            if kept is None:
                continue
            ok = np.isfinite(best)
            slack = 1e-9 * np.maximum(1.0, np.abs(best[ok]))
            assert np.all(kept[ok] <= best[ok] + slack)
        if move is None or not value < score(gs):
            break
        prev = Snapshot.of(ev)
        gs.move(move.inst, move.new_p, move.new_s)
        ev.refresh()
        nodes = {move.old_p, move.old_s, move.new_p, move.new_s} - {-1}
        carry.moved(prev, np.array(sorted(nodes), dtype=np.int64))
