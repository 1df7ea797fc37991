"""hspace's allocation engine: fill a cluster with new instances of one size.

One :class:`SpaceEngine` holds the cluster (every node and instance) as a
:class:`~corral_htools.state.GroupState`. An attempt (:meth:`SpaceEngine.attempt`)
checks every candidate node (or primary x secondary pair) for one instance
size at once, labels each failing candidate with the first check it fails
(Ganeti's order: instance policy, primary, secondary), and picks the
feasible candidate with the lowest cluster score; on ties the last
candidate wins, as in Ganeti. With capacity checks on, candidates are
tried best first until one keeps the cluster as evacuable as before; the
ones refused count as ``FailN1``.

Standard allocation repeats attempts until one fails. Tiered allocation
then looks for the next size as Ganeti's does (:func:`tiered_alloc`): a
unit less along the most frequent failure reason at a time, and only if
that descent finds nothing, a "big step" along one reason to the first
size that fits, tried on the way back up. Ganeti asks its allocator for
those big steps, whose capacity rule is hail's; corral does the same
(``attempt(spec, strict=True)``).
"""

from __future__ import annotations

import enum
from collections import Counter
from dataclasses import dataclass
from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np

from corral_htools.alloc import CAPACITY_TRIES
from corral_htools.capacity import CapacityCheck
from corral_htools.capacity import evacuation_targets
from corral_htools.evaluate import Evaluator
from corral_htools.evaluate import InstVec
from corral_htools.evaluate import NodeView
from corral_htools.model import AllocPolicy
from corral_htools.model import Instance
from corral_htools.model import IPolicy
from corral_htools.model import ISpec
from corral_htools.state import GroupState

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from corral_htools.model import Cluster
    from corral_htools.state import Options

    Arr = NDArray[np.float64]
    IArr = NDArray[np.int64]
    BArr = NDArray[np.bool_]


class FailMode(enum.IntEnum):
    """Why a candidate was refused, in Ganeti's order (which breaks count ties)."""

    MEM = 1
    DISK = 2
    CPU = 3
    N1 = 4
    TAGS = 5
    MIG = 6
    DISKCOUNT = 7
    SPINDLES = 8
    INTERNAL = 9

    @property
    def label(self) -> str:
        """Ganeti's name: ``FailMem``, ``FailDisk``, ``FailCPU``, ``FailN1``..."""
        names = {
            FailMode.CPU: "FailCPU",
            FailMode.N1: "FailN1",
            FailMode.DISKCOUNT: "FailDiskCount",
        }
        return names.get(self, "Fail" + self.name.capitalize())


#: Shrinking step per failure reason (Ganeti's unit sizes).
_UNITS = {FailMode.MEM: 64, FailMode.DISK: 256, FailMode.CPU: 1, FailMode.SPINDLES: 1}


@dataclass(frozen=True)
class Spec:
    """The size of the instances to allocate; ``spn`` is the disk's spindle count."""

    mem: int
    dsk: int
    cpu: int
    spn: int

    @classmethod
    def from_ispec(cls, spec: ISpec) -> Spec:
        return cls(spec.memory_size, spec.disk_size, spec.cpu_count, spec.spindle_use)

    def field_of(self, mode: FailMode) -> str:
        return {FailMode.MEM: "mem", FailMode.DISK: "dsk", FailMode.CPU: "cpu"}.get(mode, "spn")

    def shrink(self, mode: FailMode) -> Spec | None:
        """One unit less of the resource that failed; None when it cannot shrink."""
        unit = _UNITS.get(mode)
        if unit is None:
            return None
        name = self.field_of(mode)
        value = getattr(self, name) - unit
        if value < unit:
            return None
        return replace(self, **{name: value})


