"""The global N+1 ("capacity") check: could every node be evacuated right now?

For each node: its DRBD primaries fail over to their secondaries, its
shared-storage instances and its non-mirrored ones are placed on the other
nodes first-fit by decreasing memory. A node whose instances do not all find
room is "not directly evacuateable".
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from corral_htools.state import GroupState


def node_evacuable(st: GroupState, j: int) -> bool:
    fmem = st.fmem.copy()
    fdsk = st.fdsk.copy()
    usable = st.online.copy()
    usable[j] = False
    on_node = np.flatnonzero((st.pnode == j) & st.real & st.running)
    order = on_node[np.argsort(-st.mem[on_node], kind="stable")]
    for i in order:
        mem = st.mem[i]
        if st.drbd[i] and st.snode[i] >= 0:
            s = int(st.snode[i])
            if not usable[s] or fmem[s] < mem:
                return False
            fmem[s] -= mem
            continue
        need_dsk = st.dsk[i] if st.local[i] else 0.0
        fits = np.flatnonzero(usable & (fmem >= mem) & (fdsk >= need_dsk))
        if fits.size == 0:
            return False
        t = int(fits[0])
        fmem[t] -= mem
        fdsk[t] -= need_dsk
    return True


def not_evacuable(st: GroupState) -> int:
    """How many online nodes fail the global N+1 check."""
    return sum(1 for j in range(st.n) if st.online[j] and not node_evacuable(st, j))


def evacuation_targets(
    st: GroupState,
    j: int,
    free_spindles: NDArray[np.float64] | None = None,
    exclusive: NDArray[np.bool_] | None = None,
    group: NDArray[np.int64] | None = None,
) -> set[int] | None:
    """The nodes that would take node ``j``'s running instances if it failed, or None.

    hspace's variant of :func:`node_evacuable`: DRBD primaries fail over to
    their secondaries, the others go first-fit (by decreasing memory) to a
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
            if not usable[s] or fmem[s] - mem <= 0:
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
