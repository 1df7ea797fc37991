"""The global N+1 ("capacity") check: could every node be evacuated right now?

For each node, its primaries go elsewhere: first each DRBD instance fails
over to its secondary (even an offline one), then the others, by
decreasing memory, are placed first-fit on another online node. A running
instance needs its memory there, a plain one its disk space, each with
some left over; a node-bound one (plain, file, blockdev: its disks cannot
follow) must also fit its group's policy, whatever its state, as if it
were new. A node whose instances do not all find room is "not directly
evacuateable" (:func:`not_evacuable`, :class:`CapacityCheck`).

hspace's check (:func:`evacuation_targets`) is Ganeti's other one: the
same, except that node-bound instances are not placed (only one off its
policy makes its node fail). Both were measured on Ganeti 3.0's binaries:
hcheck's counts on small clusters, hspace's allocation counts on the bench
clusters (tests/test_capacity.py, tests/test_hspace.py).
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from corral_htools.state import GroupState


#: First-fit scans look at this many nodes one by one before asking numpy for the rest.
_SCAN = 16


class _Figures:
    """A state's figures as Python lists: the check reads single values, cheap on lists."""

    def __init__(self, st: GroupState) -> None:
        #: what each instance needs where it goes: its memory if it runs, its disk if local
        self.mem: list[float] = np.where(st.running, st.mem, 0.0).tolist()
        self.dsk: list[float] = np.where(st.local, st.dsk, 0.0).tolist()
        self.drbd: list[bool] = st.drbd.tolist()
        self.snode: list[int] = st.snode.tolist()
        self.nodes(st)

    def nodes(self, st: GroupState) -> None:
        """Re-read the placement-dependent node figures."""
        self.fmem: list[float] = st.fmem.tolist()
        self.fdsk: list[float] = st.fdsk.tolist()
        self.online: list[bool] = st.online.tolist()
        self.stuck: list[bool] = stuck_nodes(st).tolist()


def stuck_nodes(st: GroupState) -> NDArray[np.bool_]:
    """Per node: does it hold a node-bound primary that no node may take (off policy)?"""
    sel = st.off_policy & st.real & (st.pnode >= 0)
    return np.bincount(st.pnode[sel], minlength=st.n) > 0


def _moving(st: GroupState) -> NDArray[np.bool_]:
    """The instances an evacuation must place: running ones, and node-bound ones (disks)."""
    moving: NDArray[np.bool_] = st.real & (st.running | st.node_bound)
    return moving


def _fails_over(st: GroupState) -> NDArray[np.bool_]:
    """The DRBD instances with a secondary: they go first, onto their fixed target."""
    drbd: NDArray[np.bool_] = st.drbd & (st.snode >= 0)
    return drbd


def _ordered(st: GroupState, sel: NDArray[np.int64]) -> NDArray[np.int64]:
    """One node's instances in evacuation order: failovers, then by decreasing memory."""
    fails_over = st.drbd[sel] & (st.snode[sel] >= 0)  # only the few selected: a hot path
    return sel[np.lexsort((sel, -st.mem[sel], ~fails_over))]


def _fits(free: float, need: float) -> bool:
    """Ganeti's test: something must be left over (nothing needed always fits)."""
    return need <= 0 or free > need


def _node_order(st: GroupState) -> list[list[int]]:
    """Per node, the primaries an evacuation places, in :func:`_ordered`'s order."""
    sel = np.flatnonzero((st.pnode >= 0) & _moving(st))
    sel = sel[np.lexsort((sel, -st.mem[sel], ~_fails_over(st)[sel], st.pnode[sel]))]
    out: list[list[int]] = [[] for _ in range(st.n)]
    for i, p in zip(sel.tolist(), st.pnode[sel].tolist(), strict=True):
        out[p].append(i)
    return out


def _evacuate(st: GroupState, j: int, order: list[int], fig: _Figures) -> tuple[bool, set[int]]:
    """Whether node ``j``'s instances all find room, and the nodes whose figures decided it.

    A node outside the returned set only ever failed to fit (or was never
    looked at): taking resources away from it cannot change the outcome.
    """
    base_mem, base_dsk, online = fig.fmem, fig.fdsk, fig.online
    fmem: dict[int, float] = {}  # the figures this evacuation changed
    fdsk: dict[int, float] = {}
    n = st.n
    used: set[int] = set()
    if fig.stuck[j]:
        return False, used
    for i in order:
        mem = fig.mem[i]
        s = fig.snode[i]
        if fig.drbd[i] and s >= 0:
            have = fmem.get(s, base_mem[s])
            # the secondary may be offline: Ganeti's check asks only for the memory
            if s == j or not _fits(have, mem):
                return False, used
            fmem[s] = have - mem
            used.add(s)
            continue
        need = fig.dsk[i]
        t = -1
        for k in range(min(n, _SCAN)):
            if k == j or not online[k]:
                continue
            if _fits(fmem.get(k, base_mem[k]), mem) and _fits(fdsk.get(k, base_dsk[k]), need):
                t = k
                break
        else:
            if n > _SCAN:
                # changed figures only ever drop: the arrays' fits are a superset
                fit = st.online.copy()
                if mem > 0:
                    fit &= st.fmem > mem
                if need > 0:
                    fit &= st.fdsk > need
                cand = np.flatnonzero(fit)
                for k in cand[cand >= _SCAN].tolist():
                    if k == j:
                        continue
                    if _fits(fmem.get(k, base_mem[k]), mem) and _fits(
                        fdsk.get(k, base_dsk[k]), need
                    ):
                        t = k
                        break
        if t < 0:
            return False, used
        fmem[t] = fmem.get(t, base_mem[t]) - mem
        fdsk[t] = fdsk.get(t, base_dsk[t]) - need
        used.add(t)
    return True, used


