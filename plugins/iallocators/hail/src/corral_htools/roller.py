"""hroller's planner: which nodes can be rebooted together, and what must move first.

1. Select the nodes (online, in the wanted group, carrying one of the tags,
   optionally only those without non-redundant instances) and colour the
   node graph (:mod:`corral_htools.nodegraph`): each colour class can be
   rebooted at once as far as DRBD pairs go.
2. Non-redundant instances (no secondary) have to leave a node before it
   reboots. Each class is split greedily: nodes are added in index order
   while all their non-redundant instances still find a node outside the
   reboot group, first fit in node order, within their node group.
3. With ``--full-evacuation``, the DRBD instances go too: primaries migrate
   to their secondary and then get a new secondary, secondaries are
   replaced; each group is split again the same way.
4. Larger groups come first; the master's group goes last, the master last
   in it.

Every group is planned on the cluster as loaded: the instances are assumed
to move back after each reboot. The order in which instances are tried is
Ganeti's (per node, most recently placed first), so that first-fit makes
the same choices. Moves are forced, as in Ganeti: a target needs room
(memory of a running instance, disk), not N+1 or ratio headroom.

Deliberate differences from Ganeti 3.0's hroller, where it is plainly wrong:

- nodes outside the selection (offline, other group, without the tags)
  are never planned; Ganeti also empties them when they share a colour
  class with selected nodes, and then prints an empty group;
- with ``--full-evacuation``, a group lists the non-redundant moves of its
  own nodes only (Ganeti repeats those of the group it was split from);
- a DRBD instance whose secondary is offline stays where it is (Ganeti
  would migrate it onto the offline node).
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field
from typing import TYPE_CHECKING

import numpy as np

from corral_htools import nodegraph
from corral_htools.fit import failover_ok
from corral_htools.fit import primary_targets
from corral_htools.fit import secondary_targets
from corral_htools.state import group_state

if TYPE_CHECKING:
    from collections.abc import Callable

    from corral_htools.model import Cluster
    from corral_htools.nodegraph import NodeGraph
    from corral_htools.state import GroupState
    from corral_htools.state import Options


class RollerError(Exception):
    """The plan cannot be made; the message is what the user sees."""


@dataclass
class RollerOptions:
    offline_maintenance: bool = False
    ignore_non_redundant: bool = False
    skip_non_redundant: bool = False
    full_evacuation: bool = False
    #: restrict to nodes with at least one of these tags (``None``: no restriction)
    node_tags: tuple[str, ...] | None = None
    #: restrict to this node group (UUID)
    group: str | None = None
    ignore_soft_errors: bool = False


@dataclass
class RebootGroup:
    """Nodes (cluster indices) to reboot together, and where instances go meanwhile."""

    nodes: list[int]
    #: instance index -> (new primary, new secondary or -1), cluster indices
    moves: dict[int, tuple[int, int]] = field(default_factory=dict)


@dataclass
class Plan:
    graph: NodeGraph
    colourings: dict[str, list[list[int]]]
    groups: list[RebootGroup]


@dataclass
class _Step:
    inst: int
    old_p: int
    old_s: int
    new_p: int
    new_s: int
    #: where the instance sat in the old nodes' stacks, to put it back on undo
    p_pos: int
    s_pos: int


class Placement:
    """The cluster's instances on per-group states, with an undo journal.

    Besides the numeric state, each node keeps its primaries and secondaries
    as stacks (latest arrival first), the order in which they are evacuated.
    """

    def __init__(self, cluster: Cluster, opts: Options) -> None:
        self.cluster = cluster
        n = len(cluster.nodes)
        self.node_at: list[tuple[GroupState, int] | None] = [None] * n
        self.inst_at: list[tuple[GroupState, int] | None] = [None] * len(cluster.instances)
        gidx = {n.name: k for k, n in enumerate(cluster.nodes)}
        iidx = {id(x): k for k, x in enumerate(cluster.instances)}
        self.states: list[GroupState] = []
        self.local_to_node: dict[int, list[int]] = {}
        for group in cluster.groups:
            st = group_state(cluster, group.uuid, opts)
            if st.n == 0:
                continue
            self.states.append(st)
            self.local_to_node[id(st)] = [gidx[x.name] for x in st.nodes]
            for j, node in enumerate(st.nodes):
                self.node_at[gidx[node.name]] = (st, j)
            for i, inst in enumerate(st.instances):
                self.inst_at[iidx[id(inst)]] = (st, i)
        self.plist: list[list[int]] = [[] for _ in range(n)]
        self.slist: list[list[int]] = [[] for _ in range(n)]
        self.orig: list[tuple[int, int]] = [(-1, -1)] * len(cluster.instances)
        for gi in range(len(cluster.instances) - 1, -1, -1):
            p, s = self.where(gi)
            self.orig[gi] = (p, s)
            if p >= 0:
                self.plist[p].append(gi)
            if s >= 0:
                self.slist[s].append(gi)
        self.journal: list[_Step] = []

    def where(self, gi: int) -> tuple[int, int]:
        """Current (primary, secondary) cluster node indices of instance ``gi``."""
        at = self.inst_at[gi]
        if at is None:
            return -1, -1
        st, i = at
        names = self.local_to_node[id(st)]
        p, s = int(st.pnode[i]), int(st.snode[i])
        return (names[p] if p >= 0 else -1), (names[s] if s >= 0 else -1)

    def has_secondary(self, gi: int) -> bool:
        return self.where(gi)[1] >= 0

    def local_mask(self, st: GroupState, nodes: set[int]) -> np.ndarray:
        """``st``'s nodes that are in the cluster node set ``nodes``."""
        mask = np.zeros(st.n, dtype=bool)
        for k in nodes:
            at = self.node_at[k]
            if at is not None and at[0] is st:
                mask[at[1]] = True
        return mask

    def move(self, gi: int, new_p: int, new_s: int) -> None:
        at = self.inst_at[gi]
        assert at is not None
        st, i = at
        old_p, old_s = self.where(gi)
        p_pos = s_pos = -1
        if new_p != old_p:
            p_pos = self.plist[old_p].index(gi)
            del self.plist[old_p][p_pos]
            self.plist[new_p].insert(0, gi)
        if new_s != old_s:
            if old_s >= 0:
                s_pos = self.slist[old_s].index(gi)
                del self.slist[old_s][s_pos]
            if new_s >= 0:
                self.slist[new_s].insert(0, gi)
        lp = self.node_at[new_p]
        ls = self.node_at[new_s] if new_s >= 0 else None
        assert lp is not None and lp[0] is st
        st.move(i, lp[1], ls[1] if ls is not None else -1)
        self.journal.append(_Step(gi, old_p, old_s, new_p, new_s, p_pos, s_pos))

    def mark(self) -> int:
        return len(self.journal)

    def undo(self, mark: int) -> None:
        """Take back every move made since ``mark``, restoring the stacks' order."""
        while len(self.journal) > mark:
            step = self.journal.pop()
            at = self.inst_at[step.inst]
            assert at is not None
            st, i = at
            if step.new_p != step.old_p:
                self.plist[step.new_p].remove(step.inst)
                self.plist[step.old_p].insert(step.p_pos, step.inst)
            if step.new_s != step.old_s:
                if step.new_s >= 0:
                    self.slist[step.new_s].remove(step.inst)
                if step.old_s >= 0:
                    self.slist[step.old_s].insert(step.s_pos, step.inst)
            lp = self.node_at[step.old_p]
            ls = self.node_at[step.old_s] if step.old_s >= 0 else None
            assert lp is not None
            st.move(i, lp[1], ls[1] if ls is not None else -1)

    def moves_since(self, mark: int) -> dict[int, tuple[int, int]]:
        """Where every instance moved since ``mark`` is now."""
        return {step.inst: self.where(step.inst) for step in self.journal[mark:]}

    def replay(self, steps: list[_Step]) -> None:
        for step in steps:
            self.move(step.inst, step.new_p, step.new_s)