def policy_error(
    spec: Spec, spindle_use: int, template: str, policy: IPolicy, excl: bool
) -> FailMode | None:
    """Why an instance of ``spec`` breaks the policy, or None if it fits.

    When no min/max pair fits, the reason is that of the first pair, as Ganeti
    reports it; a template the policy does not allow is a disk failure.
    """
    spindles = spec.spn if excl else spindle_use
    first: FailMode | None = None
    for lo, hi in policy.minmax:
        err = _below(spec, spindles, lo) or _above(spec, spindles, hi)
        if err is None:
            first = None
            break
        if first is None:
            first = err
    if first is not None:
        return first
    if policy.disk_templates and template not in policy.disk_templates:
        return FailMode.DISK
    return None


def _below(spec: Spec, spindles: int, lo: ISpec) -> FailMode | None:
    if spec.mem < lo.memory_size:
        return FailMode.MEM
    if spec.dsk < lo.disk_size:
        return FailMode.DISK
    if spec.cpu < lo.cpu_count:
        return FailMode.CPU
    if spindles < lo.spindle_use:
        return FailMode.SPINDLES
    if lo.disk_count > 1:
        return FailMode.DISKCOUNT
    return None


def _above(spec: Spec, spindles: int, hi: ISpec) -> FailMode | None:
    if spec.mem > hi.memory_size:
        return FailMode.MEM
    if spec.dsk > hi.disk_size:
        return FailMode.DISK
    if spec.cpu > hi.cpu_count:
        return FailMode.CPU
    if spindles > hi.spindle_use:
        return FailMode.SPINDLES
    if hi.disk_count < 1:
        return FailMode.DISKCOUNT
    return None


@dataclass
class FillOptions:
    """What an hspace run allocates and how strictly."""

    template: str
    spindle_use: int
    capacity_checks: bool = True
    min_disk_ratio: float = 0.0
    max_cpu_ratio: float | None = None
    #: only these nodes may take new instances (None: every online node of an allocable group)
    usable_nodes: frozenset[str] | None = None
    #: nodes that must stay evacuable for the capacity check (None: every node)
    checked_nodes: frozenset[str] | None = None


@dataclass
class Attempt:
    """The outcome of trying one size: failures by reason and the chosen nodes."""

    failures: Counter[FailMode]
    primary: int = -1
    secondary: int = -1

    @property
    def success(self) -> bool:
        return self.primary >= 0


@dataclass
class Allocated:
    name: str
    spec: Spec
    primary: str
    secondary: str