def node_evacuable(st: GroupState, j: int) -> bool:
    return _evacuate(st, j, _node_order(st)[j], _Figures(st))[0]


def not_evacuable(st: GroupState) -> int:
    """How many online nodes fail the global N+1 check."""
    return CapacityCheck(st).failing


class CapacityCheck:
    """The global N+1 check of a state, kept per node.

    hail re-checks the cluster after tentatively placing one new instance;
    only the new primary and the nodes whose check relied on the new
    primary's or secondary's figures can change, so only those are redone.
    """

    def __init__(self, st: GroupState, scope: NDArray[np.bool_] | None = None) -> None:
        """``scope``: the nodes that must be evacuable (Ganeti: the group's); default all."""
        self.st = st
        self.fig = _Figures(st)
        self.order = _node_order(st)
        self.scope = np.ones(st.n, dtype=bool) if scope is None else scope
        self.ok: list[bool] = []
        #: per node k, the nodes whose check relied on k's figures
        self.relying: list[list[int]] = [[] for _ in range(st.n)]
        for j in range(st.n):
            ok, used = True, set[int]()
            if self.fig.online[j] and self.scope[j]:
                ok, used = _evacuate(st, j, self.order[j], self.fig)
            self.ok.append(ok)
            for k in used:
                self.relying[k].append(j)
        self.failing = self.ok.count(False)

    def failing_after(self, i: int) -> int:
        """The failing count once instance ``i`` (unplaced at construction) is placed.

        Only the placement of ``i`` may differ from the state at construction.
        """
        st = self.st
        p, s = int(st.pnode[i]), int(st.snode[i])
        fig = copy.copy(self.fig)
        fig.snode = list(fig.snode)
        fig.snode[i] = s
        fig.nodes(st)
        redo = {p, *self.relying[p], *(self.relying[s] if s >= 0 else ())}
        count = self.failing
        for j in redo:
            if not (fig.online[j] and self.scope[j]):
                continue
            order = self.order[j]
            if j == p:
                on = np.flatnonzero((st.pnode == p) & _moving(st))
                order = _ordered(st, on).tolist()
            ok = _evacuate(st, j, order, fig)[0]
            count += int(not ok) - int(not self.ok[j])
        return count


def evacuation_targets(
    st: GroupState,
    j: int,
    free_spindles: NDArray[np.float64] | None = None,
    exclusive: NDArray[np.bool_] | None = None,
    group: NDArray[np.int64] | None = None,
) -> set[int] | None:
    """The nodes that would take node ``j``'s instances if it failed, or None.

    hspace's variant of :func:`node_evacuable` (see the module's docstring):
    the running DRBD and shared-storage instances are placed, node-bound
    ones are not. The set of targets lets a caller tell which nodes a change
    can affect. With ``group`` (a group number per node) only nodes of
    ``j``'s group qualify; on exclusive-storage nodes an instance with local
    disks needs its spindles free too.
    """
    fmem = st.fmem.copy()
    fdsk = st.fdsk.copy()
    spin = free_spindles.copy() if free_spindles is not None else np.zeros(st.n)
    excl = exclusive if exclusive is not None else np.zeros(st.n, dtype=bool)
    usable = st.online.copy()
    if group is not None:
        usable &= group == group[j]
    usable[j] = False
    on_node = np.flatnonzero((st.pnode == j) & st.real)
    if st.off_policy[on_node].any():
        return None
    on_node = on_node[st.running[on_node] & ~st.node_bound[on_node]]
    order = _ordered(st, on_node)
    used: set[int] = set()
    for i in order:
        mem = st.mem[i] if st.running[i] else 0.0
        if st.drbd[i] and st.snode[i] >= 0:
            s = int(st.snode[i])
            # as in Ganeti's model, a failover needs only the memory: the
            # secondary may be offline (or in another group) and still take it
            if s == j or not _fits(fmem[s], mem):
                return None
            fmem[s] -= mem
            used.add(s)
            continue
        fits = usable & (fmem > mem) if mem > 0 else usable.copy()
        need_dsk = need_sp = 0.0
        if st.local[i]:
            need_dsk = float(st.dsk[i])
            need_sp = float(st.instances[i].spindles or 0)
            fits &= (fdsk - need_dsk > 0) & (~excl | (spin - need_sp >= 0))
        hits = np.flatnonzero(fits)
        if hits.size == 0:
            return None
        t = int(hits[0])
        fmem[t] -= mem
        fdsk[t] -= need_dsk
        if excl[t]:
            spin[t] -= need_sp
        used.add(t)
    return used
