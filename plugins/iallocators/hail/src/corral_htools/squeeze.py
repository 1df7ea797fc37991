"""hsqueeze's planning: which nodes to power off, or which standby nodes to power on.

Free capacity is measured as "can every node still take one more instance
of F times the policy's standard size" (Ganeti's hsqueeze). If that fails
for the minimal factor, standby nodes (offline, tagged ``htools:standby:*``)
are brought back: the shortest prefix of them that, after balancing,
restores the minimal capacity. Otherwise online non-master nodes that hold
no node-local (plain or DRBD) disk are taken out, greedily from the least loaded
one, as long as balancing the rest moves every instance off them and
leaves the target capacity on every node.

Each candidate set is judged from the loaded cluster afresh: its nodes are
switched off (or on), the cluster is balanced as hbal would (no minimum
gain), and the balanced state is checked.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from corral_htools.balance import BalanceOptions
from corral_htools.balance import balance
from corral_htools.state import group_state

if TYPE_CHECKING:
    from collections.abc import Sequence

    from corral_htools.model import Cluster
    from corral_htools.model import ISpec
    from corral_htools.moves import Move
    from corral_htools.state import GroupState
    from corral_htools.state import Options

#: Nodes tagged with this prefix and offline may be powered on again.
STANDBY_PREFIX = "htools:standby:"
#: The tag hsqueeze asks to put on the nodes it powers off.
STANDBY_AUTO = "htools:standby:auto"
#: Ganeti's defaults for ``--minimal-resources`` and ``--target-resources``.
DEFAULT_MINIMAL = 2.0
DEFAULT_TARGET = 2.0


@dataclass(frozen=True)
class Probe:
    """The standard instance scaled by a factor (rounded down): what every node must fit.

    It stands for a running shared-storage instance, so it takes memory and
    CPUs but no node disk (nor spindles).
    """

    mem: int
    vcpus: int

    @classmethod
    def scaled(cls, std: ISpec, factor: float) -> Probe:
        return cls(math.floor(factor * std.memory_size), math.floor(factor * std.cpu_count))


def room_everywhere(st: GroupState, probe: Probe, soft: bool) -> bool:
    """Whether every node could take ``probe`` as one more primary.

    Ganeti's hsqueeze asks this of the offline nodes too (an offline node
    with little free memory blocks the plan), so this is not
    :func:`corral_htools.fit.primary_targets`, which only offers online
    nodes. The rules are the same for a running shared-storage instance:
    memory must be left (also once stopped instances start), the N+1
    reservation must stay covered unless the node already fails it, and
    the CPU ratio must hold unless soft errors are ignored. A node without
    free memory fails even a zero-sized probe.
    """
    left = st.fmem - probe.mem
    ok = (left > 0) & (st.fmem_f - probe.mem > 0) & (st.n1flag | (left > st.rmem))
    if not soft:
        ok &= st.ucpu + probe.vcpus <= st.hi_cpu
    return bool(ok.all())


def all_on_online_nodes(st: GroupState) -> bool:
    """Whether no instance has its primary on an offline node."""
    placed = st.pnode[st.pnode >= 0]
    return bool(st.online[placed].all())


class Action(enum.Enum):
    """What hsqueeze proposes."""

    NONE = "No action"
    OFFLINE = "Nodes to offline"
    ONLINE = "Nodes to online"


@dataclass
class Trial:
    """A set of nodes switched off (or on) and the cluster balanced around it."""

    nodes: list[int]
    state: GroupState
    moves: list[Move]


@dataclass
class Plan:
    """hsqueeze's answer: the action, its nodes and the balanced cluster that results."""

    action: Action
    trial: Trial
    #: False when even powering on every standby node leaves too little capacity
    enough: bool = True


class Squeezer:
    """Plans power changes for one loaded cluster (all its nodes, as Ganeti does)."""

    def __init__(self, cluster: Cluster, opts: Options, soft: bool = False) -> None:
        self.cluster = cluster
        self.opts = opts
        self.soft = soft
        self.base = self._state()
        self.balancing = BalanceOptions(
            min_score=-math.inf, min_gain=0.0, min_gain_limit=0.0, ignore_soft_errors=soft
        )

    def _state(self) -> GroupState:
        return group_state(self.cluster, None, self.opts)

    def offline_candidates(self) -> list[int]:
        """Online non-master nodes holding no node-local disk, most primaries first.

        A DRBD disk (either side) or a plain one keeps a node on, as in
        Ganeti; other node-bound instances (file, diskless) do not, though
        balancing cannot move them, so such a node is never taken out. Ties
        keep the nodes' order.
        """
        st = self.base
        placed = st.pnode >= 0
        pri_count = np.bincount(st.pnode[placed], minlength=st.n)
        pinned = np.zeros(st.n, dtype=bool)
        pinned[st.snode[st.snode >= 0]] = True
        pinned[st.pnode[placed & ((st.snode >= 0) | st.local)]] = True
        nodes = [
            j for j in range(st.n) if st.online[j] and not st.nodes[j].master and not pinned[j]
        ]
        return sorted(nodes, key=lambda j: -int(pri_count[j]))

    def online_candidates(self) -> list[int]:
        """Offline nodes with a standby tag, in the cluster's order."""
        st = self.base
        return [
            j
            for j in range(st.n)
            if st.offline[j] and any(t.startswith(STANDBY_PREFIX) for t in st.nodes[j].tags)
        ]

    def trial(self, nodes: Sequence[int], offline: bool) -> Trial:
        """Switch ``nodes`` off (or on) in a fresh copy of the cluster and balance it."""
        st = self._state()
        st.offline[list(nodes)] = offline
        st.online = ~st.offline
        steps = balance(st, self.balancing)
        return Trial(list(nodes), st, [move for move, _ in steps])

    def acceptable(self, trial: Trial, probe: Probe) -> bool:
        return all_on_online_nodes(trial.state) and room_everywhere(trial.state, probe, self.soft)

    def plan(self, minimal: float, target: float) -> Plan:
        std = self.cluster.ipolicy.std
        low = Probe.scaled(std, minimal)
        if not room_everywhere(self.base, low, self.soft):
            return self._expand(low)
        return self._squeeze(Probe.scaled(std, target))

    def _expand(self, probe: Probe) -> Plan:
        """Power on the shortest prefix of the standby nodes that restores the capacity."""
        cands = self.online_candidates()
        last: Trial | None = None
        for k in range(len(cands) + 1):
            last = self.trial(cands[:k], offline=False)
            if self.acceptable(last, probe):
                return Plan(Action.ONLINE, last)
        assert last is not None
        return Plan(Action.ONLINE, last, enough=False)

    def _squeeze(self, probe: Probe) -> Plan:
        """Greedily take nodes out, least loaded first, keeping those that still leave room."""
        chosen: list[int] = []
        kept: Trial | None = None
        for j in reversed(self.offline_candidates()):
            attempt = self.trial([j, *chosen], offline=True)
            if self.acceptable(attempt, probe):
                chosen, kept = attempt.nodes, attempt
        if kept is None:
            return Plan(Action.NONE, Trial([], self.base, []))
        return Plan(Action.OFFLINE, kept)