class SpaceEngine:
    """The cluster during one hspace run, with the new instances added so far."""

    def __init__(self, cluster: Cluster, model: Options, opts: FillOptions) -> None:
        self.cluster = cluster
        self.opts = opts
        nodes = list(cluster.nodes)
        self.st = GroupState(cluster, nodes, list(cluster.instances), cluster.ipolicy, model)
        st = self.st
        groups = {g.uuid: g for g in cluster.groups}
        self.policies = [cluster.policy_of(groups[nd.group]) for nd in nodes]
        ratio = np.array([p.vcpu_ratio for p in self.policies])
        if opts.max_cpu_ratio is not None:
            ratio[:] = opts.max_cpu_ratio
        self.vcpu_ratio = ratio
        st.hi_cpu = np.floor(ratio * st.t_cpu)
        st.hi_spindles = np.array([p.spindle_ratio for p in self.policies]) * st.spindles
        self.excl = np.array([nd.excl_stor for nd in nodes], dtype=bool)
        keys: dict[tuple[int, bool], int] = {}
        self._policy_keys: list[tuple[IPolicy, bool]] = []
        node_key = []
        for pol, excl in zip(self.policies, self.excl, strict=True):
            key = (id(pol), bool(excl))
            if key not in keys:
                keys[key] = len(self._policy_keys)
                self._policy_keys.append((pol, bool(excl)))
            node_key.append(keys[key])
        self._policy_of_node = np.array(node_key, dtype=np.int64)
        self.free_sp = np.array([nd.free_spindles for nd in nodes], dtype=np.float64)
        # exclusive storage counts real spindles: used ones out of the node's own
        used = st.spindles - self.free_sp
        st.spin = np.where(self.excl, used, st.spin)
        st.spin_f = np.where(self.excl, used, st.spin_f)
        st.hi_spindles = np.where(self.excl, st.spindles, st.hi_spindles)
        self.lo_dsk = np.floor(opts.min_disk_ratio * st.t_dsk)
        gid = {g.uuid: k for k, g in enumerate(cluster.groups)}
        self.group_ix = np.array([gid[nd.group] for nd in nodes], dtype=np.int64)
        allocable = np.array(
            [groups[nd.group].alloc_policy is not AllocPolicy.UNALLOCABLE for nd in nodes],
            dtype=bool,
        )
        self.usable = allocable & st.online
        if opts.usable_nodes is not None:
            self.usable &= np.array([nd.name in opts.usable_nodes for nd in nodes], dtype=bool)
        self.local = opts.template in ("plain", "drbd")
        self.drbd = opts.template == "drbd"
        self.ev = Evaluator(st)
        self.added: list[Allocated] = []
        self._memo: dict[tuple[Spec, bool], Attempt] = {}
        self._plans: tuple[int, list[set[int]], BArr] | None = None
        self._checks: dict[int, tuple[CapacityCheck, bool]] = {}

    # ------------------------------------------------------------ candidates

    @property
    def required_nodes(self) -> int:
        return 2 if self.drbd else 1

    def candidate_mask(self) -> BArr:
        """Which (primary, secondary) pairs, or which nodes, may be tried at all."""
        u = self.usable
        if not self.drbd:
            res: BArr = u[None, :].copy()
            return res
        g = self.group_ix
        pair: BArr = u[:, None] & u[None, :] & (g[:, None] == g[None, :])
        np.fill_diagonal(pair, False)
        return pair

    def _vec(self, spec: Spec, p_idx: IArr, s_idx: IArr | None) -> InstVec:
        def a(x: float) -> Arr:
            return np.array([[float(x)]])

        loc, drbd = float(self.local), float(self.drbd)
        spindles = self._spindles(spec)
        su_p = spindles[p_idx]
        su_s = spindles[s_idx] if s_idx is not None else a(0.0)
        util = 0.0 if self.st.opts.ignore_dynu else 1.0
        return InstVec(
            mem_run=a(spec.mem),
            mem_notoff=a(spec.mem),
            dsk_pri=a(spec.dsk * loc),
            dsk_pri_f=a(spec.dsk * loc),
            dsk_sec=a(spec.dsk * drbd),
            dsk_sec_f=a(spec.dsk * drbd),
            cpu=a(spec.cpu),
            cpu_f=a(spec.cpu),
            util=a(util),
            spu_pri=su_p * loc,
            spu_pri_f=su_p * loc,
            spu_sec=su_s * drbd,
            spu_sec_f=su_s * drbd,
            sec_mem=a(spec.mem * drbd),
            real=a(1.0),
        )

    def _policy_codes(self, spec: Spec) -> IArr:
        """Per node: the policy failure of its group (0: the size is allowed)."""
        values = []
        for pol, excl in self._policy_keys:
            err = policy_error(spec, self.opts.spindle_use, self.opts.template, pol, excl)
            values.append(0 if err is None else int(err))
        res: IArr = np.array(values, dtype=np.int64)[self._policy_of_node]
        return res

    def _primary_codes(self, spec: Spec) -> IArr:
        st = self.st
        new_mem = st.fmem - spec.mem
        conds: list[tuple[BArr, FailMode]] = [(new_mem <= 0, FailMode.MEM)]
        if self.local:
            new_dsk = st.fdsk - spec.dsk
            conds += [
                (new_dsk <= 0, FailMode.DISK),
                (new_dsk < self.lo_dsk, FailMode.DISK),
                (self.excl & (self.free_sp - spec.spn < 0), FailMode.SPINDLES),
                (st.spin + self._spindles(spec) > st.hi_spindles, FailMode.DISK),
            ]
        conds.append(((new_mem <= st.rmem) & ~st.n1flag, FailMode.MEM))
        conds.append(((st.ucpu + spec.cpu) > st.hi_cpu, FailMode.CPU))
        # stopped instances must still fit once started: Ganeti checks the
        # forthcoming figures after all the others
        conds.append((st.fmem_f - spec.mem <= 0, FailMode.MEM))
        return _first_code(conds, st.n)

    def _spindles(self, spec: Spec) -> Arr:
        res: Arr = np.where(self.excl, float(spec.spn), float(self.opts.spindle_use))
        return res

    def _secondary_codes(self, spec: Spec, new_rmem: Arr) -> IArr:
        """Codes per (primary, secondary); ``new_rmem`` is the secondary's reservation."""
        st = self.st
        row = np.newaxis
        new_dsk = (st.fdsk - spec.dsk)[row, :]
        fmem = st.fmem[row, :]
        conds: list[tuple[BArr, FailMode]] = [
            (new_dsk <= 0, FailMode.DISK),
            (new_dsk < self.lo_dsk[row, :], FailMode.DISK),
            ((self.excl & (self.free_sp - spec.spn < 0))[row, :], FailMode.SPINDLES),
            ((st.spin + self._spindles(spec) > st.hi_spindles)[row, :], FailMode.DISK),
            (np.broadcast_to(spec.mem >= fmem, new_rmem.shape), FailMode.MEM),
            ((fmem <= new_rmem) & ~st.n1flag[row, :], FailMode.MEM),
            (np.broadcast_to(spec.mem >= st.fmem_f[row, :], new_rmem.shape), FailMode.MEM),
        ]
        return _first_code(conds, new_rmem.shape)

    # --------------------------------------------------------------- attempts

    def attempt(self, spec: Spec, strict: bool = False) -> Attempt:
        """Try one instance of ``spec``; the cluster is left unchanged.

        ``strict`` asks as Ganeti's allocator asks when tiered allocation
        looks for a size that fits (:func:`_suffices_shrinking`): its capacity
        rule is hail's (:meth:`_keeps_redundant`), on top of hspace's own.
        For every template but DRBD, Ganeti's hspace asks so all along
        (measured on its binary: pub-n10 with plain, file and sharedfile).
        """
        strict = (strict or not self.drbd) and self.opts.capacity_checks
        hit = self._memo.get((spec, strict))
        if hit is not None:
            return hit
        res = self._attempt(spec, strict)
        self._memo[(spec, strict)] = res
        return res

    def _attempt(self, spec: Spec, strict: bool) -> Attempt:
        st, ev = self.st, self.ev
        cand = self.candidate_mask()
        pol = self._policy_codes(spec)
        n = st.n
        if self.drbd:
            p_idx = np.arange(n)[:, None]
            s_idx = np.arange(n)[None, :]
        else:
            p_idx = np.arange(n)[None, :]
            s_idx = None
        pol_cell = pol[p_idx]
        if not (cand & (pol_cell == 0)).any():
            return Attempt(_count(pol_cell, cand))
        v = self._vec(spec, p_idx, s_idx)
        pv = NodeView(ev, p_idx)
        pv.gain_primary(v)
        views = [pv]
        prim = self._primary_codes(spec)[p_idx]
        codes = np.where(pol_cell != 0, pol_cell, prim)
        if self.drbd:
            assert s_idx is not None
            sv = NodeView(ev, s_idx)
            sv.change_secondary(ev, v, None, p_idx)
            views.append(sv)
            sec = self._secondary_codes(spec, np.broadcast_to(sv.rmem, (n, n)))
            codes = np.where(codes != 0, codes, sec)
        failures = _count(codes, cand)
        ok = cand & (codes == 0)
        if not ok.any():
            return Attempt(failures)
        if self.opts.capacity_checks and self._evacuation_plans()[0]:
            # a covered node cannot be evacuated already: no candidate can pass
            failures[FailMode.N1] += int(ok.sum())
            return Attempt(failures)
        scores = np.broadcast_to(ev.score_of(views, self._loc()), ok.shape)
        flat_ok = np.flatnonzero(ok)
        flat_scores = scores.ravel()[flat_ok]
        width = ok.shape[1]
        if not self.opts.capacity_checks:
            # lowest score; among equal scores the last candidate, as Ganeti
            best = flat_ok[len(flat_ok) - 1 - int(np.argmin(flat_scores[::-1]))]
            return Attempt(failures, *self._nodes_of(int(best), width))
        order = flat_ok[np.lexsort((-flat_ok, flat_scores))]
        # hail's rule counts its own refusals on the candidates' failures
        base = Counter(failures)
        refused = 0
        for flat in order:
            p, s = self._nodes_of(int(flat), width)
            if self._keeps_evacuable(spec, p, s):
                if strict:
                    # both rules must pass: what fits strictly then also allocates
                    return self._strict_choice(spec, base, order, width)
                failures[FailMode.N1] += refused
                return Attempt(failures, p, s)
            refused += 1
        failures[FailMode.N1] += refused
        return Attempt(failures)

    def _loc(self) -> Arr:
        """The location score a new pair adds (its nodes sharing a location tag)."""
        if self.drbd and self.st.has_locations:
            return self.st.same_loc.astype(np.float64)
        return np.zeros((1, 1))

    def _strict_choice(
        self, spec: Spec, failures: Counter[FailMode], order: IArr, width: int
    ) -> Attempt:
        """The best candidate under hail's capacity rule (as :mod:`corral_htools.alloc`).

        ``order`` holds the candidates, best first. A group that is not
        redundant takes nothing, and the new instance must leave its group
        redundant (on exclusive storage, or with failing nodes accepted: no
        worse off). The best few candidates are tried; if none passes, every
        candidate counts as ``FailN1``, as in Ganeti's allocator. Unlike
        hail's answers (:mod:`corral_htools.alloc`), Ganeti's hspace checks
        the group after placing a non-mirrored instance too (measured:
        pub-n10 with plain and file).
        """
        tries = 0
        for flat in order:
            p, s = self._nodes_of(int(flat), width)
            before, relative = self._group_check(int(self.group_ix[p]))
            if before.failing and not relative:
                continue
            if tries >= CAPACITY_TRIES:
                break
            tries += 1
            if self._keeps_redundant(spec, p, s, before.failing if relative else 0):
                return Attempt(failures, p, s)
        failures[FailMode.N1] += len(order)
        return Attempt(failures)

    def _group_check(self, group: int) -> tuple[CapacityCheck, bool]:
        """hail's global N+1 check of one group as the cluster stands.

        With it, whether the group need only end no worse off: on exclusive
        storage, or with nodes failing already by the user's leave.
        """
        if group not in self._checks:
            members = self.group_ix == group
            relative = self.opts.checked_nodes is not None or bool(self.excl[members].all())
            self._checks[group] = (CapacityCheck(self.st, members), relative)
        return self._checks[group]

    def _keeps_redundant(self, spec: Spec, p: int, s: int, allowed: int) -> bool:
        """Whether at most ``allowed`` nodes of p's group fail hail's check with it on (p, s)."""
        i, saved = self._place(spec, p, s)
        try:
            return CapacityCheck(self.st, self.group_ix == self.group_ix[p]).failing <= allowed
        finally:
            self._unplace(i, spec, saved)

    def _nodes_of(self, flat: int, width: int) -> tuple[int, int]:
        """(primary, secondary or -1) of a flat index into the candidate matrix."""
        row, col = divmod(flat, width)
        return (row, col) if self.drbd else (col, -1)

    # --------------------------------------------------------- global N+1 check

    def _evacuation_plans(self) -> tuple[int, list[set[int]], BArr]:
        """Per node: can it be evacuated now, and which nodes would take its instances."""
        if self._plans is None:
            st = self.st
            users: list[set[int]] = [set() for _ in range(st.n)]
            ok = np.zeros(st.n, dtype=bool)
            # an offline node has failed already: its instances must find room too
            for j in self.checked():
                targets = evacuation_targets(st, int(j), self.free_sp, self.excl, self.group_ix)
                if targets is not None:
                    ok[j] = True
                    for t in targets:
                        users[t].add(int(j))
            self._plans = (len(self.checked()) - int(ok.sum()), users, ok)
        return self._plans

    def checked(self) -> list[int]:
        """The nodes the capacity check covers."""
        names = self.opts.checked_nodes
        return [j for j, nd in enumerate(self.st.nodes) if names is None or nd.name in names]

    def unevacuable(self) -> list[int]:
        """The covered nodes that could not be evacuated now."""
        _bad, _users, ok = self._evacuation_plans()
        return [j for j in self.checked() if not ok[j]]

    def _keeps_evacuable(self, spec: Spec, p: int, s: int) -> bool:
        """Whether every covered node can still be evacuated with the instance on (p, s).

        Only nodes whose evacuation used p or s (or that are p or s) can change:
        the others' first-fit plans see the same free resources.
        """
        bad, users, ok = self._evacuation_plans()
        if bad:
            return False
        check = {p} | users[p]
        if s >= 0:
            check |= {s} | users[s]
        check = {j for j in check if ok[j]}
        if not check:
            return True
        i, saved = self._place(spec, p, s)
        try:
            return all(
                evacuation_targets(self.st, j, self.free_sp, self.excl, self.group_ix) is not None
                for j in check
            )
        finally:
            self._unplace(i, spec, saved)

    # ---------------------------------------------------------------- changes

    def _new_instance(self, spec: Spec) -> Instance:
        return Instance(
            name=f"new-{len(self.added)}",
            mem=spec.mem,
            dsk=spec.dsk,
            vcpus=spec.cpu,
            status="running",
            auto_balance=True,
            pnode="",
            snode="",
            template=self.opts.template,
            spindle_use=self.opts.spindle_use,
            spindles=spec.spn,
            disks=[spec.dsk],
        )

    def _take_spindles(self, spec: Spec, p: int, s: int) -> list[tuple[int, float]]:
        """Account the disk's spindles; returns what :meth:`_give_spindles` restores.

        Exclusive-storage nodes lose the disk's spindles (and count them, not
        the spindle use, as used); other nodes report no free spindles once
        they hold a disk, as Ganeti's do.
        """
        saved: list[tuple[int, float]] = []
        if not self.local:
            return saved
        st = self.st
        extra = spec.spn - self.opts.spindle_use
        for j in (p, s) if s >= 0 else (p,):
            saved.append((j, float(self.free_sp[j])))
            if self.excl[j]:
                self.free_sp[j] -= spec.spn
                st.spin[j] += extra
                st.spin_f[j] += extra
            else:
                self.free_sp[j] = 0.0
        return saved

    def _give_spindles(self, spec: Spec, saved: list[tuple[int, float]]) -> None:
        st = self.st
        extra = spec.spn - self.opts.spindle_use
        for j, value in saved:
            self.free_sp[j] = value
            if self.excl[j]:
                st.spin[j] -= extra
                st.spin_f[j] -= extra

    def _place(self, spec: Spec, p: int, s: int) -> tuple[int, list[tuple[int, float]]]:
        i = self.st.append_instance(self._new_instance(spec))
        self.st.move(i, p, s)
        return i, self._take_spindles(spec, p, s)

    def _unplace(self, i: int, spec: Spec, saved: list[tuple[int, float]]) -> None:
        self._give_spindles(spec, saved)
        self.st.move(i, -1, -1)
        self.st.pop_instance()

    def commit(self, spec: Spec, att: Attempt) -> Allocated:
        """Add the instance an attempt chose, for good."""
        p, s = att.primary, att.secondary
        i, _saved = self._place(spec, p, s)
        st = self.st
        inst = st.instances[i]
        inst.pnode = st.nodes[p].name
        inst.snode = st.nodes[s].name if s >= 0 else ""
        self.ev.refresh()
        self._memo.clear()
        self._plans = None
        self._checks.clear()
        done = Allocated(inst.name, spec, inst.pnode, inst.snode)
        self.added.append(done)
        return done


