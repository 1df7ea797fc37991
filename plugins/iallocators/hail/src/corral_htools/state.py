"""One node group packed into numpy arrays, with instances placed on it.

Every tool works on this: the cost function reads per-node quantities
from it, hbal and hail evaluate hypothetical changes against it in bulk,
and applying a chosen move updates it in place.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from corral_htools.policy import policy_failure

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from corral_htools.model import Cluster
    from corral_htools.model import Instance
    from corral_htools.model import IPolicy
    from corral_htools.model import Node

    FloatArr = NDArray[np.float64]
    IntArr = NDArray[np.int64]
    BoolArr = NDArray[np.bool_]


@dataclass
class Options:
    """Knobs shared by the tools that change how the model is built or searched."""

    ignore_dynu: bool = False
    ignore_soft_errors: bool = False
    exclusion_tags: tuple[str, ...] = ()
    offline: tuple[str, ...] = ()
    static_n_mem: int | None = None


def _exclusion_prefixes(cluster: Cluster, opts: Options) -> list[str]:
    return [p + ":" for p in [*cluster.tag_prefixes("iextags"), *opts.exclusion_tags]]


class GroupState:
    """The nodes of one group (or any node set) and the instances on them.

    Node quantities that do not depend on placement are fixed arrays;
    placement-dependent ones (free memory, used CPUs, peers...) are kept
    up to date by :meth:`place` / :meth:`unplace`.
    """

    def __init__(
        self,
        cluster: Cluster,
        nodes: list[Node],
        instances: list[Instance],
        policy: IPolicy,
        opts: Options | None = None,
    ) -> None:
        self.opts = opts or Options()
        self.cluster = cluster
        self.nodes = nodes
        self.instances = instances
        self.policy = policy
        self.node_index = {n.name: i for i, n in enumerate(nodes)}
        n = len(nodes)
        self.n = n
        f = np.float64
        self.t_mem = np.array([x.t_mem for x in nodes], dtype=f)
        self.n_mem = np.array([x.n_mem for x in nodes], dtype=f)
        self.t_dsk = np.array([x.t_dsk for x in nodes], dtype=f)
        self.t_cpu = np.array([x.t_cpu for x in nodes], dtype=f)
        self.cpu_speed = np.array([x.cpu_speed for x in nodes], dtype=f)
        self.nos_cpu = np.array([x.nos_cpu for x in nodes], dtype=f)
        self.spindles = np.array([x.spindles for x in nodes], dtype=f)
        offline_names = set(self.opts.offline)
        self.offline = np.array(
            [x.offline or x.drained or x.name in offline_names for x in nodes], dtype=bool
        )
        self.online = ~self.offline
        self.hi_spindles = policy.spindle_ratio * self.spindles
        self.hi_cpu = policy.vcpu_ratio * self.t_cpu
        # node tags: location (failure domain)
        loc_prefixes = [p + ":" for p in cluster.tag_prefixes("nlocation")]
        self.node_locs = [
            frozenset(t for t in x.tags if any(t.startswith(p) for p in loc_prefixes))
            for x in nodes
        ]
        all_locs = sorted(set().union(*self.node_locs)) if nodes else []
        self.loc_ids = {t: i for i, t in enumerate(all_locs)}
        self.loc_onehot = np.zeros((n, max(1, len(all_locs))), dtype=bool)
        for i, locs in enumerate(self.node_locs):
            for t in locs:
                self.loc_onehot[i, self.loc_ids[t]] = True
        self.has_locations = bool(all_locs)
        li = self.loc_onehot.astype(np.int64)
        self.same_loc = (li @ li.T) > 0
        mig_ok = migration_matrix(cluster, nodes, nodes)
        self.has_migration_tags = mig_ok is not None
        # no migration tags: every pair is fine (and hail's n x n would be slow to build)
        self.mig_ok = np.ones((n, n), dtype=bool) if mig_ok is None else mig_ok
        self._build_instances(instances)

    # ----------------------------------------------------------------- instances

    def _build_instances(self, instances: list[Instance]) -> None:
        idx = self.node_index
        m = len(instances)
        self.m = m
        self.inst_index = {x.name: i for i, x in enumerate(instances)}
        f = np.float64
        self.mem = np.array([x.mem for x in instances], dtype=f)
        self.dsk = np.array([x.dsk for x in instances], dtype=f)
        self.vcpus = np.array([x.vcpus for x in instances], dtype=f)
        self.spu = np.array([x.spindle_use for x in instances], dtype=f)
        self.pnode = np.array([idx.get(x.pnode, -1) for x in instances], dtype=np.int64)
        self.snode = np.array(
            [idx.get(x.snode, -1) if x.snode else -1 for x in instances], dtype=np.int64
        )
        self.running = np.array([x.running for x in instances], dtype=bool)
        self.inst_offline = np.array([x.offline for x in instances], dtype=bool)
        self.forth = np.array([x.forthcoming for x in instances], dtype=bool)
        self.real = ~self.forth
        self.auto_balance = np.array([x.auto_balance for x in instances], dtype=bool)
        self.drbd = np.array([x.mirror_internal for x in instances], dtype=bool)
        self.external = np.array([x.mirror_external for x in instances], dtype=bool)
        self.diskless = np.array([x.template == "diskless" for x in instances], dtype=bool)
        self.local = np.array([x.local_storage for x in instances], dtype=bool)
        self.node_bound = np.array([x.node_bound for x in instances], dtype=bool)
        #: node-bound instances the capacity check cannot re-place: they break the
        #: policy of their node's group
        self.off_policy = np.array([self._off_policy(x) for x in instances], dtype=bool)
        util = 0.0 if self.opts.ignore_dynu else 1.0
        self.util = np.full(m, util, dtype=f)
        # memory the secondary must keep free to take the instance over
        self.sec_mem = np.where(self.drbd & self.auto_balance & ~self.inst_offline, self.mem, 0.0)
        # exclusion tags
        prefixes = _exclusion_prefixes(self.cluster, self.opts)
        xtags = [
            sorted({t for t in x.tags if any(t.startswith(p) for p in prefixes)}) for x in instances
        ]
        names = sorted(set().union(*map(set, xtags))) if instances else []
        self.xtag_ids = {t: i for i, t in enumerate(names)}
        self.xtags = np.zeros((m, max(1, len(names))), dtype=bool)
        for i, tags in enumerate(xtags):
            for t in tags:
                self.xtags[i, self.xtag_ids[t]] = True
        self.has_xtags = bool(names)
        # desired locations
        desired_prefixes = self.cluster.tag_prefixes("desiredlocation")
        self.desired = np.zeros((m, self.loc_onehot.shape[1]), dtype=bool)
        self.has_desired = np.zeros(m, dtype=bool)
        for i, x in enumerate(instances):
            for t in x.tags:
                if any(t.startswith(p) for p in desired_prefixes) and t in self.loc_ids:
                    self.desired[i, self.loc_ids[t]] = True
                    self.has_desired[i] = True
        # free resources with no instance placed (the file's figures have them subtracted)
        nodes = self.nodes
        f_mem = np.array([x.f_mem for x in nodes], dtype=f)
        f_dsk = np.array([x.f_dsk for x in nodes], dtype=f)
        pn, sn = self.pnode, self.snode
        has_p = pn >= 0
        has_s = sn >= 0
        used = self.running & has_p
        #: the free memory the node reported (Ganeti prints it as f_mem, unchanged by moves)
        self.f_mem_reported = f_mem
        f_mem0 = f_mem + np.bincount(pn[used], self.mem[used], minlength=self.n)
        #: memory in use that no instance explains (x_mem; negative: the node reports
        #: more free memory than its instances' sizes leave, e.g. KVM guests not grown yet)
        self.x_mem = self.t_mem - self.n_mem - f_mem0
        #: what a negative x_mem hides: Ganeti counts the records (u_mem), not the report
        self.x_hidden = np.where(self.t_mem > 0, np.maximum(0.0, -self.x_mem), 0.0)
        self.f_mem0 = f_mem0 - self.x_hidden
        dp = self.local & self.real & has_p
        ds = self.drbd & self.real & has_s
        self.f_dsk0 = (
            f_dsk
            + np.bincount(pn[dp], self.dsk[dp], minlength=self.n)
            + np.bincount(sn[ds], self.dsk[ds], minlength=self.n)
        )
        self.recompute()

    def recompute(self) -> None:
        """Rebuild every placement-dependent node array from the instance placement."""
        n = self.n
        pn, sn = self.pnode, self.snode
        has_p = pn >= 0
        has_s = sn >= 0
        real = self.real & has_p
        self.p_real = real
        bc = np.bincount

        def on_p(mask: BoolArr, w: FloatArr | None = None) -> FloatArr:
            return bc(pn[mask], None if w is None else w[mask], minlength=n).astype(np.float64)

        def on_s(mask: BoolArr, w: FloatArr | None = None) -> FloatArr:
            return bc(sn[mask], None if w is None else w[mask], minlength=n).astype(np.float64)

        run = self.running & has_p
        notoff_all = ~self.inst_offline & has_p
        self.fmem = self.f_mem0 - on_p(run, self.mem)
        # the forthcoming figure stays on the reported memory, as in Ganeti
        self.fmem_f = self.f_mem0 + self.x_hidden - on_p(notoff_all, self.mem)
        lp = self.local & has_p
        ls = self.drbd & has_s
        self.fdsk = self.f_dsk0 - on_p(lp & self.real, self.dsk) - on_s(ls & self.real, self.dsk)
        self.fdsk_f = self.f_dsk0 - on_p(lp, self.dsk) - on_s(ls, self.dsk)
        cpu_mask = ~self.inst_offline & has_p
        self.ucpu = self.nos_cpu + on_p(cpu_mask & self.real, self.vcpus)
        self.ucpu_f = self.nos_cpu + on_p(cpu_mask, self.vcpus)
        self.pcnt = on_p(real)
        self.scnt = on_s(self.real & has_s)
        self.pload = on_p(real, self.util)
        self.dload = self.pload + on_s(self.real & has_s, self.util)
        self.spin = on_p(lp & self.real, self.spu) + on_s(ls & self.real, self.spu)
        self.spin_f = on_p(lp, self.spu) + on_s(ls, self.spu)
        # peers[s, p]: memory node s must keep free for failovers from p
        peers = np.zeros((n, n), dtype=np.float64)
        pm = self.real & has_s & has_p
        np.add.at(peers, (sn[pm], pn[pm]), self.sec_mem[pm])
        self.peers = peers
        self.rmem = peers.max(axis=1) if n else np.zeros(0)
        # at load Ganeti compares the reported free memory (moves then use the records)
        self.n1flag = (self.fmem + self.x_hidden < self.rmem) & ((self.pcnt + self.scnt) > 0)
        # exclusion tags per node (counts of primaries carrying each tag)
        self.ptags = np.zeros((n, self.xtags.shape[1]), dtype=np.float64)
        if self.has_xtags:
            np.add.at(self.ptags, pn[real], self.xtags[real].astype(np.float64))

    def _off_policy(self, inst: Instance) -> bool:
        """Whether ``inst`` is node-bound and breaks its node's group policy (or this one's)."""
        if not inst.node_bound:
            return False
        j = self.node_index.get(inst.pnode)
        node = self.nodes[j] if j is not None else None
        group = self.cluster.group_by_uuid(node.group) if node is not None else None
        policy = self.cluster.policy_of(group) if group is not None else self.policy
        excl = node.excl_stor if node is not None else False
        return policy_failure(inst, policy, excl) is not None

    def append_instance(self, inst: Instance) -> int:
        """Add an unplaced, untagged new instance without rebuilding (hspace adds thousands).

        Only instances without tags may be added this way (their exclusion and
        location rows are all false); place it with :meth:`move`.
        """
        i = self.m
        self.instances.append(inst)
        self.inst_index[inst.name] = i
        self.m = i + 1
        f = np.float64

        def grow(name: str, value: object, dtype: type) -> None:
            setattr(self, name, np.append(getattr(self, name), np.array([value], dtype=dtype)))

        for name, value in (
            ("mem", inst.mem),
            ("dsk", inst.dsk),
            ("vcpus", inst.vcpus),
            ("spu", inst.spindle_use),
            ("util", 0.0 if self.opts.ignore_dynu else 1.0),
        ):
            grow(name, value, f)
        grow("pnode", -1, np.int64)
        grow("snode", -1, np.int64)
        for name, flag in (
            ("running", inst.running),
            ("inst_offline", inst.offline),
            ("forth", inst.forthcoming),
            ("real", not inst.forthcoming),
            ("auto_balance", inst.auto_balance),
            ("drbd", inst.mirror_internal),
            ("external", inst.mirror_external),
            ("diskless", inst.template == "diskless"),
            ("local", inst.local_storage),
            ("node_bound", inst.node_bound),
            ("off_policy", self._off_policy(inst)),
            ("has_desired", False),
        ):
            grow(name, flag, bool)
        sec = inst.mem if inst.mirror_internal and inst.auto_balance and not inst.offline else 0
        grow("sec_mem", sec, f)
        self.xtags = np.vstack([self.xtags, np.zeros((1, self.xtags.shape[1]), dtype=bool)])
        self.desired = np.vstack([self.desired, np.zeros((1, self.desired.shape[1]), dtype=bool)])
        return i

    def pop_instance(self) -> None:
        """Drop the last instance added by :meth:`append_instance` (it must be unplaced)."""
        i = self.m - 1
        assert self.pnode[i] < 0
        inst = self.instances.pop()
        del self.inst_index[inst.name]
        self.m = i
        for name in (
            "mem dsk vcpus spu util pnode snode running inst_offline forth real auto_balance "
            "drbd external diskless local node_bound off_policy has_desired sec_mem xtags desired"
        ).split():
            setattr(self, name, getattr(self, name)[:i])

    # ------------------------------------------------------------------ changes

    def move(self, i: int, new_p: int, new_s: int) -> None:
        """Place instance ``i`` on new nodes (-1: none) and refresh the node arrays."""
        old_p, old_s = int(self.pnode[i]), int(self.snode[i])
        # nodes whose role changed, and secondaries whose peer (the primary) changed
        touched = ({old_p, new_p} if old_p != new_p else set()) | (
            {old_s, new_s} if old_s != new_s or old_p != new_p else set()
        )
        touched.discard(-1)
        self._shift(i, -1.0)
        self.pnode[i] = new_p
        self.snode[i] = new_s
        self._shift(i, 1.0)
        for j in touched:
            self.n1flag[j] = bool(self.fmem[j] <= self.rmem[j])

    def _shift(self, i: int, sign: float) -> None:
        p = int(self.pnode[i])
        s = int(self.snode[i])
        mem, dsk, real = self.mem[i], self.dsk[i], bool(self.real[i])
        if p >= 0:
            if self.running[i]:
                self.fmem[p] -= sign * mem
            if not self.inst_offline[i]:
                self.fmem_f[p] -= sign * mem
                self.ucpu_f[p] += sign * self.vcpus[i]
                if real:
                    self.ucpu[p] += sign * self.vcpus[i]
            if self.local[i]:
                self.fdsk_f[p] -= sign * dsk
                self.spin_f[p] += sign * self.spu[i]
                if real:
                    self.fdsk[p] -= sign * dsk
                    self.spin[p] += sign * self.spu[i]
            if real:
                self.pcnt[p] += sign
                self.pload[p] += sign * self.util[i]
                self.dload[p] += sign * self.util[i]
                if self.has_xtags:
                    self.ptags[p] += sign * self.xtags[i]
        if s >= 0 and self.drbd[i]:
            self.fdsk_f[s] -= sign * dsk
            self.spin_f[s] += sign * self.spu[i]
            if real:
                self.fdsk[s] -= sign * dsk
                self.spin[s] += sign * self.spu[i]
                self.scnt[s] += sign
                self.dload[s] += sign * self.util[i]
                if p >= 0:
                    self.peers[s, p] += sign * self.sec_mem[i]
                    self.rmem[s] = self.peers[s].max()

    # ------------------------------------------------------------------- queries

    def fail_n1(self) -> BoolArr:
        """Nodes that could not take over their secondaries' memory (N+1 failure).

        Ganeti flags a node when it is loaded if its free memory is below the
        reservation, and, when a move touches it, if it is at or below it; the
        flags are kept the same way here so that scores agree.
        """
        res: BoolArr = self.n1flag & self.online
        return res

    def tag_conflicts(self) -> FloatArr:
        """Per node: primaries sharing an exclusion tag with another primary there."""
        if not self.has_xtags:
            return np.zeros(self.n)
        res: FloatArr = np.clip(self.ptags - 1.0, 0.0, None).sum(axis=1)
        return res

    def location_conflicts(self) -> FloatArr:
        """Per instance: primary and secondary share a failure domain, or desire unmet.

        As in Ganeti, where this is a score of the primary node, an instance
        on an offline primary counts for nothing.
        """
        m = self.m
        out = np.zeros(m)
        if not self.has_locations:
            return out
        pn, sn = self.pnode, self.snode
        live = (pn >= 0) & self.real
        live &= self.online[np.clip(pn, 0, None)]
        both = live & (sn >= 0)
        out[both] += self.same_loc[pn[both], sn[both]]
        want = self.has_desired & live
        if want.any():
            out[want] += (self.desired[want] & ~self.loc_onehot[pn[want]]).sum(axis=1)
        return out

    def location_exclusion(self) -> float:
        """Sum over (location, exclusion tag) pairs of the primaries beyond the first."""
        if not (self.has_locations and self.has_xtags):
            return 0.0
        pn = self.pnode
        real = self.real & (pn >= 0) & self.online[np.clip(pn, 0, None)]
        counts = self.loc_onehot[pn[real]].astype(np.float64).T @ self.xtags[real].astype(
            np.float64
        )
        return float(np.clip(counts - 1.0, 0.0, None).sum())

    def bad_instances(self) -> int:
        """Instances on N+1-failing nodes, or on offline nodes."""
        bad = self.fail_n1()
        pn, sn = self.pnode, self.snode
        hit = (pn >= 0) & bad[np.clip(pn, 0, None)]
        hit |= (sn >= 0) & bad[np.clip(sn, 0, None)]
        return int((hit & self.real).sum())

    def to_cluster_nodes(self) -> None:
        """Write the current placement back into the Instance records."""
        for i, inst in enumerate(self.instances):
            p, s = int(self.pnode[i]), int(self.snode[i])
            if p >= 0:
                inst.pnode = self.nodes[p].name
            inst.snode = self.nodes[s].name if s >= 0 else ""
        # the file figures of free memory/disk follow the placement
        for j, node in enumerate(self.nodes):
            if node.unknown_resources:
                continue
            node.f_mem = round(self.fmem[j])
            node.f_dsk = round(self.fdsk[j])


def migration_matrix(cluster: Cluster, src: list[Node], dst: list[Node]) -> BoolArr | None:
    """Whether an instance may migrate from each of ``src`` to each of ``dst``; None: no tags.

    A node may take over the instances of nodes whose migration tags it all
    has; ``htools:allowmigration:X::Y`` lets a node tagged Y accept what a
    node tagged X would.
    """
    prefixes = [p + ":" for p in cluster.tag_prefixes("migration")]

    def classes(node: Node) -> set[str]:
        return {t for t in node.tags if any(t.startswith(p) for p in prefixes)}

    mig = [classes(x) for x in src]
    if not any(mig) and not any(classes(x) for x in dst):
        return None
    allow = [v.split("::", 1) for v in cluster.tag_prefixes("allowmigration") if "::" in v]
    accept = [classes(x) | {a for a, b in allow if b in set(x.tags)} for x in dst]
    res: BoolArr = np.array([[a <= b for b in accept] for a in mig], dtype=bool).reshape(
        len(src), len(dst)
    )
    return res


def group_state(
    cluster: Cluster, group_uuid: str | None, opts: Options | None = None
) -> GroupState:
    """The state of one group (``None``: every node, for single-group files)."""
    if group_uuid is None:
        nodes = list(cluster.nodes)
        policy = cluster.policy_of(cluster.groups[0]) if cluster.groups else cluster.ipolicy
    else:
        nodes = [n for n in cluster.nodes if n.group == group_uuid]
        group = cluster.group_by_uuid(group_uuid)
        policy = cluster.policy_of(group) if group is not None else cluster.ipolicy
    names = {n.name for n in nodes}
    insts = [i for i in cluster.instances if i.pnode in names]
    return GroupState(cluster, nodes, insts, policy, opts)
