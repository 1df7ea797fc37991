"""The global N+1 ("capacity") check: could every node be evacuated right now?

For each node: its DRBD primaries fail over to their secondaries, its
shared-storage instances and its non-mirrored ones are placed on the other
nodes first-fit by decreasing memory. A node whose instances do not all find
room is "not directly evacuateable".
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
        self.mem: list[float] = st.mem.tolist()
        self.dsk: list[float] = st.dsk.tolist()
        self.drbd: list[bool] = st.drbd.tolist()
        self.local: list[bool] = st.local.tolist()
        self.snode: list[int] = st.snode.tolist()
        self.nodes(st)

    def nodes(self, st: GroupState) -> None:
        """Re-read the placement-dependent node figures."""
        self.fmem: list[float] = st.fmem.tolist()
        self.fdsk: list[float] = st.fdsk.tolist()
        self.online: list[bool] = st.online.tolist()


def _node_order(st: GroupState) -> list[list[int]]:
    """Per node, its real running primaries by decreasing memory (ties by index)."""
    sel = np.flatnonzero((st.pnode >= 0) & st.real & st.running)
    sel = sel[np.lexsort((sel, -st.mem[sel], st.pnode[sel]))]
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
    for i in order:
        mem = fig.mem[i]
        s = fig.snode[i]
        if fig.drbd[i] and s >= 0:
            have = fmem.get(s, base_mem[s])
            if s == j or not online[s] or have < mem:
                return False, used
            fmem[s] = have - mem
            used.add(s)
            continue
        need = fig.dsk[i] if fig.local[i] else 0.0
        t = -1
        for k in range(min(n, _SCAN)):
            if k == j or not online[k]:
                continue
            if fmem.get(k, base_mem[k]) >= mem and fdsk.get(k, base_dsk[k]) >= need:
                t = k
                break
        else:
            if n > _SCAN:
                # changed figures only ever drop: the arrays' fits are a superset
                cand = np.flatnonzero(st.online & (st.fmem >= mem) & (st.fdsk >= need))
                for k in cand[cand >= _SCAN].tolist():
                    if k == j:
                        continue
                    if fmem.get(k, base_mem[k]) >= mem and fdsk.get(k, base_dsk[k]) >= need:
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

    def __init__(self, st: GroupState) -> None:
        self.st = st
        self.fig = _Figures(st)
        self.order = _node_order(st)
        self.ok: list[bool] = []
        #: per node k, the nodes whose check relied on k's figures
        self.relying: list[list[int]] = [[] for _ in range(st.n)]
        for j in range(st.n):
            ok, used = True, set[int]()
            if self.fig.online[j]:
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
            if not fig.online[j]:
                continue
            order = self.order[j]
            if j == p:
                on = np.flatnonzero((st.pnode == p) & st.real & st.running)
                order = on[np.argsort(-st.mem[on], kind="stable")].tolist()
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
    """The nodes that would take node ``j``'s running instances if it failed, or None.

    hspace's variant of :func:`node_evacuable`: DRBD primaries fail over to
    their secondaries (offline ones too: Ganeti's check asks only for the
    memory), the others go first-fit (by decreasing memory) to a
    node where they fit with room to spare, as an allocation demands; on
    exclusive-storage nodes the instance's spindles must be free too. The
    set of targets lets a caller tell which nodes a change can affect.
    With ``group`` (a group number per node) only nodes of ``j``'s group qualify.
    """
    fmem = st.fmem.copy()
    fdsk = st.fdsk.copy()
    spin = free_spindles.copy() if free_spindles is not None else np.zeros(st.n)
    excl = exclusive if exclusive is not None else np.zeros(st.n, dtype=bool)
    usable = st.online.copy()
    if group is not None:
        usable &= group == group[j]
    usable[j] = False
    on_node = np.flatnonzero((st.pnode == j) & st.real & st.running)
    order = on_node[np.argsort(-st.mem[on_node], kind="stable")]
    used: set[int] = set()
    for i in order:
        mem = st.mem[i]
        if st.drbd[i] and st.snode[i] >= 0:
            s = int(st.snode[i])
            # as in Ganeti's model, a failover needs only the memory: the
            # secondary may be offline (or in another group) and still take it
            if s == j or fmem[s] - mem <= 0:
                return None
            fmem[s] -= mem
            used.add(s)
            continue
        fits = usable & (fmem - mem > 0)
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