def _first_code(conds: list[tuple[BArr, FailMode]], shape: int | tuple[int, ...]) -> IArr:
    out = np.zeros(shape, dtype=np.int64)
    for mask, mode in reversed(conds):
        out = np.where(np.broadcast_to(mask, out.shape), int(mode), out)
    return out


def _count(codes: IArr, cand: BArr) -> Counter[FailMode]:
    counts = np.bincount(np.broadcast_to(codes, cand.shape)[cand], minlength=len(FailMode) + 1)
    return Counter({FailMode(k): int(c) for k, c in enumerate(counts) if k and c})


# ------------------------------------------------------------------ the runs


def collapse(failures: Counter[FailMode]) -> list[tuple[FailMode, int]]:
    """Every reason with its count, most frequent first (ties in Ganeti's order)."""
    return sorted(((m, failures.get(m, 0)) for m in FailMode), key=lambda x: -x[1])


def iterate_alloc(
    engine: SpaceEngine, spec: Spec, limit: int | None
) -> tuple[list[Allocated], Counter[FailMode]]:
    """Allocate instances of ``spec`` until an attempt fails (or ``limit`` is used up).

    As in Ganeti, the attempt made once the limit reached zero is discarded.
    """
    done: list[Allocated] = []
    while True:
        att = engine.attempt(spec)
        if not att.success or limit == 0:
            return done, att.failures
        done.append(engine.commit(spec, att))
        if limit is not None:
            limit -= 1


