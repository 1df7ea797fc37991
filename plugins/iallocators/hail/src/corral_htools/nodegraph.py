"""hroller's node graph and the colourings that turn it into reboot groups.

Nodes are vertices; two nodes are adjacent when rebooting them together
would take an instance down: the primary and secondary of one instance
(always), and, for online maintenance, the primaries of two instances that
share a secondary (both would migrate onto it). A colour class is then a
set of nodes that can be rebooted at the same time.

Like Ganeti, the graph spans every node index between the lowest and the
highest selected node (unselected ones in between are isolated vertices),
edge lists keep duplicates (they weigh in the degrees), and three greedy
heuristics are run; the one with the fewest colours wins, ties going to
LF, then Dsatur, then Dcolor.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from collections.abc import Callable
    from collections.abc import Sequence

#: The colouring heuristics, in order of preference on ties.
ALGORITHMS = ("LF", "Dsatur", "Dcolor")


@dataclass
class NodeGraph:
    """Vertices ``lo..hi`` (node indices) with their adjacency lists (duplicates kept)."""

    lo: int
    adj: list[list[int]]
    #: the edges in the order they were generated (for the ``-v -v`` dump)
    edges: list[tuple[int, int]]

    @property
    def hi(self) -> int:
        return self.lo + len(self.adj) - 1

    def neighbours(self, v: int) -> list[int]:
        return self.adj[v - self.lo]

    def dump(self) -> str:
        """The graph as Ganeti prints it: a Haskell array of adjacency lists."""
        lists: list[list[int]] = [[] for _ in self.adj]
        for a, b in self.edges:
            lists[a - self.lo].append(b)
        cells = ",".join(
            f"({self.lo + k},[{','.join(map(str, reversed(row)))}])" for k, row in enumerate(lists)
        )
        return f"array ({self.lo},{self.hi}) [{cells}]"


def build_graph(
    pairs: Sequence[tuple[int, int]], members: set[int], shared_secondaries: bool
) -> NodeGraph | None:
    """The node graph of the selected nodes ``members``; ``None`` if there are none.

    ``pairs`` are the (primary, secondary) node indices of the instances that
    have a secondary, in instance order.
    """
    if not members:
        return None
    lo, hi = min(members), max(members)
    edges: list[tuple[int, int]] = []
    for p, s in pairs:
        edges += [(p, s), (s, p)]
    if shared_secondaries:
        seen = set(edges)
        by_sec: dict[int, list[int]] = {}
        for p, s in pairs:
            by_sec.setdefault(s, []).append(p)
        for s in sorted(by_sec):
            prims = by_sec[s]
            for a in prims:
                if a not in members:
                    continue
                for b in reversed(prims):
                    if (a, b) not in seen and b in members:
                        seen.add((a, b))
                        edges.append((a, b))
    edges = [(a, b) for a, b in edges if a in members and b in members]
    adj: list[list[int]] = [[] for _ in range(hi - lo + 1)]
    for a, b in edges:
        adj[a - lo].append(b)
    return NodeGraph(lo, adj, edges)


def _smallest_free(graph: NodeGraph, colour: dict[int, int], v: int) -> int:
    used = {colour[u] for u in graph.neighbours(v) if u in colour}
    c = 0
    while c in used:
        c += 1
    return c


def colour_lf(graph: NodeGraph) -> dict[int, int]:
    """Largest first: greedy in order of decreasing degree (higher index first on ties)."""
    order = sorted(range(graph.lo, graph.hi + 1), key=lambda v: (-len(graph.neighbours(v)), -v))
    colour: dict[int, int] = {}
    for v in order:
        colour[v] = _smallest_free(graph, colour, v)
    return colour


def _colour_by_priority(graph: NodeGraph, distinct: bool) -> dict[int, int]:
    """Greedy, each time taking the uncoloured vertex with the highest priority.

    The priority is the number of distinct colours among its neighbours
    (``distinct``: Dsatur) or of coloured neighbours counted with multiplicity
    (Dcolor); ties go to the higher degree, then to the higher index.
    """
    size = len(graph.adj)
    deg = np.array([len(a) for a in graph.adj], dtype=np.int64)
    span = int(deg.max(initial=0)) + 1
    prio = np.zeros(size, dtype=np.int64)
    seen: list[set[int]] = [set() for _ in range(size)]
    tie = deg * size + np.arange(size, dtype=np.int64)
    done = np.zeros(size, dtype=bool)
    colour: dict[int, int] = {}
    lo = graph.lo
    for _ in range(size):
        key = np.where(done, -1, prio * span * size + tie)
        k = int(np.argmax(key))
        v = lo + k
        c = _smallest_free(graph, colour, v)
        colour[v] = c
        done[k] = True
        for u in graph.adj[k]:
            j = u - lo
            if done[j]:
                continue
            if distinct:
                if c not in seen[j]:
                    seen[j].add(c)
                    prio[j] += 1
            else:
                prio[j] += 1
    return colour


def colour_dsatur(graph: NodeGraph) -> dict[int, int]:
    return _colour_by_priority(graph, distinct=True)


def colour_dcolor(graph: NodeGraph) -> dict[int, int]:
    return _colour_by_priority(graph, distinct=False)


_COLOURERS: dict[str, Callable[[NodeGraph], dict[int, int]]] = {
    "LF": colour_lf,
    "Dsatur": colour_dsatur,
    "Dcolor": colour_dcolor,
}


def classes(colour: dict[int, int]) -> list[list[int]]:
    """Colour classes in colour order, each in increasing vertex order."""
    count = max(colour.values(), default=-1) + 1
    out: list[list[int]] = [[] for _ in range(count)]
    for v in sorted(colour):
        out[colour[v]].append(v)
    return out


def colourings(graph: NodeGraph) -> dict[str, list[list[int]]]:
    """Every heuristic's colour classes, by algorithm name."""
    return {name: classes(_COLOURERS[name](graph)) for name in ALGORITHMS}


def best(results: dict[str, list[list[int]]]) -> list[list[int]]:
    """The colouring with the fewest colours (ties in :data:`ALGORITHMS` order)."""
    return min((results[name] for name in ALGORITHMS), key=len)


def stats_line(results: dict[str, list[list[int]]]) -> str:
    """Each heuristic's colour count and class sizes, best first (``-v`` output)."""
    ranked = sorted(reversed(ALGORITHMS), key=lambda name: len(results[name]))
    parts: list[str] = []
    previous = -1
    for name in ranked:
        found = results[name]
        if parts:
            parts.append("TIE" if len(found) == previous else "LOOSE")
        sizes = ",".join(str(len(c)) for c in found)
        parts.append(f"{name}: {len(found)} ({sizes})")
        previous = len(found)
    return " ".join(parts)
