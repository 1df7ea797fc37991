"""Cluster-wide resource totals (Ganeti's CStats), as hspace reports them.

Every figure is summed over all nodes; ``free`` is what the nodes report
free, ``avail`` what an allocation may still use (free memory above the
N+1 reservation, free disk above the reserved ratio), ``inst`` what
instances use.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from corral_htools.cost import score

if TYPE_CHECKING:
    from corral_htools.spacealloc import SpaceEngine


@dataclass(frozen=True)
class ClusterStats:
    f_mem: int
    a_mem: int
    m_mem: int
    i_mem: int
    x_mem: int
    n_mem: int
    t_mem: float
    f_dsk: int
    a_dsk: int
    m_dsk: int
    i_dsk: int
    t_dsk: float
    f_spn: int
    i_spn: int
    t_spn: float
    i_cpu: int
    n_cpu: float
    t_cpu: float
    v_cpu: int
    score: float
    n_inst: int


def cluster_stats(engine: SpaceEngine) -> ClusterStats:
    """The totals of the engine's current state."""
    st = engine.st
    x_mem = st.x_mem
    fmem = st.fmem
    amem = np.maximum(fmem - st.rmem, 0.0)
    adsk = np.where(st.fdsk < engine.lo_dsk, 0.0, st.fdsk - engine.lo_dsk)
    imem = np.trunc(st.t_mem) - st.n_mem - np.maximum(x_mem, 0.0) - fmem
    idsk = np.trunc(st.t_dsk) - st.fdsk
    ispn = st.spindles - engine.free_sp
    return ClusterStats(
        f_mem=int(fmem.sum()),
        a_mem=int(amem.sum()),
        m_mem=int(amem.max(initial=0.0)),
        i_mem=int(imem.sum()),
        x_mem=int(x_mem.sum()),
        n_mem=int(st.n_mem.sum()),
        t_mem=float(st.t_mem.sum()),
        f_dsk=int(st.fdsk.sum()),
        a_dsk=int(adsk.sum()),
        m_dsk=int(adsk.max(initial=0.0)),
        i_dsk=int(idsk.sum()),
        t_dsk=float(st.t_dsk.sum()),
        f_spn=int(engine.free_sp.sum()),
        i_spn=int(ispn.sum()),
        t_spn=float(st.spindles.sum()),
        i_cpu=int(st.ucpu.sum()),
        n_cpu=float((st.ucpu / engine.vcpu_ratio).sum()),
        t_cpu=float(st.t_cpu.sum()),
        v_cpu=int(st.hi_cpu.sum()),
        score=score(st),
        n_inst=int(st.pcnt.sum()),
    )


def _ratio(a: float, b: float) -> float:
    return a / b if b else 0.0


def stats_keys(cs: ClusterStats) -> list[tuple[str, str]]:
    """The ``INI_``/``TRL_``/``FIN_`` figures, in Ganeti's order."""
    return [
        ("SCORE", f"{cs.score:.8f}"),
        ("INST_CNT", str(cs.n_inst)),
        ("MEM_FREE", str(cs.f_mem)),
        ("MEM_AVAIL", str(cs.a_mem)),
        ("MEM_RESVD", str(cs.f_mem - cs.a_mem)),
        ("MEM_INST", str(cs.i_mem)),
        ("MEM_OVERHEAD", str(cs.x_mem + cs.n_mem)),
        ("MEM_EFF", f"{_ratio(cs.i_mem, cs.t_mem):.8f}"),
        ("DSK_FREE", str(cs.f_dsk)),
        ("DSK_AVAIL", str(cs.a_dsk)),
        ("DSK_RESVD", str(cs.f_dsk - cs.a_dsk)),
        ("DSK_INST", str(cs.i_dsk)),
        ("DSK_EFF", f"{_ratio(cs.i_dsk, cs.t_dsk):.8f}"),
        ("SPN_FREE", str(cs.f_spn)),
        ("SPN_INST", str(cs.i_spn)),
        ("SPN_EFF", f"{_ratio(cs.i_spn, cs.t_spn):.8f}"),
        ("CPU_INST", str(cs.i_cpu)),
        ("CPU_EFF", f"{_ratio(cs.i_cpu, cs.v_cpu):.8f}"),
        ("MNODE_MEM_AVAIL", str(cs.m_mem)),
        ("MNODE_DSK_AVAIL", str(cs.m_dsk)),
    ]


def show_double(x: float) -> str:
    """A float as Haskell's ``show`` prints it (``1.0``, ``44.25``, ``1.0e-2``)."""
    if x == 0:
        return "0.0"
    if 0.1 <= abs(x) < 1e7:
        text = repr(float(x))
        return text if "." in text or "e" in text else text + ".0"
    mantissa, exp = f"{x:.16e}".split("e")
    digits = repr(float(mantissa))
    return f"{digits}e{int(exp)}"


def allocation_delta(ini: ClusterStats, fin: ClusterStats) -> list[tuple[str, str]]:
    """The ``KM_`` figures: used at the start, allocated, and left unallocable."""
    used = (ini.i_cpu, ini.n_cpu, ini.i_mem, ini.i_dsk, ini.i_spn)
    pool = (
        fin.i_cpu - ini.i_cpu,
        fin.n_cpu - ini.n_cpu,
        fin.i_mem - ini.i_mem,
        fin.i_dsk - ini.i_dsk,
        fin.i_spn - ini.i_spn,
    )
    unav = (
        fin.v_cpu - fin.i_cpu,
        fin.t_cpu - fin.n_cpu,
        int(fin.t_mem) - fin.i_mem,
        int(fin.t_dsk) - fin.i_dsk,
        int(fin.t_spn) - fin.i_spn,
    )
    out = []
    for prefix, values in (("USED", used), ("POOL", pool), ("UNAV", unav)):
        cpu, npu, mem, dsk, spn = values
        out += [
            (f"KM_{prefix}_CPU", str(int(cpu))),
            (f"KM_{prefix}_NPU", show_double(float(npu))),
            (f"KM_{prefix}_MEM", str(int(mem))),
            (f"KM_{prefix}_DSK", str(int(dsk))),
            (f"KM_{prefix}_SPN", str(int(spn))),
        ]
    return out
