"""The global N+1 check hail runs after a tentative placement, and its candidate order."""

from __future__ import annotations

import numpy as np
from corral_htools.alloc import _last_first_order
from corral_htools.capacity import CapacityCheck
from corral_htools.capacity import not_evacuable
from corral_htools.model import Instance
from corral_htools.state import GroupState
from corral_htools.textformat import parse_text
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st


def _reference_failing(gs: GroupState) -> int:
    """The check spelled out plainly: evacuate each node first-fit on copies of the arrays."""
    failing = 0
    for j in range(gs.n):
        if not gs.online[j]:
            continue
        fmem, fdsk = gs.fmem.copy(), gs.fdsk.copy()
        usable = gs.online.copy()
        usable[j] = False
        on = np.flatnonzero((gs.pnode == j) & gs.real & gs.running)
        ok = True
        for i in on[np.argsort(-gs.mem[on], kind="stable")]:
            mem = gs.mem[i]
            if gs.drbd[i] and gs.snode[i] >= 0:
                s = int(gs.snode[i])
                if not usable[s] or fmem[s] < mem:
                    ok = False
                    break
                fmem[s] -= mem
                continue
            need = gs.dsk[i] if gs.local[i] else 0.0
            fits = np.flatnonzero(usable & (fmem >= mem) & (fdsk >= need))
            if fits.size == 0:
                ok = False
                break
            fmem[fits[0]] -= mem
            fdsk[fits[0]] -= need
        failing += not ok
    return failing


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_incremental_recheck_equals_a_full_check(
    clusters: st.SearchStrategy[str], data: st.DataObject
) -> None:
    """After placing one new instance, re-checking only the affected nodes loses nothing."""
    cluster = parse_text(data.draw(clusters))
    template = data.draw(st.sampled_from(["drbd", "plain", "ext"]))
    mem = data.draw(st.sampled_from([256, 1024, 4096, 8192]))
    new = Instance("new", mem, 1024, 1, "running", True, "", "", template)
    gs = GroupState(cluster, cluster.nodes, [*cluster.instances, new], cluster.ipolicy)
    i = gs.m - 1
    check = CapacityCheck(gs)
    assert check.failing == _reference_failing(gs) == not_evacuable(gs)
    n = gs.n
    p = data.draw(st.integers(0, n - 1))
    s = -1
    if template == "drbd":
        s = (p + data.draw(st.integers(1, n - 1))) % n
    gs.move(i, p, s)
    assert check.failing_after(i) == _reference_failing(gs)


@settings(max_examples=100, deadline=None)
@given(
    values=st.lists(st.sampled_from([0.5, 1.0, 2.0, np.inf]), min_size=1, max_size=40),
    limit=st.integers(1, 50),
)
def test_candidate_order_is_the_sorted_order(values: list[float], limit: int) -> None:
    """Best first, the later cell first among equal scores, infeasible (inf) cells never."""
    scores = np.array(values)
    ranked = sorted(range(len(values)), key=lambda k: (values[k], -k))
    expected = [k for k in ranked if np.isfinite(values[k])][:limit]
    assert list(_last_first_order(scores, limit)) == expected
