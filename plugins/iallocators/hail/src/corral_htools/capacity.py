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