def _suffices_shrinking(engine: SpaceEngine, spec: Spec, mode: FailMode) -> Spec | None:
    """Shrink along ``mode`` while it keeps failing for that reason; the first size that fits.

    Between two policy bounds a smaller size only ever fits better, and the
    failures for ``mode`` only decrease, so the first fitting size of each
    stretch is found by bisection rather than unit by unit.
    """
    name = spec.field_of(mode)
    unit = _UNITS.get(mode)
    if unit is None:
        return None
    value = int(getattr(spec, name))

    def at(k: int) -> Spec:
        return replace(spec, **{name: value - k * unit})

    def present(att: Attempt) -> bool:
        return att.failures.get(mode, 0) > 0

    def attempt(size: Spec) -> Attempt:
        return engine.attempt(size, strict=True)

    last = (value - unit) // unit  # the smallest size is one unit
    k = 0
    att = attempt(spec)
    while True:
        if att.success:
            return at(k)
        if not present(att) or k >= last:
            return None
        cur = at(k)
        jump = _next_size(engine, cur, mode, att)
        if jump is None:
            return None
        if jump != cur.shrink(mode):
            k = (value - int(getattr(jump, name))) // unit
            att = attempt(jump)
            continue
        end = min(last, _region_end(engine, value, unit, name, k))
        r = end - 1  # the last step before a policy bound may change the verdict
        if r <= k:
            k, att = end, attempt(at(end))
            continue
        r_att = attempt(at(r))
        if not r_att.success:
            if not present(r_att):
                return None  # the reason faded within the stretch, and nothing fitted
            k, att = r, r_att
            continue
        lo, hi = k, r  # lo fails, hi fits
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if attempt(at(mid)).success:
                hi = mid
            else:
                lo = mid
        if lo == k or present(attempt(at(lo))):
            return at(hi)
        return None


