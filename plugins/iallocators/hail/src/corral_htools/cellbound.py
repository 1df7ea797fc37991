"""Per-candidate lower bounds of hbal scores, far cheaper than the scores themselves.

Late in a balancing run every move gains little, and a bound per instance
(:meth:`Evaluator.score_bound`, the best target of each std term taken on
its own) no longer prunes anything. This bound is per (instance, target)
cell instead, so the terms stay coupled through the one target.

At the target a std term's variance is linear in the target's scale and
value: ``A + a*x_t + b*c_t + g*c_t^2`` (``x_t`` its scaled value, ``c_t``
its scale; ``A, a, b, g`` per instance). Over the targets it lies in a box
``[L, U]`` and on that interval the square root is at least its chord,
which is linear in the variance. So every std term but the reserved
memory's is a linear function of a few per-node features, and all of them
together are one (instances x features) @ (features x nodes) product. The
reserved memory's term and the count terms are computed exactly (their
change depends on each peer), as :meth:`Evaluator.score_split` does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from corral_htools.cost import WEIGHTS

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from corral_htools.evaluate import Evaluator
    from corral_htools.evaluate import NodeView

    Arr = NDArray[np.float64]
    IArr = NDArray[np.int64]


class Features:
    """The per-node features of one evaluator state: scaled values and scales.

    Rows: one ``x`` per std term other than the reserved memory's, then
    ``c`` and ``c^2`` per divisor. Built once per step (they are (N,) each);
    ``box`` has every std term's extremes.
    """

    def __init__(self, ev: Evaluator) -> None:
        online = ev.state.online
        self.any_online = bool(online.any())
        rows: list[Arr] = []
        self.x_row: dict[int, int] = {}
        self.c_row: dict[str, int] = {}
        #: per std term: (x_lo, x_hi, c_lo, c_hi) over the online nodes
        self.box: dict[int, tuple[float, float, float, float]] = {}
        for k, m in enumerate(ev.metrics):
            scale = ev.scale[k]
            x = scale * ev.values[k]
            if self.any_online:
                xo, co = x[online], scale[online]
                self.box[k] = (float(xo.min()), float(xo.max()), float(co.min()), float(co.max()))
            if m.quantity == "rmem":
                continue
            self.x_row[k] = len(rows)
            rows.append(x)
            if m.divisor not in self.c_row:
                self.c_row[m.divisor] = len(rows)
                rows.append(scale)
                rows.append(scale * scale)
        self.matrix: Arr = np.array(rows) if rows else np.zeros((0, ev.state.n))


#: How far the variance formula ``q/n - (s/n)^2`` may be off, relative to ``q/n``:
#: a few roundings of each part. Near zero variance the square root magnifies
#: it (1e-16 becomes 1e-8), so the bounds take it off before the root.
VAR_ROUNDING = 1e-14


def _var_floor(q: Arr, n: float) -> Arr:
    """The least the true variance can be below the computed one."""
    floor: Arr = VAR_ROUNDING * np.abs(q) / n
    return floor


def linear_var(ev: Evaluator, s: Arr, q: Arr, d: Arr) -> tuple[Arr, Arr, Arr, Arr]:
    """Variance at the target as ``base + a*x_t + b*c_t + g*c_t^2`` (see the module doc)."""
    n = ev.n_on
    base = q / n - (s / n) ** 2
    a = 2.0 * d / n
    b = -2.0 * s * d / (n * n)
    g = d * d * (n - 1.0) / (n * n)
    return base, a, b, g


def box_range(
    box: tuple[float, float, float, float], base: Arr, a: Arr, b: Arr, g: Arr
) -> tuple[Arr, Arr]:
    """Least and greatest ``base + a*x + b*c + g*c^2`` over the online nodes' box."""
    x_lo, x_hi, c_lo, c_hi = box
    ax_lo, ax_hi = a * x_lo, a * x_hi
    bc_lo, bc_hi = b * c_lo, b * c_hi
    gc_lo, gc_hi = g * (c_lo * c_lo), g * (c_hi * c_hi)
    lo = base + np.minimum(ax_lo, ax_hi) + np.minimum(bc_lo, bc_hi) + np.minimum(gc_lo, gc_hi)
    hi = base + np.maximum(ax_lo, ax_hi) + np.maximum(bc_lo, bc_hi) + np.maximum(gc_lo, gc_hi)
    return lo, hi


