"""Bulk evaluation of hypothetical placements: the score after each candidate.

A candidate changes two or three nodes (old primary, old secondary, target).
Instead of recomputing the score, each std term keeps its running sum and
sum of squares over the online nodes; a candidate's score comes from the
changes at its nodes only. Candidates are evaluated as (instances x
targets) numpy matrices, so one step of hbal or one hail request is a
handful of array operations rather than a loop over moves.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from corral_htools.cost import WEIGHTS
from corral_htools.cost import Statics
from corral_htools.cost import detailed
from corral_htools.cost import merged_metrics
from corral_htools.cost import quantities

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from corral_htools.state import GroupState

    Arr = NDArray[np.float64]
    IArr = NDArray[np.int64]
    BArr = NDArray[np.bool_]

#: Ganeti's failure modes, as :meth:`Evaluator.failure_codes` numbers them ("" is none).
FAIL_MODES = ("", "FailMem", "FailDisk", "FailCPU", "FailN1", "FailTags", "FailMig", "FailSpindles")
FAIL_CODE = {name: k for k, name in enumerate(FAIL_MODES)}

_ADDITIVE: tuple[str, ...] = ("fmem", "fmem_f", "fdsk", "fdsk_f", "ucpu", "ucpu_f", "pload")
_ADDITIVE += ("dload", "spin", "spin_f", "pcnt", "cnt")


@dataclass
class InstVec:
    """Per-instance resource vectors of a batch, shaped (C, 1) for broadcasting."""

    mem_run: Arr
    mem_notoff: Arr
    dsk_pri: Arr
    dsk_pri_f: Arr
    dsk_sec: Arr
    dsk_sec_f: Arr
    cpu: Arr
    cpu_f: Arr
    util: Arr
    spu_pri: Arr
    spu_pri_f: Arr
    spu_sec: Arr
    spu_sec_f: Arr
    sec_mem: Arr
    real: Arr


class _LazyQuantities:
    """A node view's quantities, each built on first use from its base and its changes.

    The changes are applied in the order they were made, so a quantity is
    bitwise what adding them one after another would give.
    """

    def __init__(self, base: dict[str, Arr], idx: IArr) -> None:
        self._base = base
        self._idx = idx
        self.deltas: dict[str, list[Arr]] = {}
        self._cache: dict[str, Arr] = {}

    def __getitem__(self, key: str) -> Arr:
        got = self._cache.get(key)
        if got is None:
            got = self._base[key][self._idx]
            for d in self.deltas.get(key, ()):
                got = got + d
            self._cache[key] = got
        return got

    def add(self, key: str, delta: Arr) -> None:
        self.deltas.setdefault(key, []).append(delta)
        self._cache.pop(key, None)


class NodeView:
    """A (batch of) node(s) after a candidate change: quantities and flags."""

    def __init__(self, ev: Evaluator, idx: IArr) -> None:
        self.idx = idx
        st = ev.state
        self.q = _LazyQuantities(ev.q, idx)
        self._rmem: Arr = st.rmem[idx]
        self._rmem_gain: tuple[Arr, IArr, Arr] | None = None
        #: bounds of the reserved memory over the targets (see score_bound)
        self.rmem_lo: Arr = self._rmem
        self._rmem_hi: Arr | tuple[Arr, Arr] = self._rmem
        self.gain_p = False
        self.gain_s = False
        #: the node gave up a role first (Ganeti then checks N+1 against that state)
        self.lost = False
        #: the most the reserved memory can grow by (gaining a secondary)
        self.rmem_rise: Arr | float = 0.0

    def _primary(self, v: InstVec, sign: float) -> None:
        q = self.q
        q.add("fmem", -sign * v.mem_run)
        q.add("fmem_f", -sign * v.mem_notoff)
        q.add("fdsk", -sign * v.dsk_pri)
        q.add("fdsk_f", -sign * v.dsk_pri_f)
        q.add("ucpu", sign * v.cpu)
        q.add("ucpu_f", sign * v.cpu_f)
        q.add("pload", sign * v.util)
        q.add("dload", sign * v.util)
        q.add("spin", sign * v.spu_pri)
        q.add("spin_f", sign * v.spu_pri_f)
        q.add("pcnt", sign * v.real)
        q.add("cnt", sign * v.real)

    def lose_primary(self, v: InstVec) -> None:
        self._primary(v, -1.0)
        self.lost = True

    def gain_primary(self, v: InstVec) -> None:
        self._primary(v, 1.0)
        self.gain_p = True

    def _secondary(self, v: InstVec, sign: float) -> None:
        q = self.q
        q.add("fdsk", -sign * v.dsk_sec)
        q.add("fdsk_f", -sign * v.dsk_sec_f)
        q.add("dload", sign * v.util)
        q.add("spin", sign * v.spu_sec)
        q.add("spin_f", sign * v.spu_sec_f)
        q.add("cnt", sign * v.real)

    def change_secondary(
        self, ev: Evaluator, v: InstVec, lose_peer: IArr | None, gain_peer: IArr | None
    ) -> None:
        """Lose and/or gain the secondary role for instances whose primary is the peer.

        A gained peer of -1 is a primary outside the node set (an instance
        arriving from another group).
        """
        st = ev.state
        if lose_peer is not None:
            self._secondary(v, -1.0)
            self.lost = True
            # row max of peers[idx] once peers[idx, lose_peer] drops by sec_mem
            at = st.peers[self.idx, lose_peer]
            dropped = at - v.sec_mem
            is_arg = ev.argmax1[self.idx] == lose_peer
            base = np.where(is_arg, np.maximum(ev.max2[self.idx], dropped), ev.max1[self.idx])
        else:
            base = self.rmem
        self.rmem_lo = base
        self._rmem_hi = base
        if gain_peer is not None:
            self._secondary(v, 1.0)
            self.gain_s = True
            self.rmem_rise = v.sec_mem
            # no peer's share exceeds the node's row maximum
            self._rmem_hi = (base, ev.max1[self.idx] + v.sec_mem)
            self._rmem_gain = (st.peers, gain_peer, v.sec_mem)
        self._rmem = base

    @property
    def rmem_hi(self) -> Arr:
        """Most reserved memory over the targets (built on first use: a target view's is (C, N))."""
        if isinstance(self._rmem_hi, tuple):
            self._rmem_hi = np.maximum(*self._rmem_hi)
        return self._rmem_hi

    @property
    def rmem(self) -> Arr:
        """Reserved memory after the change (built on first use: it may be (C, N))."""
        if self._rmem_gain is not None:
            peers, gain_peer, sec_mem = self._rmem_gain
            if np.min(gain_peer) < 0:
                # a primary outside this node set (another group) shares nothing yet
                share = np.where(gain_peer >= 0, peers[self.idx, np.maximum(gain_peer, 0)], 0.0)
            else:
                share = peers[self.idx, gain_peer]
            self._rmem = np.maximum(self._rmem, share + sec_mem)
            self._rmem_gain = None
        return self._rmem

    @property
    def rmem_varies(self) -> bool:
        """Whether the reserved memory depends on the target column."""
        if self._rmem_gain is None:
            return False
        shape = np.broadcast_shapes(np.shape(self.idx), np.shape(self._rmem_gain[1]))
        return len(shape) == 2 and shape[1] > 1 and np.shape(self.idx)[1:] == (1,)


class _BoundParts:
    """Sums of (rows, 1) terms and of (rows, N) terms, kept apart (see score_bound)."""

    def __init__(self, rows: int) -> None:
        self.rows = rows
        self.per_row: Arr = np.zeros((rows, 1))
        self.per_cell: Arr | None = None

    def add(self, term: Arr | float) -> None:
        arr = np.asarray(term, dtype=np.float64)
        if arr.ndim == 2 and arr.shape[1] > 1:
            self.per_cell = arr if self.per_cell is None else self.per_cell + arr
        else:
            self.per_row = self.per_row + arr.reshape(-1, 1)

    def total(self) -> Arr:
        res: Arr = self.per_row[:, 0]
        if self.per_cell is not None:
            cells = np.broadcast_to(self.per_cell, (self.rows, self.per_cell.shape[1]))
            res = res + cells.min(axis=1)
        return res


class Evaluator:
    """Scores candidate placements of a :class:`GroupState` in bulk."""

    def __init__(self, state: GroupState) -> None:
        self.state = state
        self.metrics = merged_metrics(state)
        self.statics = Statics(state)
        self.refresh()

    def refresh(self) -> None:
        """Re-read the state after it changed."""
        st = self.state
        self.q = dict(quantities(st))
        self.q["pcnt"] = st.pcnt
        self.q["cnt"] = st.pcnt + st.scnt
        on = st.online.astype(np.float64)
        self.on = on
        self.n_on = max(1.0, float(on.sum()))
        self.center: list[float] = []
        self.values: list[Arr] = []
        self.sums: list[float] = []
        self.sqs: list[float] = []
        #: per std term: inverse divisor on online nodes (0 elsewhere), twice the values
        self.scale: list[Arr] = []
        self.twice: list[Arr] = []
        for m in self.metrics:
            raw = self.q[m.quantity] * self.statics.inv[m.divisor]
            c = float((raw * on).sum() / self.n_on)
            vals = raw - c
            self.center.append(c)
            self.values.append(vals)
            self.scale.append(self.statics.inv[m.divisor] * on)
            self.twice.append(2.0 * vals)
            self.sums.append(float((vals * on).sum()))
            self.sqs.append(float((vals * vals * on).sum()))
        self.fail = st.fail_n1()
        std_names = {name for m in self.metrics for name in m.names}
        self.base = sum(v * w for name, v, w in detailed(st) if name not in std_names)
        peers = st.peers
        n = st.n
        if n:
            self.argmax1 = peers.argmax(axis=1)
            self.max1 = peers[np.arange(n), self.argmax1]
            tmp = peers.copy()
            tmp[np.arange(n), self.argmax1] = -np.inf
            self.max2 = tmp.max(axis=1) if n > 1 else np.zeros(n)
        else:
            self.argmax1 = np.zeros(0, dtype=np.int64)
            self.max1 = np.zeros(0)
            self.max2 = np.zeros(0)
        self.ptag_any = st.ptags >= 1.0
        self.ptag_two = st.ptags >= 2.0
        self.loc_excl: Arr | None = None
        if st.has_locations and st.has_xtags:
            pn = st.pnode
            real = st.real & (pn >= 0)
            real &= st.online[np.clip(pn, 0, None)]
            self.loc_excl = st.loc_onehot[pn[real]].astype(np.float64).T @ st.xtags[real].astype(
                np.float64
            )

    def inst_vec(self, idx: IArr) -> InstVec:
        st = self.state

        def col(a: Arr) -> Arr:
            return a[idx][:, None]

        real = st.real.astype(np.float64)
        local = st.local.astype(np.float64)
        drbd = st.drbd.astype(np.float64)
        notoff = (~st.inst_offline).astype(np.float64)
        run = st.running.astype(np.float64)
        return InstVec(
            mem_run=col(st.mem * run),
            mem_notoff=col(st.mem * notoff),
            dsk_pri=col(st.dsk * local * real),
            dsk_pri_f=col(st.dsk * local),
            dsk_sec=col(st.dsk * drbd * real),
            dsk_sec_f=col(st.dsk * drbd),
            cpu=col(st.vcpus * notoff * real),
            cpu_f=col(st.vcpus * notoff),
            util=col(st.util * real),
            spu_pri=col(st.spu * local * real),
            spu_pri_f=col(st.spu * local),
            spu_sec=col(st.spu * drbd * real),
            spu_sec_f=col(st.spu * drbd),
            sec_mem=col(st.sec_mem * real),
            real=col(real),
        )

    # ---------------------------------------------------------------- scoring

    def term_sums(self, k: int, views: list[NodeView]) -> tuple[Arr, Arr]:
        """Std term ``k``'s sum and sum of squares once the nodes of ``views`` changed."""
        m = self.metrics[k]
        ds: Arr | float = 0.0
        dq: Arr | float = 0.0
        for v in views:
            inv = self.statics.inv[m.divisor][v.idx]
            qty = v.rmem if m.quantity == "rmem" else v.q[m.quantity]
            new = qty * inv - self.center[k]
            old = self.values[k][v.idx]
            on = self.on[v.idx]
            ds = ds + on * (new - old)
            dq = dq + on * (new * new - old * old)
        return (
            np.asarray(self.sums[k] + ds, dtype=np.float64),
            np.asarray(self.sqs[k] + dq, dtype=np.float64),
        )

    def score_of(self, views: list[NodeView], extra: Arr) -> Arr:
        """Scores after the changes in ``views`` (all broadcast to one shape)."""
        st = self.state
        tot = extra + self.base
        for k, m in enumerate(self.metrics):
            s, q = self.term_sums(k, views)
            var = np.maximum(q / self.n_on - (s / self.n_on) ** 2, 0.0)
            tot = tot + m.weight * np.sqrt(var)
        inv_tmem = self.statics.inv["t_mem"]
        for v in views:
            on = self.on[v.idx]
            off = 1.0 - on
            cnt = v.q["cnt"]
            old_cnt = self.q["cnt"][v.idx]
            new_fail = (v.q["fmem"] <= v.rmem) * on
            tot = tot + WEIGHTS["n1_cnt"] * (new_fail * cnt - self.fail[v.idx] * old_cnt)
            tot = tot + WEIGHTS["offline_all_cnt"] * off * (cnt - old_cnt)
            tot = tot + WEIGHTS["offline_pri_cnt"] * off * (v.q["pcnt"] - st.pcnt[v.idx])
            tot = (
                tot
                + WEIGHTS["reserved_mem_rtotal"] * on * (v.rmem - st.rmem[v.idx]) * inv_tmem[v.idx]
            )
        return np.asarray(tot, dtype=np.float64)

    def score_split(self, fixed: list[NodeView], target: NodeView, extra: Arr) -> Arr:
        """:meth:`score_of` for ``fixed`` per-candidate views and one view of every node.

        ``fixed`` views are shaped (C, 1); ``target`` (index shape (1, N)) gains
        the instance as primary or secondary, so a std term's change there is
        the instance's contribution times the node's inverse divisor, and terms
        the target leaves unchanged stay (C, 1). Offline targets are never
        valid, so their offline-count terms are left out.
        """
        st = self.state
        t = target.idx
        if not (target.gain_p or target.gain_s):
            raise ValueError("the target view must gain the instance")
        tot: Arr = extra + self.base
        n_on = self.n_on
        for k, m in enumerate(self.metrics):
            s, q = self.term_sums(k, fixed)
            delta: Arr | None = None
            if m.quantity == "rmem":
                if target.gain_s:
                    delta = (target.rmem - st.rmem[t]) * self.scale[k][t]
            else:
                changes = target.q.deltas.get(m.quantity)
                if changes:
                    step = changes[0]
                    for more in changes[1:]:
                        step = step + more
                    delta = step * self.scale[k][t]
            if delta is not None:
                s = s + delta
                sq = self.twice[k][t] + delta
                sq *= delta
                q = q + sq
            mean = s / n_on
            mean *= mean
            var = q / n_on
            var -= mean
            np.maximum(var, 0.0, out=var)
            np.sqrt(var, out=var)
            var *= m.weight
            if var.shape == tot.shape:
                tot += var
            else:
                tot = tot + var
        inv_tmem = self.statics.inv["t_mem"]
        for v in fixed:
            on = self.on[v.idx]
            off = 1.0 - on
            cnt = v.q["cnt"]
            old_cnt = self.q["cnt"][v.idx]
            new_fail = (v.q["fmem"] <= v.rmem) * on
            tot = tot + WEIGHTS["n1_cnt"] * (new_fail * cnt - self.fail[v.idx] * old_cnt)
            tot = tot + WEIGHTS["offline_all_cnt"] * off * (cnt - old_cnt)
            tot = tot + WEIGHTS["offline_pri_cnt"] * off * (v.q["pcnt"] - st.pcnt[v.idx])
            tot = (
                tot
                + WEIGHTS["reserved_mem_rtotal"] * on * (v.rmem - st.rmem[v.idx]) * inv_tmem[v.idx]
            )
        on_t = self.on[t]
        new_fail = (target.q["fmem"] <= target.rmem) * on_t
        n1 = new_fail * target.q["cnt"] - self.fail[t] * self.q["cnt"][t]
        tot = tot + WEIGHTS["n1_cnt"] * n1
        if target.gain_s:
            grow = (target.rmem - st.rmem[t]) * (on_t * inv_tmem[t])
            tot = tot + WEIGHTS["reserved_mem_rtotal"] * grow
        return np.asarray(tot, dtype=np.float64)

    def score_bound(self, fixed: list[NodeView], target: NodeView, extra: Arr) -> Arr:
        """A lower bound, per candidate row, of :meth:`score_split` over all valid targets.

        The fixed views' terms are exact. At the target a std term changes by
        a quadratic in the instance's contribution ``d`` (a range for the
        reserved memory: 0 up to the instance's secondary memory) and in the
        node's scale and value; each part of it is bounded by the extremes of
        those over the online nodes. Gaining an instance never lowers the
        target's N+1 or reserved-memory terms, so they are bounded by 0.
        """
        st = self.state
        rows = len(fixed[0].idx) if fixed else 1
        # terms per row, and the (rows, N) terms of views whose reserved memory
        # depends on the target; the bound is the first plus the row minimum of the second
        parts = _BoundParts(rows)
        parts.add(np.asarray(extra, dtype=np.float64))
        parts.add(np.full((rows, 1), self.base))
        n_on = self.n_on
        online = st.online
        for k, m in enumerate(self.metrics):
            ds: Arr | float = 0.0
            dq: Arr | float = 0.0
            ranged: NodeView | None = None
            for v in fixed:
                if m.quantity == "rmem" and v.rmem_varies:
                    ranged = v
                    continue
                inv = self.statics.inv[m.divisor][v.idx]
                qty = v.rmem if m.quantity == "rmem" else v.q[m.quantity]
                new = qty * inv - self.center[k]
                old = self.values[k][v.idx]
                on = self.on[v.idx]
                ds = ds + on * (new - old)
                dq = dq + on * (new * new - old * old)
            s = np.asarray(self.sums[k] + ds, dtype=np.float64) * np.ones((rows, 1))
            q = np.asarray(self.sqs[k] + dq, dtype=np.float64) * np.ones((rows, 1))
            if ranged is not None:
                if target.gain_s or n_on <= 1.0:
                    continue  # not a move hbal makes: the term's bound is 0
                var = self._ranged_var(k, ranged, s, q)
                parts.add(m.weight * np.sqrt(np.maximum(var, 0.0)))
                continue
            var = q / n_on - (s / n_on) ** 2
            lo: Arr | None = None
            hi: Arr | None = None
            if m.quantity == "rmem":
                if target.gain_s:
                    lo = np.zeros((rows, 1))
                    hi = np.asarray(target.rmem_rise, dtype=np.float64) * np.ones((rows, 1))
            else:
                changes = target.q.deltas.get(m.quantity)
                if changes:
                    step = changes[0]
                    for more in changes[1:]:
                        step = step + more
                    lo = hi = np.asarray(step, dtype=np.float64) * np.ones((rows, 1))
            if lo is not None and hi is not None and online.any():
                scale = self.scale[k][online]
                y = scale * self.values[k][online]
                y_lo, y_hi = float(y.min()), float(y.max())
                s_lo, s_hi = float(scale.min()), float(scale.max())
                # 2 d y / n
                lin = np.minimum(np.minimum(lo * y_lo, lo * y_hi), np.minimum(hi * y_lo, hi * y_hi))
                # d^2 s^2 (n - 1) / n^2
                d2 = np.where((lo <= 0) & (hi >= 0), 0.0, np.minimum(lo * lo, hi * hi))
                quad = d2 * (s_lo * s_lo) * (n_on - 1.0) / (n_on * n_on)
                # -2 S d s / n^2
                c = -2.0 * s / (n_on * n_on)
                cross = np.minimum(
                    np.minimum(c * lo * s_lo, c * lo * s_hi),
                    np.minimum(c * hi * s_lo, c * hi * s_hi),
                )
                var = var + 2.0 * lin / n_on + quad + cross
            parts.add(m.weight * np.sqrt(np.maximum(var, 0.0)))
        inv_tmem = self.statics.inv["t_mem"]
        for v in fixed:
            on = self.on[v.idx]
            off = 1.0 - on
            cnt = v.q["cnt"]
            old_cnt = self.q["cnt"][v.idx]
            # both terms grow with the reserved memory: its least value bounds them
            rmem = v.rmem_lo if v.rmem_varies else v.rmem
            new_fail = (v.q["fmem"] <= rmem) * on
            parts.add(WEIGHTS["n1_cnt"] * (new_fail * cnt - self.fail[v.idx] * old_cnt))
            parts.add(WEIGHTS["offline_all_cnt"] * off * (cnt - old_cnt))
            parts.add(WEIGHTS["offline_pri_cnt"] * off * (v.q["pcnt"] - st.pcnt[v.idx]))
            rise = rmem - st.rmem[v.idx]
            parts.add(WEIGHTS["reserved_mem_rtotal"] * on * rise * inv_tmem[v.idx])
        return parts.total()

    def _ranged_var(self, k: int, v: NodeView, s: Arr, q: Arr) -> Arr:
        """Least variance of std term ``k`` over view ``v``'s reserved memory range.

        With the other nodes fixed the variance is a convex quadratic in the
        view's value x, least at x = S / (n - 1) (S the others' sum), so the
        bound is its value at that point clamped to the range.
        """
        n_on = self.n_on
        inv = self.statics.inv["t_mem"][v.idx]
        on = self.on[v.idx]
        old = self.values[k][v.idx]
        s_rest = s - on * old
        q_rest = q - on * old * old
        x_lo = v.rmem_lo * inv - self.center[k]
        x_hi = v.rmem_hi * inv - self.center[k]
        x = np.clip(s_rest / (n_on - 1.0), np.minimum(x_lo, x_hi), np.maximum(x_lo, x_hi))
        res: Arr = (q_rest + on * x * x) / n_on - ((s_rest + on * x) / n_on) ** 2
        return res

    def checks(
        self,
        views: list[NodeView],
        idx: IArr,
        soft: bool,
        forced: BArr | None = None,
        to_offline: bool = False,
    ) -> list[tuple[str, BArr]]:
        """Each constraint at the changed nodes, named by Ganeti's failure mode, in its order.

        The order is that of Ganeti's ``addPri``/``addSec`` for every view in
        turn, so the first check a candidate fails names the reason Ganeti
        reports. Moving an instance off an offline primary is forced, as in
        Ganeti: only "does it fit at all" (memory, disk) is checked then, not
        N+1, ratios or tags. ``forced`` (per instance row) overrides that
        rule: Ganeti forces a new secondary when the old one is offline.
        Targets must be online unless ``to_offline`` (Ganeti's evacuation
        fails an instance over to a drained secondary if it fits there; an
        offline one has nothing to offer).
        """
        st = self.state
        out: list[tuple[str, BArr]] = []
        mem_run = st.mem[idx][:, None] * st.running[idx][:, None]
        mem_notoff = st.mem[idx][:, None] * ~st.inst_offline[idx][:, None]
        local = st.local[idx][:, None]
        sec_mem = st.sec_mem[idx][:, None]
        if forced is None:
            on_p = st.pnode[idx] >= 0
            forced = (st.offline[np.clip(st.pnode[idx], 0, None)] & on_p)[:, None]
        relaxed = forced | soft
        for v in views:
            if not (v.gain_p or v.gain_s):
                continue
            # "already failing N+1" is judged, as in Ganeti, on the node once it
            # gave up its role in the move (if any), before it gains the new one
            if v.lost:
                before = v.q["fmem"] + (mem_run if v.gain_p else 0.0)
                old_fail = before <= v.rmem_lo
            else:
                old_fail = self.fail[v.idx]
            n1_ok = relaxed | old_fail | ~(v.q["fmem"] <= v.rmem)
            # Ganeti gives an offline node no resources (a drained one keeps them):
            # its first check fails
            online = st.online[v.idx] | (to_offline & (st.t_mem[v.idx] > 0))
            if v.gain_p:
                out.append(("FailMem", online))
                # Ganeti refuses a node without free memory even for a stopped instance
                out.append(("FailMem", v.q["fmem"] > 0))
                out.append(("FailDisk", ~local | (v.q["fdsk"] > 0)))
                out.append(("FailDisk", relaxed | (v.q["spin"] <= st.hi_spindles[v.idx])))
                out.append(("FailMem", n1_ok))
                out.append(("FailCPU", relaxed | (v.q["ucpu"] <= st.hi_cpu[v.idx])))
                if st.has_xtags:
                    clash = (
                        st.xtags[idx].astype(np.float64) @ self.ptag_any.T.astype(np.float64)
                    ) > 0
                    out.append(("FailTags", relaxed | ~self._gather(clash, v.idx)))
                # a stopped instance must fit too, once started ("forthcoming" memory);
                # like Ganeti's forthcoming checks, not when forced
                out.append(("FailMem", relaxed | (mem_notoff <= 0) | (v.q["fmem_f"] > 0)))
            if v.gain_s:
                out.append(("FailDisk", online))
                out.append(("FailDisk", v.q["fdsk"] > 0))
                out.append(("FailDisk", relaxed | (v.q["spin"] <= st.hi_spindles[v.idx])))
                # room to fail the instance over is a soft check (Ganeti's hail
                # relocates onto a crowded secondary with --ignore-soft-errors)
                out.append(("FailMem", relaxed | (sec_mem < v.q["fmem"])))
                out.append(("FailMem", n1_ok))
                out.append(("FailMem", relaxed | (sec_mem < v.q["fmem_f"])))
        return out

    def valid(
        self, views: list[NodeView], idx: IArr, soft: bool, forced: BArr | None = None
    ) -> BArr:
        """Whether every constraint of :meth:`checks` holds."""
        ok: BArr | bool = True
        for _mode, good in self.checks(views, idx, soft, forced):
            ok = ok & good
        return np.asarray(ok, dtype=bool)

    def failure_codes(
        self,
        views: list[NodeView],
        idx: IArr,
        soft: bool,
        forced: BArr | None = None,
        to_offline: bool = False,
    ) -> NDArray[np.int8]:
        """Per candidate, the index in :data:`FAIL_MODES` of the first check it fails (0: none)."""
        found = self.checks(views, idx, soft, forced, to_offline)
        shape = np.broadcast_shapes(*(np.shape(good) for _m, good in found)) if found else ()
        res = np.zeros(shape, dtype=np.int8)
        for mode, good in reversed(found):
            res = np.where(good, res, np.int8(FAIL_CODE[mode]))
        return res

    def failures(
        self,
        views: list[NodeView],
        idx: IArr,
        soft: bool,
        forced: BArr | None = None,
        to_offline: bool = False,
    ) -> NDArray[np.str_]:
        """Per candidate, the failure mode of the first check it fails ("" where none)."""
        codes = self.failure_codes(views, idx, soft, forced, to_offline)
        res: NDArray[np.str_] = np.asarray(FAIL_MODES)[codes]
        return res

    @staticmethod
    def _gather(matrix: BArr, idx: IArr) -> BArr:
        """matrix[c, idx[c, j]] for a per-candidate node index (broadcast rows)."""
        rows = np.arange(matrix.shape[0])[:, None]
        res: BArr = matrix[rows, idx]
        return res

    def tag_drop(self, idx: IArr, nodes: IArr) -> Arr:
        """Exclusion-tag conflicts removed when each instance leaves its node."""
        st = self.state
        if not st.has_xtags:
            return np.zeros(len(idx))
        drop = (st.xtags[idx] & self.ptag_two[nodes]).sum(axis=1).astype(np.float64)
        res: Arr = drop * st.online[nodes] * st.real[idx]  # offline nodes do not score tags
        return res

    def tag_gain(self, idx: IArr, new_p: IArr) -> Arr:
        """Exclusion-tag conflicts created where each instance becomes primary.

        Normally such a move is refused; a forced move (off an offline node) or
        --ignore-soft-errors allows it, and then it costs score.
        """
        st = self.state
        if not st.has_xtags:
            return np.zeros((len(idx), 1))
        counts = st.xtags[idx].astype(np.float64) @ self.ptag_any.T.astype(np.float64)
        rows = np.arange(len(idx))[:, None]
        res: Arr = counts[rows, new_p] * st.online[new_p] * st.real[idx][:, None]
        return res

    def location_delta(self, idx: IArr, new_p: IArr, new_s: IArr) -> Arr:
        """Change of the location score terms for instances ``idx`` placed anew.

        ``new_p``/``new_s`` broadcast against each other ((C,1) or (C,N));
        ``new_s`` is -1 where there is none.
        """
        st = self.state
        if not st.has_locations:
            return np.zeros((len(idx), 1))
        pn = st.pnode[idx]
        sn = st.snode[idx]
        real = st.real[idx]
        old = np.where((sn >= 0) & real, st.same_loc[pn, np.clip(sn, 0, None)], False).astype(
            np.float64
        )
        want = st.has_desired[idx] & real
        desired = st.desired[idx].astype(np.float64)
        # desired location tags the node lacks, per (instance, node)
        unmet = desired @ (~st.loc_onehot).T.astype(np.float64)
        rows = np.arange(len(idx))
        old += want * unmet[rows, pn]
        old *= st.online[pn]  # a score of the primary: offline ones count nothing
        new_p_b, new_s_b = np.broadcast_arrays(new_p, new_s)
        new = np.where(
            (new_s_b >= 0) & real[:, None],
            st.same_loc[new_p_b, np.clip(new_s_b, 0, None)],
            False,
        ).astype(np.float64)
        new += want[:, None] * unmet[rows[:, None], new_p_b]
        new *= st.online[new_p_b]
        delta = new - old[:, None]
        if self.loc_excl is not None:
            delta = delta + self._loc_excl_delta(idx, new_p_b)
        res: Arr = delta
        return res

    def arrival_delta(self, i: int, new_p: IArr, new_s: IArr | None) -> Arr:
        """Tag and location score terms of unplaced instance ``i`` arriving on (new_p, new_s).

        ``new_p``/``new_s`` broadcast against each other. Exclusion tags count
        where the instance becomes primary, locations as in
        :meth:`location_delta`, and the pairs of location and exclusion tag
        it shares with a primary already there.
        """
        st = self.state
        on = st.online[new_p]
        extra: Arr = WEIGHTS["pri_tags_score"] * self.tag_gain(np.array([i]), new_p)
        if not st.has_locations:
            return extra
        loc: Arr | BArr = np.zeros(np.shape(new_p))
        if new_s is not None:
            loc = loc + st.same_loc[new_p, new_s]
        if st.has_desired[i]:
            unmet = (st.desired[i] & ~st.loc_onehot).sum(axis=1)
            loc = loc + unmet[new_p]
        extra = extra + loc * on
        if self.loc_excl is not None and st.real[i]:
            # a location already holding a primary with one of its exclusion tags
            shared = (self.loc_excl >= 1).astype(np.float64) @ st.xtags[i].astype(np.float64)
            per_node = st.loc_onehot.astype(np.float64) @ shared
            extra = extra + per_node[new_p] * on
        return extra

    def _loc_excl_delta(self, idx: IArr, new_p: IArr) -> Arr:
        st = self.state
        assert self.loc_excl is not None
        lx = self.loc_excl
        pn = st.pnode[idx]
        xt = st.xtags[idx].astype(np.float64)  # (C, X)
        lp = st.loc_onehot[pn].astype(np.float64)  # (C, L)
        on_p = st.online[pn][:, None]
        live = (st.real[idx])[:, None]
        contrib = lp[:, :, None] * xt[:, None, :] * on_p[:, :, None] * live[:, :, None]
        after = lx[None, :, :] - contrib  # counts once the instance left
        drop = (contrib * (lx[None, :, :] >= 2)).sum(axis=(1, 2))
        gain_per_loc = (xt[:, None, :] * (after >= 1)).sum(axis=2) * live  # (C, L)
        lt = st.loc_onehot.astype(np.float64)  # (N, L)
        gain_all = gain_per_loc @ lt.T  # (C, N)
        rows = np.arange(len(idx))[:, None]
        gain = gain_all[rows, new_p] * st.online[new_p]
        moved = new_p != pn[:, None]
        res: Arr = np.where(moved, gain - drop[:, None], 0.0)
        return res
