"""hail's placement algorithms: allocate, relocate, evacuate, change group.

A new instance is appended to a group's state unplaced; every primary (and
for DRBD every primary x secondary pair) is then scored at once as a
matrix, and the feasible cell with the lowest cluster score wins. Groups
are tried by allocation policy (preferred before last_resort), then score.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from dataclasses import field
from typing import TYPE_CHECKING
from typing import Any

import numpy as np

from corral_htools.capacity import CapacityCheck
from corral_htools.evaluate import FAIL_CODE
from corral_htools.evaluate import FAIL_MODES
from corral_htools.evaluate import Evaluator
from corral_htools.evaluate import NodeView
from corral_htools.model import AllocPolicy
from corral_htools.model import Cluster
from corral_htools.model import Group
from corral_htools.model import Instance
from corral_htools.moves import MoveKind
from corral_htools.policy import policy_failure
from corral_htools.state import GroupState
from corral_htools.state import Options
from corral_htools.state import group_state

if TYPE_CHECKING:
    from collections.abc import Iterable
    from collections.abc import Iterator

    from numpy.typing import NDArray

    from corral_htools.ialloc import NewInstance
    from corral_htools.ialloc import Request
    from corral_htools.model import IPolicy

    Arr = NDArray[np.float64]
    BArr = NDArray[np.bool_]
    IArr = NDArray[np.intp]

_POLICY_RANK = {AllocPolicy.PREFERRED: 0, AllocPolicy.LAST_RESORT: 1, AllocPolicy.UNALLOCABLE: 2}


#: Ganeti's FailMode enumeration, the order its failure counts are listed in.
GANETI_FAIL_ORDER = (
    "FailMem",
    "FailDisk",
    "FailCPU",
    "FailN1",
    "FailTags",
    "FailMig",
    "FailDiskCount",
    "FailSpindles",
    "FailInternal",
)

#: Candidates (best first) tried against the global capacity check before giving up.
CAPACITY_TRIES = 64


@dataclass
class AllocOptions:
    model: Options = field(default_factory=Options)
    restrict_to: frozenset[str] = frozenset()
    no_capacity_checks: bool = False


#: hail(1)'s lost-allocations metric: allocations lost per policy interval, then free disk.
Lost = tuple[tuple[int, ...], int]


@dataclass
class GroupResult:
    group: Group
    score: float
    nodes: list[str]
    successes: int
    failures: Counter[str]
    #: set on exclusive-storage groups, which rank by it instead of the score
    lost: Lost | None = None
    #: the group could not be tried at all (Ganeti: "Not enough online nodes")
    error: str = ""

    def rank(self) -> tuple[int, int, Any]:
        """Sort key among groups: policy, then score (dedicated groups: lost allocations)."""
        policy = _POLICY_RANK[self.group.alloc_policy]
        return (policy, 0, self.score) if self.lost is None else (policy, 1, self.lost)

    def describe(self) -> str:
        if self.error:
            return f"Group {self.group.name}: error {self.error}"
        # in the order of Ganeti's failure modes (others, such as FailNetwork, after them)
        order = {name: k for k, name in enumerate(GANETI_FAIL_ORDER)}
        ranked = sorted(self.failures.items(), key=lambda kv: (order.get(kv[0], 99), kv[0]))
        reasons = ", ".join(f"{k}: {v}" for k, v in ranked)
        head = f"Group {self.group.name} ({self.group.alloc_policy.value})"
        if not self.nodes:
            return f"{head}: No valid allocation solutions, failure reasons: {reasons or 'none'}"
        if self.lost is not None:
            shown = f"([{','.join(map(str, self.lost[0]))}],{self.lost[1]})"
        else:
            shown = f"{self.score:.8f}"
        return (
            f"{head}: score: {shown}, successes {self.successes}, "
            f"failures {sum(self.failures.values())} ({reasons}) for node(s) "
            + "/".join(self.nodes)
        )


def _with_new(cluster: Cluster, group: Group, inst: Instance, opts: Options) -> GroupState:
    """All nodes (Ganeti scores a group's candidates on the whole cluster), plus ``inst``."""
    insts = [*cluster.instances, inst]
    return GroupState(cluster, list(cluster.nodes), insts, cluster.policy_of(group), opts)


def _exclusive(st: GroupState) -> BArr:
    """Per node: whether it has exclusive storage (spindles are real, counted per disk)."""
    res: BArr = np.array([nd.excl_stor for nd in st.nodes], dtype=bool)
    return res


def spindles_fit(st: GroupState, spindles: int | None) -> BArr:
    """Per node: whether disks needing ``spindles`` find them free there.

    Only exclusive-storage nodes count spindles; there a disk that does not
    say how many it needs (``None``) cannot be placed at all.
    """
    excl = _exclusive(st)
    if spindles is None:
        return ~excl
    free = np.array([nd.free_spindles for nd in st.nodes], dtype=np.float64)
    res: BArr = ~excl | (free >= spindles)
    return res


def _evaluate_new(
    st: GroupState, i: int, required: int, soft: bool, allowed: BArr
) -> tuple[Arr, BArr, Counter[str], BArr]:
    """Scores of every placement of new instance ``i``, feasibility and failure counts."""
    ev = Evaluator(st)
    v = ev.inst_vec(np.array([i]))
    n = st.n
    if required >= 2:
        p = np.arange(n)[:, None]
        s = np.arange(n)[None, :]
        pv, sv = NodeView(ev, p), NodeView(ev, s)
        pv.gain_primary(v)
        sv.change_secondary(ev, v, None, p)
        views = [pv, sv]
        cand = (
            (p != s) & allowed[:, None] & allowed[None, :] & st.online[:, None] & st.online[None, :]
        )
        extra = ev.arrival_delta(i, p, s)
    else:
        p = np.arange(n)[None, :]
        pv = NodeView(ev, p)
        pv.gain_primary(v)
        views = [pv]
        cand = (allowed & st.online)[None, :]
        extra = ev.arrival_delta(i, p, None)
    scores = ev.score_of(views, extra)
    # Ganeti counts each candidate once, by the first check it fails: the
    # primary's (addPri), then the secondary's (addSec)
    idx = np.array([i])
    relaxed = np.zeros((1, 1), dtype=bool)
    codes = ev.failure_codes(views[:1], idx, soft, relaxed)
    # exclusive storage: the disks need real, free spindles
    fit = None
    if _exclusive(st).any() and not bool(st.diskless[i]):
        fit = spindles_fit(st, st.instances[i].spindles)
    short = np.int8(FAIL_CODE["FailSpindles"])
    if fit is not None:
        codes = np.where((codes == 0) & ~fit[p], short, codes)
    if len(views) > 1:
        second = ev.failure_codes(views[1:], idx, soft, relaxed)
        if fit is not None:
            second = np.where((second == 0) & ~fit[s], short, second)
        codes = np.where(codes == 0, second, codes)
    codes = np.broadcast_to(codes, np.broadcast_shapes(scores.shape, cand.shape))
    tally = np.bincount(codes[cand], minlength=len(FAIL_MODES))
    counts: Counter[str] = Counter(
        {FAIL_MODES[k]: int(c) for k, c in enumerate(tally.tolist()) if k and c}
    )
    ok = cand & (codes == 0)
    scores = np.where(ok, scores, np.inf)
    return scores, ok, counts, cand


def _last_first_order(scores: Arr, limit: int) -> Iterator[int]:
    """Up to ``limit`` flat indices of finite scores, ascending; equal scores latest first.

    hail needs the best one or a few of up to a million cells: taking them a
    score value at a time avoids sorting them all.
    """
    flat = scores.ravel()
    left = flat.copy()
    given = 0
    while given < limit:
        low = left.min() if left.size else np.inf
        if not np.isfinite(low):
            return
        tied = np.flatnonzero(left == low)
        for k in tied[::-1].tolist():
            yield k
            given += 1
            if given >= limit:
                return
        left[tied] = np.inf


def allocate_in_group(
    cluster: Cluster, group: Group, new: NewInstance, opts: AllocOptions
) -> tuple[GroupResult, GroupState | None]:
    inst = new.as_instance()
    st = _with_new(cluster, group, inst, opts.model)
    i = st.m - 1
    soft = opts.model.ignore_soft_errors
    allowed = np.array([nd.group == group.uuid for nd in st.nodes], dtype=bool)
    # exclusive storage is a group setting: its nodes all have it or none does
    dedicated = bool(allowed.any() and _exclusive(st)[allowed].all())
    # the command line's --restrict-allocation-to replaces the request's list
    restrict = opts.restrict_to or new.restrict_to
    if restrict:
        allowed &= np.array([nd.name in restrict for nd in st.nodes], dtype=bool)
    if new.networks and not set(new.networks) <= set(group.networks):
        return GroupResult(group, np.inf, [], 0, Counter({"FailNetwork": 1})), None
    required = 2 if new.required_nodes >= 2 or inst.mirror_internal else 1
    if int((allowed & st.online).sum()) < required:
        # Ganeti's words: one node needed and none there, or too few for a pair
        error = "No online nodes" if required == 1 else "Not enough online nodes"
        return GroupResult(group, np.inf, [], 0, Counter(), error=error), None
    broken = None if soft else policy_failure(inst, st.policy, dedicated)
    if broken is not None:
        # Ganeti checks the policy on each candidate: every one fails the same way
        k = int((allowed & st.online).sum())
        cells = k * (k - 1) if required == 2 else k
        return GroupResult(group, np.inf, [], 0, Counter({broken: max(cells, 1)})), None
    scores, ok, counts, _ = _evaluate_new(st, i, required, soft, allowed)
    successes = int(ok.sum())
    if successes == 0:
        return GroupResult(group, np.inf, [], 0, counts), None
    before = None
    mirrored = inst.mirror_internal or inst.mirror_external
    if not opts.no_capacity_checks and not dedicated:
        # Ganeti only accepts allocations that leave the group globally N+1
        # redundant (hail(1)): in a group that is not, every candidate fails
        in_group = np.array([nd.group == group.uuid for nd in st.nodes], dtype=bool)
        before = CapacityCheck(st, in_group)
        if before.failing:
            counts["FailN1"] += successes
            return GroupResult(group, np.inf, [], 0, counts), None
        # a non-mirrored instance cannot move anyway: the check is about failovers
        if not mirrored:
            before = None
    elif not opts.no_capacity_checks and mirrored:
        # exclusive storage: Ganeti ranks by lost allocations and lets a
        # placement through that leaves the group no worse off
        before = CapacityCheck(st)
    tries = min(successes, CAPACITY_TRIES if before is not None else 1)
    lost: dict[int, Lost] = {}
    if dedicated:
        lost = _lost_allocations(st, i, ok, required)
        order: Iterable[int] = sorted(lost, key=lambda k: (lost[k], -k))[:tries]
    else:
        # Ganeti keeps the last of equally good placements in (primary, secondary) order
        order = _last_first_order(scores, tries)
    for flat in order:
        row, col = divmod(flat, scores.shape[1])
        p, s = (row, col) if required == 2 else (col, -1)
        st.move(i, p, s)
        if before is None or before.failing_after(i) <= (before.failing if dedicated else 0):
            names = [st.nodes[p].name] + ([st.nodes[s].name] if s >= 0 else [])
            value = float(scores.flat[int(flat)])
            res = GroupResult(group, value, names, successes, counts, lost.get(flat))
            return res, st
        st.move(i, -1, -1)
    counts["FailN1"] += successes
    return GroupResult(group, np.inf, [], 0, counts), None


def _strict_count(free: float, need: float) -> int:
    """How many times ``need`` can be taken from ``free`` leaving some over (Ganeti's checks)."""
    if need <= 0:
        return 1 << 30
    return max(0, math.ceil(free / need) - 1)


def allocation_vector(
    policy: IPolicy,
    node: tuple[float, float, float, float, float],
    lvm: bool,
) -> tuple[int, ...]:
    """Per policy interval, largest first: how many minimal instances of it still fit.

    This is hail(1)'s allocation vector of a node with exclusive storage;
    ``node`` is (free memory, free disk, free spindles, used CPUs, CPU limit).
    Each interval is counted on the node as it is (they are alternatives).
    A minimal instance has the allocated instance's disk template: with
    ``lvm`` (plain, DRBD) one disk of the minimal size taking the minimal
    spindle use as spindles, otherwise no node disk space at all.
    """
    fmem, fdsk, fspin, ucpu, hi_cpu = node
    mins = sorted((lo for lo, _hi in policy.minmax), key=lambda x: x.as_tuple(), reverse=True)
    out = []
    for lo in mins:
        fits = [_strict_count(fmem, lo.memory_size)]
        if lvm:
            fits.append(_strict_count(fdsk, lo.disk_size))
        if lo.cpu_count > 0:
            fits.append(max(0, math.floor((hi_cpu - ucpu) / lo.cpu_count)))
        if lvm and lo.spindle_use > 0:
            fits.append(max(0, math.floor(fspin / lo.spindle_use)))
        out.append(min(fits))
    return tuple(out)


def _lost_allocations(st: GroupState, i: int, ok: BArr, required: int) -> dict[int, Lost]:
    """hail(1)'s lost-allocations metric of every feasible cell, by flat index.

    A node's loss is its allocation vector before minus after taking the
    instance; for a mirrored instance the secondary's loss is added to the
    primary's, and the free disk is the primary's.
    """
    inst = st.instances[i]
    free_sp = [float(nd.free_spindles) for nd in st.nodes]
    # only LVM-backed disks take the node's disk space and spindles
    spindles = float(inst.spindles or 0) if inst.local_storage else 0.0
    dsk = float(inst.dsk) if inst.local_storage else 0.0
    mem = float(inst.mem) if inst.running else 0.0
    cache: dict[tuple[int, bool], tuple[tuple[int, ...], int]] = {}

    def loss(j: int, primary: bool) -> tuple[tuple[int, ...], int]:
        key = (j, primary)
        if key not in cache:
            fmem, fdsk, ucpu = float(st.fmem[j]), float(st.fdsk[j]), float(st.ucpu[j])
            hi = float(st.hi_cpu[j])
            lvm = inst.local_storage
            pre = allocation_vector(st.policy, (fmem, fdsk, free_sp[j], ucpu, hi), lvm)
            take_mem, take_cpu = (mem, float(inst.vcpus)) if primary else (0.0, 0.0)
            after = (fmem - take_mem, fdsk - dsk, free_sp[j] - spindles, ucpu + take_cpu, hi)
            post = allocation_vector(st.policy, after, lvm)
            cache[key] = (tuple(a - b for a, b in zip(pre, post, strict=True)), round(fdsk - dsk))
        return cache[key]

    out: dict[int, Lost] = {}
    width = ok.shape[1]
    for flat in np.flatnonzero(ok.ravel()).tolist():
        row, col = divmod(flat, width)
        if required == 2:
            vec, left = loss(row, True)
            sec, _ = loss(col, False)
            vec = tuple(a + b for a, b in zip(vec, sec, strict=True))
        else:
            vec, left = loss(col, True)
        out[flat] = (vec, left)
    return out


def _candidate_groups(cluster: Cluster, name: str | None) -> list[Group]:
    groups = [g for g in cluster.groups if g.alloc_policy is not AllocPolicy.UNALLOCABLE]
    if name:
        groups = [g for g in cluster.groups if g.name == name or g.uuid == name]
    return groups


def allocate(cluster: Cluster, new: NewInstance, opts: AllocOptions) -> tuple[bool, str, list[str]]:
    """Place one new instance; returns (success, info, nodes) and records it in ``cluster``."""
    results = []
    for group in _candidate_groups(cluster, new.group_name):
        results.append(allocate_in_group(cluster, group, new, opts))
    good = [r for r in results if r[0].nodes]
    if not good:
        desc = ", ".join(r.describe() for r, _ in results) or "no node groups available"
        return False, f"Request failed: {desc}", []
    # the last of equally good groups wins; Ganeti lists the groups in input order
    best = min(reversed([r for r, _ in good]), key=GroupResult.rank)
    desc = ", ".join(r.describe() for r, _ in results)
    inst = new.as_instance()
    inst.pnode = best.nodes[0]
    inst.snode = best.nodes[1] if len(best.nodes) > 1 else ""
    _account(cluster, inst)
    cluster.instances.append(inst)
    return True, f"Request successful: Selected group: {best.group.name}, {desc}", best.nodes


def _account(cluster: Cluster, inst: Instance) -> None:
    """Subtract a newly placed instance from its nodes' free memory and disk figures."""
    by_name = {n.name: n for n in cluster.nodes}
    p = by_name[inst.pnode]
    if inst.running:
        p.f_mem -= inst.mem
    if inst.local_storage:
        p.f_dsk -= inst.dsk
    if inst.snode and inst.mirror_internal:
        by_name[inst.snode].f_dsk -= inst.dsk
    # exclusive storage: the disks take their spindles for good
    for name in (inst.pnode, inst.snode if inst.mirror_internal else ""):
        if name and by_name[name].excl_stor and inst.spindles and inst.local_storage:
            by_name[name].free_spindles -= inst.spindles


def _sync(cluster: Cluster, st: GroupState) -> None:
    """Copy a state's placement back into the cluster records."""
    st.to_cluster_nodes()


def group_of(cluster: Cluster, inst: Instance) -> Group:
    node = next(n for n in cluster.nodes if n.name == inst.pnode)
    group = cluster.group_by_uuid(node.group)
    assert group is not None
    return group


def _find(cluster: Cluster, name: str) -> Instance:
    for inst in cluster.instances:
        if inst.name == name:
            return inst
    raise KeyError(name)


def relocate(cluster: Cluster, req: Request, opts: AllocOptions) -> tuple[bool, str, list[str]]:
    """A new secondary (DRBD) or primary (shared storage) away from ``relocate_from``."""
    try:
        inst = _find(cluster, req.name)
    except KeyError:
        return False, f"Request failed: instance {req.name} not found", []
    from corral_htools.balance import evaluate_kind  # hbal's search: not needed to allocate

    group = group_of(cluster, inst)
    st = group_state(cluster, group.uuid, opts.model)
    i = st.inst_index[inst.name]
    ev = Evaluator(st)
    if inst.mirror_internal:
        kind = MoveKind.REPLACE_SECONDARY
    elif inst.mirror_external:
        kind = MoveKind.FAILOVER_TO_ANY
    else:
        return False, "Request failed: the instance's disk template cannot be relocated", []
    scores = evaluate_kind(ev, kind, np.array([i]), opts.model.ignore_soft_errors, None)[0]
    for name in req.relocate_from:
        if name in st.node_index:
            scores[st.node_index[name]] = np.inf
    no_room: list[str] = []
    if inst.mirror_internal:
        # the new secondary's disks need their spindles (exclusive storage)
        short = np.isfinite(scores) & ~spindles_fit(st, inst.spindles)
        no_room = [st.nodes[j].name for j in np.flatnonzero(short).tolist()]
        scores[short] = np.inf
    if not np.isfinite(scores).any():
        if no_room:
            why = "".join(f" Node {name} failed: FailSpindles;" for name in no_room)
            return False, f"Request failed: Can't find any good node: {why}", []
        return False, "Request failed: No valid allocation solutions", []
    t = int(np.argmin(scores))
    if inst.mirror_internal:
        inst.snode = st.nodes[t].name
    else:
        inst.pnode = st.nodes[t].name
    return True, "Request successful: success", [st.nodes[t].name]


def multi_allocate(
    cluster: Cluster, req: Request, opts: AllocOptions
) -> tuple[bool, str, list[Any]]:
    """multi-allocate: the instances one after the other, each seeing the ones before.

    As in Ganeti's hail, an instance that fits nowhere fails the whole
    request, with its reasons (so the answer's failed list stays empty).
    """
    allocated: list[Any] = []
    failed: list[Any] = []
    for new in req.new:
        ok, info, nodes = allocate(cluster, new, opts)
        if not ok:
            return False, info, []
        allocated.append([new.name, nodes])
    info = (
        f"Request successful: {len(failed)} instances failed to allocate and "
        f"{len(allocated)} were allocated successfully"
    )
    return True, info, [allocated, failed]


def allocate_secondary(cluster: Cluster, req: Request, opts: AllocOptions) -> tuple[bool, str, Any]:
    try:
        inst = _find(cluster, req.name)
    except KeyError:
        return False, f"Request failed: instance {req.name} not found", []
    from corral_htools.balance import evaluate_kind

    group = group_of(cluster, inst)
    st = group_state(cluster, group.uuid, opts.model)
    i = st.inst_index[inst.name]
    inst_drbd = Instance(**{**inst.__dict__, "template": "drbd"})
    st.instances[i] = inst_drbd
    st._build_instances(st.instances)
    ev = Evaluator(st)
    scores = evaluate_kind(
        ev, MoveKind.REPLACE_SECONDARY, np.array([i]), opts.model.ignore_soft_errors, None
    )
    # the instance has no secondary yet: any other online node with room qualifies
    sc = scores[0]
    sc[int(st.pnode[i])] = np.inf
    sc[~spindles_fit(st, inst.spindles)] = np.inf  # exclusive storage: real spindles
    good = int(np.isfinite(sc).sum())
    if not good:
        return False, "Request failed: No valid allocation solutions", []
    t = int(np.argmin(sc))
    bad = int(st.online.sum()) - 1 - good
    info = (
        f"Request successful: Group {group.name} ({group.alloc_policy.value}): "
        f"score: {sc[t]:.8f}, successes {good}, failures {bad} () for node(s) {st.nodes[t].name}"
    )
    return True, info, st.nodes[t].name


def answer(cluster: Cluster, req: Request, opts: AllocOptions) -> dict[str, Any]:
    """Run a request and build the answer document."""
    from corral_htools.evacuate import change_group  # they build on this module's helpers
    from corral_htools.evacuate import evacuate

    handlers = {
        "relocate": relocate,
        "node-evacuate": evacuate,
        "change-group": change_group,
        "multi-allocate": multi_allocate,
        "allocate-secondary": allocate_secondary,
    }
    if req.kind == "allocate":
        ok, info, result = allocate(cluster, req.new[0], opts)
        return {"success": ok, "info": info, "result": result if ok else []}
    success, info, res = handlers[req.kind](cluster, req, opts)
    return {"success": success, "info": info, "result": res if success else []}
