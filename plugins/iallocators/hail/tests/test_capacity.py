"""The global N+1 check hail runs after a tentative placement, and its candidate order."""

from __future__ import annotations

import numpy as np
import pytest
from corral_htools.alloc import _last_first_order
from corral_htools.capacity import CapacityCheck
from corral_htools.capacity import evacuation_targets
from corral_htools.capacity import not_evacuable
from corral_htools.model import Instance
from corral_htools.policy import policy_failure
from corral_htools.state import GroupState
from corral_htools.textformat import parse_text
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st


def _reference_failing(gs: GroupState) -> int:
    """The check spelled out plainly: evacuate each node first-fit on copies of the arrays.

    DRBD instances fail over first; a running instance needs its memory, a
    plain one its disk, each with some left over; a node-bound
    (plain/file/blockdev) one must fit the policy.
    """
    failing = 0
    for j in range(gs.n):
        if not gs.online[j]:
            continue
        fmem, fdsk = gs.fmem.copy(), gs.fdsk.copy()
        usable = gs.online.copy()
        usable[j] = False
        mine = [i for i in range(gs.m) if gs.pnode[i] == j and gs.real[i]]
        if any(gs.instances[i].node_bound and policy_failure(gs.instances[i], gs.policy)
               for i in mine):  # fmt: skip
            failing += 1
            continue
        moving = [i for i in mine if gs.running[i] or gs.instances[i].node_bound]
        ok = True
        fails_over = {i for i in moving if gs.drbd[i] and gs.snode[i] >= 0}
        for i in sorted(moving, key=lambda i: (i not in fails_over, -gs.mem[i], i)):
            mem = gs.mem[i] if gs.running[i] else 0.0
            need = gs.dsk[i] if gs.local[i] else 0.0
            if gs.drbd[i] and gs.snode[i] >= 0:
                s = int(gs.snode[i])
                if s == j or (mem > 0 and fmem[s] <= mem):
                    ok = False
                    break
                fmem[s] -= mem
                continue
            fits = usable.copy()
            if mem > 0:
                fits &= fmem > mem
            if need > 0:
                fits &= fdsk > need
            hits = np.flatnonzero(fits)
            if hits.size == 0:
                ok = False
                break
            fmem[hits[0]] -= mem
            fdsk[hits[0]] -= need
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


def _nodes(free: list[int], *instances: str) -> GroupState:
    """n1 with 20000 MB free, then one node per figure of ``free``; 50000 MB free disk each."""
    nodes = [
        f"n{k}|32000|1000|{mem}|100000|50000|4|N|g1|1||N|0|1|1.0"
        for k, mem in enumerate([20000, *free], start=1)
    ]
    text = "\n".join(["default|g1|preferred||", "", *nodes, "", *instances, "", ""])
    cluster = parse_text(text)
    return GroupState(cluster, cluster.nodes, cluster.instances, cluster.ipolicy)


