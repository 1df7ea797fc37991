"""hbal's search: bulk predictions equal recomputed scores; steps only improve."""

from __future__ import annotations

import numpy as np
from corral_htools.balance import BalanceOptions
from corral_htools.balance import balance
from corral_htools.balance import bound_kind
from corral_htools.balance import evaluate_kind
from corral_htools.balance import movable_instances
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
                # the bulk formula (sums of squares) rounds differently in the last digits
                assert abs(actual - scores[row, col]) <= 1e-9 * max(1.0, actual), (kind, int(i), t)
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