def _chord(
    ev: Evaluator, feats: Features, k: int, s: Arr, q: Arr, d: Arr, coef: Arr, const: Arr
) -> None:
    """Add std term ``k``'s chord bound to ``coef`` (C, F) and ``const`` (C, 1)."""
    w = ev.metrics[k].weight
    base, a, b, g = linear_var(ev, s, q, d)
    lo, hi = box_range(feats.box[k], base, a, b, g)
    lo = np.maximum(lo - _var_floor(q, ev.n_on), 0.0)
    hi = np.maximum(hi, lo)
    r_lo, r_hi = np.sqrt(lo), np.sqrt(hi)
    width = hi - lo
    slope = np.divide(r_hi - r_lo, width, out=np.zeros_like(width), where=width > 0)
    const += w * (r_lo + slope * (base - lo))
    ws = w * slope
    coef[:, feats.x_row[k]] += (ws * a)[:, 0]
    c = feats.c_row[ev.metrics[k].divisor]
    coef[:, c] += (ws * b)[:, 0]
    coef[:, c + 1] += (ws * g)[:, 0]


def cell_bound(
    ev: Evaluator,
    feats: Features,
    fixed: list[NodeView],
    target: NodeView,
    extra: Arr,
    cols: IArr | None = None,
) -> Arr:
    """A lower bound of :meth:`Evaluator.score_split` for every (row, target) cell.

    Same arguments as ``score_split`` (``cols``: the target view's nodes when
    not every node); the result is (rows, targets). Cells whose target is
    offline are left out (inf): a move never gains a role there.
    """
    st = ev.state
    t = target.idx
    rows = len(fixed[0].idx) if fixed else 1
    width = st.n if cols is None else len(cols)
    tot: Arr = np.zeros((rows, width)) + extra + ev.base
    const = np.zeros((rows, 1))
    coef = np.zeros((rows, feats.matrix.shape[0]))
    for k, m in enumerate(ev.metrics):
        s, q = ev.term_sums(k, fixed)
        if m.quantity == "rmem":
            if target.gain_s:
                delta = (target.rmem - st.rmem[t]) * ev.scale[k][t]
                s = s + delta
                q = q + (ev.twice[k][t] + delta) * delta
            var = np.maximum(q / ev.n_on - (s / ev.n_on) ** 2 - _var_floor(q, ev.n_on), 0.0)
            tot += m.weight * np.sqrt(var)
            continue
        changes = target.q.deltas.get(m.quantity)
        if not changes or not feats.any_online:
            var = np.maximum(q / ev.n_on - (s / ev.n_on) ** 2 - _var_floor(q, ev.n_on), 0.0)
            const += m.weight * np.sqrt(var)
            continue
        d = changes[0]
        for more in changes[1:]:
            d = d + more
        d = np.asarray(d, dtype=np.float64) * np.ones((rows, 1))
        _chord(ev, feats, k, s * np.ones((rows, 1)), q * np.ones((rows, 1)), d, coef, const)
    tot += const
    if coef.shape[1]:
        tot += coef @ (feats.matrix if cols is None else feats.matrix[:, cols])
    inv_tmem = ev.statics.inv["t_mem"]
    for v in fixed:
        on = ev.on[v.idx]
        off = 1.0 - on
        cnt = v.q["cnt"]
        old_cnt = ev.q["cnt"][v.idx]
        new_fail = (v.q["fmem"] <= v.rmem) * on
        tot += WEIGHTS["n1_cnt"] * (new_fail * cnt - ev.fail[v.idx] * old_cnt)
        tot += WEIGHTS["offline_all_cnt"] * off * (cnt - old_cnt)
        tot += WEIGHTS["offline_pri_cnt"] * off * (v.q["pcnt"] - st.pcnt[v.idx])
        tot += WEIGHTS["reserved_mem_rtotal"] * on * (v.rmem - st.rmem[v.idx]) * inv_tmem[v.idx]
    on_t = ev.on[t]
    new_fail_t = (target.q["fmem"] <= target.rmem) * on_t
    tot += WEIGHTS["n1_cnt"] * (new_fail_t * target.q["cnt"] - ev.fail[t] * ev.q["cnt"][t])
    if target.gain_s:
        grow = (target.rmem - st.rmem[t]) * (on_t * inv_tmem[t])
        tot += WEIGHTS["reserved_mem_rtotal"] * grow
    tot[:, ~(st.online if cols is None else st.online[cols])] = np.inf
    return tot