#: (second node's free memory, the instance on the first, nodes Ganeti 3.0's
#: hcheck counts as "not directly evacuateable"); the default policy's
#: minimum disk is 1024 MB, the nodes have 50000 MB free disk
GANETI_HCHECK = [
    (20000, "i1|1000|1000|1|ADMIN_down|Y|n1||plain||1|-|N", 1),  # disk below the policy
    (20000, "i1|1000|1000|1|running|Y|n1||plain||1|-|N", 1),
    (20000, "i1|1000|1000|1|running|Y|n1||file||1|-|N", 1),
    (20000, "i1|1000|1000|1|running|Y|n1||blockdev||1|-|N", 1),
    (20000, "i1|1000|1024|1|ADMIN_down|Y|n1||plain||1|-|N", 0),
    (20000, "i1|1000|2000|1|running|Y|n1||plain||1|-|N", 0),
    (20000, "i1|1000|2000|1|running|Y|n1||file||1|-|N", 0),
    (20000, "i1|1000|60000|1|running|Y|n1||file||1|-|N", 0),  # file: no node disk
    (20000, "i1|1000|60000|1|ADMIN_down|Y|n1||plain||1|-|N", 1),  # no room for the disk
    (20000, "i1|1000|50000|1|running|Y|n1||plain||1|-|N", 1),
    (20000, "i1|1000|49999|1|running|Y|n1||plain||1|-|N", 0),
    (20000, "i1|1000|2000|9|running|Y|n1||plain||1|-|N", 1),  # 9 CPUs: policy max is 8
    (20000, "i1|1000|2000|9|running|Y|n1||blockdev||1|-|N", 1),
    (20000, "i1|1000|2000|9|running|Y|n1||sharedfile||1|-|N", 0),  # no policy check
    (20000, "i1|1000|2000|9|running|Y|n1|n2|drbd||1|-|N", 0),
    (20000, "i1|100|2000|1|running|Y|n1||plain||1|-|N", 1),  # memory below the policy
    (100, "i1|8000|2000|1|ADMIN_down|Y|n1||plain||1|-|N", 0),  # a stopped one needs no memory
    (100, "i1|8000|2000|1|running|Y|n1||plain||1|-|N", 1),
    (1000, "i1|1000|2000|1|running|Y|n1||plain||1|-|N", 1),
    (20000, "i1|1000|1000|1|running|Y|n1||diskless||1|-|N", 0),
    (20000, "i1|1000|1000|1|running|Y|n1||sharedfile||1|-|N", 0),
    (20000, "i1|1000|1000|1|running|Y|n1||rbd||1|-|N", 0),
    (20000, "i1|1000|1000|1|running|Y|n1||ext||1|-|N", 0),
    (20000, "i1|1000|1000|1|running|Y|n1||gluster||1|-|N", 0),
    (100, "i1|8000|1000|1|ADMIN_down|Y|n1||sharedfile||1|-|N", 0),
    (100, "i1|8000|1000|1|running|Y|n1||sharedfile||1|-|N", 1),
    (100, "i1|8000|1000|1|ADMIN_down|Y|n1|n2|drbd||1|-|N", 0),
    (100, "i1|8000|1000|1|running|Y|n1|n2|drbd||1|-|N", 1),
    (1000, "i1|1000|1000|1|running|Y|n1||sharedfile||1|-|N", 1),
    (1001, "i1|1000|1000|1|running|Y|n1||sharedfile||1|-|N", 0),
    (1000, "i1|1000|1000|1|running|Y|n1|n2|drbd||1|-|N", 1),
    (1001, "i1|1000|1000|1|running|Y|n1|n2|drbd||1|-|N", 0),
]


@pytest.mark.parametrize(("free2", "instance", "failing"), GANETI_HCHECK)
def test_evacuability_is_ganetis(free2: int, instance: str, failing: int) -> None:
    """Which nodes count as evacuable, as measured on Ganeti's own hcheck."""
    gs = _nodes([free2], instance)
    assert not_evacuable(gs) == failing
    # hspace's variant places no node-bound instance: only one off its policy counts
    node_bound = gs.instances[0].node_bound
    hspace_failing = int(bool(gs.off_policy[0])) if node_bound else failing
    assert sum(evacuation_targets(gs, j) is None for j in range(gs.n)) == hspace_failing


@pytest.mark.parametrize(
    ("free2", "free3", "first", "failing"),
    [
        (2100, 1300, "p1|1200|2000|1|running|Y|n1||plain||1|-|N", 0),
        (2100, 1300, "p1|1200|2000|1|running|Y|n1||sharedfile||1|-|N", 0),
        (1500, 100, "p1|1000|2000|1|running|Y|n1||plain||1|-|N", 1),
        (1500, 100, "p1|1000|2000|1|running|Y|n1||sharedfile||1|-|N", 1),
    ],
)
def test_failovers_come_first_as_in_ganeti(
    free2: int, free3: int, first: str, failing: int
) -> None:
    """A DRBD failover's memory is set aside before the others are placed (Ganeti's hcheck)."""
    gs = _nodes([free2, free3], first, "d1|1000|2000|1|running|Y|n1|n2|drbd||1|-|N")
    assert not_evacuable(gs) == failing
    if not gs.instances[0].node_bound:  # hspace's variant does not place node-bound ones
        assert sum(evacuation_targets(gs, j) is None for j in range(gs.n)) == failing


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
