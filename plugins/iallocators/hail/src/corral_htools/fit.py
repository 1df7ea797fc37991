"""Does one instance fit on a node right now? Feasibility only, no scores.

hroller plans evacuations first-fit, so it needs the same hard (and soft)
constraints hail and hbal apply (memory, disk, N+1, CPU and spindle
ratios, exclusion tags) but not the cluster score. Each check reads the
current :class:`~corral_htools.state.GroupState` arrays and costs a few
vector operations over the nodes, cheap enough to run after every move.
The rules mirror :meth:`corral_htools.evaluate.Evaluator.valid`. A
*forced* move (as off a node that is going down, which is what hroller
plans; Ganeti's hroller does the same) only has to fit now: the memory of
a running instance and the disk; N+1, CPU and spindle ratios, exclusion
tags and the memory stopped instances would need are not checked then.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from corral_htools.state import GroupState

    BArr = NDArray[np.bool_]


def _tag_clash(st: GroupState, i: int) -> BArr:
    """Nodes already running a primary that shares an exclusion tag with ``i``."""
    if not st.has_xtags or not st.xtags[i].any():
        return np.zeros(st.n, dtype=bool)
    res = (st.ptags[:, st.xtags[i]] >= 1.0).any(axis=1)
    return np.asarray(res, dtype=bool)


def primary_targets(st: GroupState, i: int, soft: bool, forced: bool = False) -> BArr:
    """Nodes that could become the (only) primary of ``i``: a move or a migration."""
    mem_run = st.mem[i] if st.running[i] else 0.0
    mem_notoff = 0.0 if st.inst_offline[i] else st.mem[i]
    real = bool(st.real[i])
    local = bool(st.local[i])
    fmem = st.fmem - mem_run
    ok = st.online.copy()
    if mem_run > 0 or forced:
        # Ganeti refuses a node with no free memory left even for a stopped instance
        ok &= fmem > 0
    if mem_notoff > 0 and not forced:
        ok &= (st.fmem_f - mem_notoff) > 0
    if local:
        ok &= (st.fdsk - (st.dsk[i] if real else 0.0)) > 0
    if not forced:
        ok &= st.n1flag | ~(fmem <= st.rmem)
    if not (soft or forced):
        cpu = st.vcpus[i] if not st.inst_offline[i] and real else 0.0
        ok &= (st.ucpu + cpu) <= st.hi_cpu
        if local:
            ok &= (st.spin + (st.spu[i] if real else 0.0)) <= st.hi_spindles
        ok &= ~_tag_clash(st, i)
    p = int(st.pnode[i])
    if p >= 0:
        ok[p] = False
    return ok


def secondary_targets(st: GroupState, i: int, soft: bool, forced: bool = False) -> BArr:
    """Nodes that could take over the secondary (DRBD) role of ``i``."""
    p, s = int(st.pnode[i]), int(st.snode[i])
    real = bool(st.real[i])
    sec_mem = st.sec_mem[i] if real else 0.0
    rmem = st.rmem if p < 0 else np.maximum(st.rmem, st.peers[:, p] + sec_mem)
    ok = st.online.copy()
    ok &= (st.fdsk - (st.dsk[i] if real else 0.0)) > 0
    if not forced:
        ok &= sec_mem < st.fmem
        ok &= sec_mem < st.fmem_f
        ok &= st.n1flag | ~(st.fmem <= rmem)
    if not (soft or forced):
        ok &= (st.spin + (st.spu[i] if real else 0.0)) <= st.hi_spindles
    for j in (p, s):
        if j >= 0:
            ok[j] = False
    return ok


def failover_ok(st: GroupState, i: int, soft: bool, forced: bool = False) -> bool:
    """Can ``i`` swap primary and secondary (a migration) right now?"""
    p, s = int(st.pnode[i]), int(st.snode[i])
    if p < 0 or s < 0 or not (st.online[s] and st.online[p]):
        return False
    real = bool(st.real[i])
    sec_mem = st.sec_mem[i] if real else 0.0
    mem_run = st.mem[i] if st.running[i] else 0.0
    mem_notoff = 0.0 if st.inst_offline[i] else st.mem[i]
    # the secondary becomes primary: it runs the instance, reserves less for p
    row = st.peers[s].copy()
    row[p] -= sec_mem
    rmem_s = float(row.max()) if row.size else 0.0
    fmem_s = float(st.fmem[s]) - mem_run
    if (mem_run > 0 or forced) and not fmem_s > 0:
        return False
    if forced:
        return True
    if mem_notoff > 0 and not float(st.fmem_f[s]) - mem_notoff > 0:
        return False
    if not (st.n1flag[s] or fmem_s > rmem_s):
        return False
    if not soft:
        cpu = st.vcpus[i] if not st.inst_offline[i] and real else 0.0
        if float(st.ucpu[s]) + cpu > st.hi_cpu[s]:
            return False
        if _tag_clash(st, i)[s]:
            return False
        # the disk changes role only, but a node already over its spindle ratio stays so
        if st.spin[s] > st.hi_spindles[s] or st.spin[p] > st.hi_spindles[p]:
            return False
    # the old primary becomes secondary: it must be able to take the instance back
    fmem_p = float(st.fmem[p]) + mem_run
    fmem_f_p = float(st.fmem_f[p]) + mem_notoff
    rmem_p = max(float(st.rmem[p]), float(st.peers[p, s]) + sec_mem)
    if not (sec_mem < fmem_p and sec_mem < fmem_f_p):
        return False
    return bool(st.n1flag[p] or fmem_p > rmem_p)