def _region_end(engine: SpaceEngine, value: int, unit: int, name: str, k: int) -> int:
    """The first step after ``k`` at which a policy bound may change the verdict."""
    cur = value - k * unit
    steps = []
    for pol in engine.policies:
        for lo, hi in pol.minmax:
            for target in (_dimension(lo, name) - 1, _dimension(hi, name)):
                if target < cur:
                    steps.append(k + -(-(cur - target) // unit))
    return min(steps) if steps else (value - unit) // unit


def _next_size(engine: SpaceEngine, spec: Spec, mode: FailMode, att: Attempt) -> Spec | None:
    """The next size worth trying along ``mode`` (None: it cannot shrink any more).

    While the policy alone refuses every candidate, each further unit gives
    the same outcome until a policy bound is crossed, so jump to that bound.
    """
    nxt = spec.shrink(mode)
    if nxt is None or sum(att.failures.values()) != att.failures.get(mode, 0):
        return nxt
    if not _policy_only(engine, spec):
        return nxt
    name = spec.field_of(mode)
    unit = _UNITS[mode]
    value = int(getattr(spec, name))
    steps = []
    for pol in engine.policies:
        for lo, hi in pol.minmax:
            # the verdict may change once the value drops below a minimum or to a maximum
            for target in (_dimension(lo, name) - 1, _dimension(hi, name)):
                if target < value:
                    steps.append(-(-(value - target) // unit))
    if not steps:
        return None
    new_value = value - min(steps) * unit
    if new_value < unit:
        return None
    return replace(spec, **{name: new_value})


def _dimension(spec: ISpec, name: str) -> int:
    values = {
        "mem": spec.memory_size,
        "dsk": spec.disk_size,
        "cpu": spec.cpu_count,
        "spn": spec.spindle_use,
    }
    return values[name]


def _policy_only(engine: SpaceEngine, spec: Spec) -> bool:
    cand = engine.candidate_mask()
    pol = engine._policy_codes(spec)
    cells = pol[np.arange(engine.st.n)[:, None]] if engine.drbd else pol[None, :]
    return bool(((cells != 0) | ~cand).all())


def _ranked(failures: Counter[FailMode]) -> list[FailMode]:
    """Every reason, least frequent first; ties keep the reasons' own order (as Ganeti's)."""
    return sorted(FailMode, key=lambda m: failures.get(m, 0))


def _big_step(engine: SpaceEngine, spec: Spec, failures: Counter[FailMode]) -> Spec | None:
    """The first reason, most frequent first, along which shrinking alone fits."""
    for mode in reversed(_ranked(failures)):
        if failures.get(mode, 0) and (nxt := _suffices_shrinking(engine, spec, mode)):
            return nxt
    return None


def _next_tier(
    engine: SpaceEngine, spec: Spec, failures: Counter[FailMode], floor: int | None
) -> tuple[Spec | None, int]:
    """Ganeti's next size, and how many sizes below ``spec`` its search went first.

    Ganeti's tieredAlloc shrinks one unit along the most frequent reason and
    recurses; only when that whole descent allocates nothing does it take
    the big step (:func:`_big_step`) of each size on the way back up,
    deepest first. No size ``floor`` or more units down is searched: Ganeti
    lowers the length limit at every level, and stops where it runs out.
    Nothing is allocated during the search, so it runs on attempts alone.
    """
    path = [(spec, failures)]
    cur = spec
    while (nxt := cur.shrink(_ranked(failures)[-1])) is not None:
        att = engine.attempt(nxt)
        if att.success:
            return nxt, len(path) - 1
        if floor is not None and len(path) >= floor:
            break
        cur, failures = nxt, att.failures
        path.append((cur, failures))
    for depth in range(len(path) - 1, -1, -1):
        if (big := _big_step(engine, *path[depth])) is not None:
            return big, depth
    return None, 0


def tiered_alloc(
    engine: SpaceEngine, spec: Spec, limit: int | None
) -> tuple[list[Allocated], Counter[FailMode]]:
    """Allocate, and on failure go on at the next smaller size that fits (:func:`_next_tier`).

    The run ends when no smaller size fits.
    """
    done: list[Allocated] = []
    cur: Spec | None = spec
    while cur is not None:
        got, failures = iterate_alloc(engine, cur, limit)
        done.extend(got)
        total = len(done)
        if limit is not None:
            # Ganeti compares the limit left with everything allocated in this
            # run, and lowers it by that at every level of its recursion
            if limit <= total:
                break
            limit -= total
        # Ganeti stops a level once the limit left is at most the allocations so far
        floor = None if limit is None or total == 0 else -(-limit // total)
        cur, depth = _next_tier(engine, cur, failures, floor)
        if limit is not None:
            limit -= depth * total
    return done, failures