class Roller:
    """Plans the reboot groups of one cluster (see the module docstring)."""

    def __init__(self, cluster: Cluster, model: Options, opts: RollerOptions) -> None:
        self.cluster = cluster
        self.opts = opts
        self.soft = opts.ignore_soft_errors or model.ignore_soft_errors
        self.pl = Placement(cluster, model)
        offline = set(model.offline)
        self.online = [not (n.offline or n.drained or n.name in offline) for n in cluster.nodes]

    # ------------------------------------------------------------- selection

    def members(self) -> set[int]:
        """The nodes to schedule."""
        out = set()
        tags = self.opts.node_tags
        for k, node in enumerate(self.cluster.nodes):
            if not self.online[k]:
                continue
            if self.opts.group is not None and node.group != self.opts.group:
                continue
            if tags is not None and not set(tags) & set(node.tags):
                continue
            if self.opts.skip_non_redundant and any(
                not self.pl.has_secondary(gi) for gi in self.pl.plist[k]
            ):
                continue
            out.add(k)
        return out

    def graph(self, members: set[int]) -> NodeGraph | None:
        pairs = [
            (p, s)
            for p, s in (self.pl.where(gi) for gi in range(len(self.cluster.instances)))
            if p >= 0 and s >= 0
        ]
        return nodegraph.build_graph(pairs, members, not self.opts.offline_maintenance)

    # ------------------------------------------------------------- clearing

    def _first(self, st: GroupState, ok: np.ndarray, excluded: set[int]) -> int:
        """The first allowed node (cluster index) outside ``excluded``, or -1."""
        ok = ok & ~self.pl.local_mask(st, excluded)
        hits = np.flatnonzero(ok)
        return self.pl.local_to_node[id(st)][int(hits[0])] if hits.size else -1

    def _clear_non_redundant(self, node: int, excluded: set[int]) -> bool:
        """Move the non-redundant instances off ``node``, first fit."""
        for gi in list(self.pl.plist[node]):
            if self.pl.has_secondary(gi):
                continue
            at = self.pl.inst_at[gi]
            assert at is not None
            st, i = at
            t = self._first(st, primary_targets(st, i, self.soft, forced=True), excluded)
            if t < 0:
                return False
            self.pl.move(gi, t, -1)
        return True

    def _migratable(self, gi: int) -> bool:
        """A DRBD instance whose secondary is up (one on an offline secondary stays put)."""
        s = self.pl.where(gi)[1]
        return s >= 0 and self.online[s]

    def _new_secondary(self, gi: int, excluded: set[int]) -> bool:
        at = self.pl.inst_at[gi]
        assert at is not None
        st, i = at
        t = self._first(st, secondary_targets(st, i, self.soft, forced=True), excluded)
        if t < 0:
            return False
        self.pl.move(gi, self.pl.where(gi)[0], t)
        return True

    def _clear_redundant(self, node: int, excluded: set[int]) -> bool:
        """Migrate the DRBD primaries off ``node``, then re-home every DRBD disk left there."""
        for gi in list(self.pl.plist[node]):
            if not self._migratable(gi):
                continue
            at = self.pl.inst_at[gi]
            assert at is not None
            if not failover_ok(at[0], at[1], self.soft, forced=True):
                return False
            p, s = self.pl.where(gi)
            self.pl.move(gi, s, p)
        return all(self._new_secondary(gi, excluded) for gi in list(self.pl.slist[node]))

    def _migrations_possible(self, nodes: list[int]) -> bool:
        """Can every DRBD primary on ``nodes`` migrate to its secondary, all at once?"""
        mark = self.pl.mark()
        try:
            for node in nodes:
                for gi in list(self.pl.plist[node]):
                    if not self._migratable(gi):
                        continue
                    at = self.pl.inst_at[gi]
                    assert at is not None
                    if not failover_ok(at[0], at[1], self.soft, forced=True):
                        return False
                    p, s = self.pl.where(gi)
                    self.pl.move(gi, s, p)
            return True
        finally:
            self.pl.undo(mark)

    def _partition(
        self, nodes: list[int], clear: Callable[[int, set[int]], bool], error: str
    ) -> list[tuple[list[int], list[_Step]]]:
        """Split ``nodes`` greedily into groups whose nodes ``clear`` can empty together.

        Each group is planned from the current state, which is restored after.
        """
        parts: list[tuple[list[int], list[_Step]]] = []
        remaining = nodes
        while remaining:
            base = self.pl.mark()
            group: list[int] = []
            rest: list[int] = []
            for node in remaining:
                mark = self.pl.mark()
                if clear(node, {*group, node}):
                    group.append(node)
                    continue
                self.pl.undo(mark)
                if not group:
                    self.pl.undo(base)
                    raise RollerError(error)
                rest.append(node)
            parts.append((group, self.pl.journal[base:]))
            self.pl.undo(base)
            remaining = rest
        return parts

    # ------------------------------------------------------------- planning

    def node_graph(self) -> NodeGraph:
        """The graph of the selected nodes; fails when none is selected."""
        graph = self.graph(self.members())
        if graph is None:
            raise RollerError("Cannot create node graph")
        return graph

    def plan(self, graph: NodeGraph | None = None) -> Plan:
        if graph is None:
            graph = self.node_graph()
        members = self.members()
        found = nodegraph.colourings(graph)
        classes = [[v for v in c if v in members] for c in nodegraph.best(found)]
        parts: list[tuple[list[int], list[_Step]]] = []
        for nodes in filter(None, classes):
            if self.opts.ignore_non_redundant:
                parts.append((nodes, []))
            else:
                parts += self._partition(
                    nodes,
                    self._clear_non_redundant,
                    "Not enough capacity to move non-redundant instances",
                )
        groups: list[RebootGroup] = []
        for nodes, steps in parts:
            if self.opts.full_evacuation:
                groups += self._evacuate(nodes, steps)
            else:
                groups.append(self._group(nodes, steps))
        return Plan(graph, found, self._order(groups))

    def _group(self, nodes: list[int], steps: list[_Step]) -> RebootGroup:
        mark = self.pl.mark()
        self.pl.replay(steps)
        moves = self.pl.moves_since(mark)
        self.pl.undo(mark)
        return RebootGroup(list(nodes), moves)

    def _evacuate(self, nodes: list[int], steps: list[_Step]) -> list[RebootGroup]:
        """Split a group further so that its DRBD instances can be moved off too."""
        mark = self.pl.mark()
        self.pl.replay(steps)
        try:
            non_redundant = self.pl.moves_since(mark)
            if not self._migrations_possible(nodes):
                raise RollerError("Failed to migrate instances off nodes")
            subparts = self._partition(
                nodes, self._clear_redundant, "Not enough capacity to move secondaries"
            )
            out = []
            for sub, sub_steps in subparts:
                group = self._group(sub, sub_steps)
                inside = set(sub)
                for gi, dest in non_redundant.items():
                    if self.pl.orig[gi][0] in inside:
                        group.moves[gi] = dest
                out.append(group)
            return out
        finally:
            self.pl.undo(mark)

    def _order(self, groups: list[RebootGroup]) -> list[RebootGroup]:
        """Larger groups first; the master node last, in the last group."""
        groups = sorted(groups, key=lambda g: -len(g.nodes))
        master = next((k for k, n in enumerate(self.cluster.nodes) if n.master), None)
        with_master = [g for g in groups if master in g.nodes]
        if master is None or not with_master:
            return groups
        last = with_master[0]
        last.nodes = [k for k in last.nodes if k != master] + [master]
        return [g for g in groups if g is not last] + [last]
