"""Per-instance score bounds carried from one hbal step to the next.

A move changes only the nodes it touches, yet every candidate's score
moves a little, since each std term is over all online nodes. For a
candidate whose nodes (its instance's and its target) are all untouched,
the change of each term is known up to the target: its variance moves by
``dV - 2 D dm / n`` (``dV``, ``dm`` the change of the cluster variance
and mean, ``D`` the candidate's own change of the term's sum), and the
square root of a variance of at least ``L`` moves by no less than
``sqrt(L) - sqrt(L + e)`` when the variance drops by at most ``e``. The
count terms of such a candidate do not change, and the terms of the whole
cluster change by a known amount. So a bound of last step plus
:func:`drift` is a bound now, for every untouched target; the touched
targets and the instances on touched nodes are bounded afresh.
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field
from typing import TYPE_CHECKING

import numpy as np

from corral_htools.cellbound import Features
from corral_htools.cellbound import box_range
from corral_htools.cellbound import linear_var

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from corral_htools.evaluate import Evaluator
    from corral_htools.evaluate import NodeView

    Arr = NDArray[np.float64]


@dataclass(frozen=True)
class Snapshot:
    """The cluster-wide figures a step's candidate scores depend on."""

    var: tuple[float, ...]
    mean: tuple[float, ...]
    base: float

    @classmethod
    def of(cls, ev: Evaluator) -> Snapshot:
        n = ev.n_on
        var = tuple(q / n - (s / n) ** 2 for s, q in zip(ev.sums, ev.sqs, strict=True))
        mean = tuple(c + s / n for c, s in zip(ev.center, ev.sums, strict=True))
        return cls(var, mean, float(ev.base))


@dataclass
class Carried:
    """Bounds kept between steps: per move plan, a bound per candidate row (-inf: none).

    ``prev`` and ``touched`` describe the last move (the state before it and
    the nodes it changed) until the bounds are brought up to date.
    """

    bounds: dict[int, Arr] = field(default_factory=dict)
    prev: Snapshot | None = None
    touched: NDArray[np.int64] | None = None

    def moved(self, prev: Snapshot, touched: NDArray[np.int64]) -> None:
        """Note a move made from the state ``prev``, changing the nodes ``touched``."""
        self.prev = prev
        self.touched = touched


def _rmem_term(
    ev: Evaluator, feats: Features, k: int, fixed: list[NodeView], target: NodeView, rows: int
) -> tuple[Arr, Arr, Arr]:
    """Least variance of the reserved-memory term over the targets, and its ``D`` range."""
    n = ev.n_on
    exact = [v for v in fixed if not v.rmem_varies]
    ranged = [v for v in fixed if v.rmem_varies]
    s, q = ev.term_sums(k, exact)
    s = s * np.ones((rows, 1))
    q = q * np.ones((rows, 1))
    d_lo = s - ev.sums[k]
    d_hi = d_lo.copy()
    x_lo, _, c_lo, c_hi = feats.box[k]
    if (ranged and target.gain_s) or len(ranged) > 1 or n <= 1.0:
        low = np.zeros((rows, 1))  # not a move hbal makes: no useful bound
    elif ranged:
        v = ranged[0]
        low = ev._ranged_var(k, v, s, q)
    else:
        low = q / n - (s / n) ** 2
        if target.gain_s:
            rise = np.asarray(target.rmem_rise, dtype=np.float64) * np.ones((rows, 1))
            low = low + 2.0 * rise * min(0.0, x_lo) / n
            low = low - 2.0 * rise * np.maximum(0.0, np.maximum(s * c_lo, s * c_hi)) / (n * n)
    for v in ranged:
        inv = ev.statics.inv["t_mem"][v.idx]
        on = ev.on[v.idx]
        old = ev.values[k][v.idx]
        a = v.rmem_lo * inv - ev.center[k]
        b = v.rmem_hi * inv - ev.center[k]
        d_lo = d_lo + on * (np.minimum(a, b) - old)
        d_hi = d_hi + on * (np.maximum(a, b) - old)
    if target.gain_s:
        rise = np.asarray(target.rmem_rise, dtype=np.float64) * np.ones((rows, 1))
        d_hi = d_hi + rise * c_hi
    return low, d_lo, d_hi


def drift(
    ev: Evaluator, feats: Features, fixed: list[NodeView], target: NodeView, prev: Snapshot
) -> Arr:
    """Per row, a lower bound of how much each untouched cell's score changed since ``prev``.

    ``fixed`` and ``target`` are the views :func:`~corral_htools.cellbound.cell_bound`
    takes, built on the current state.
    """
    n = ev.n_on
    rows = len(fixed[0].idx) if fixed else 1
    total = np.full((rows, 1), ev.base - prev.base)
    for k, m in enumerate(ev.metrics):
        if not feats.any_online:
            break
        if m.quantity == "rmem":
            low, d_lo, d_hi = _rmem_term(ev, feats, k, fixed, target, rows)
        else:
            s, q = ev.term_sums(k, fixed)
            s = s * np.ones((rows, 1))
            q = q * np.ones((rows, 1))
            changes = target.q.deltas.get(m.quantity)
            d = np.zeros((rows, 1))
            for more in changes or ():
                d = d + more
            base, a, b, g = linear_var(ev, s, q, d)
            low, _ = box_range(feats.box[k], base, a, b, g)
            _, _, c_lo, c_hi = feats.box[k]
            e = s - ev.sums[k]
            d_lo = e + np.minimum(d * c_lo, d * c_hi)
            d_hi = e + np.maximum(d * c_lo, d * c_hi)
        var_now = ev.sqs[k] / n - (ev.sums[k] / n) ** 2
        dvar = var_now - prev.var[k]
        dmean = (ev.center[k] + ev.sums[k] / n) - prev.mean[k]
        e_lo = dvar - 2.0 * np.maximum(d_lo * dmean, d_hi * dmean) / n
        drop = np.maximum(-e_lo, 0.0)
        low = np.maximum(low, 0.0)
        total = total + m.weight * (np.sqrt(low) - np.sqrt(low + drop))
    res: Arr = total[:, 0]
    return res
