"""Grouping hbal's moves into jobsets and writing them as gnt-instance commands.

Consecutive moves that touch disjoint nodes run in parallel (one jobset).
Ganeti's hbal builds the jobsets from the last move backwards (a move
touching a node of the jobset being built closes it), which we follow so
that the listings agree.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from corral_htools.moves import commands

if TYPE_CHECKING:
    from corral_htools.moves import Move
    from corral_htools.state import GroupState

_SCRIPT_HEAD = """#!/bin/sh

# Auto-generated script for executing cluster rebalancing

# To stop, touch the file /tmp/stop-htools

set -e

check() {
  if [ -f /tmp/stop-htools ]; then
    echo 'Stop requested, exiting'
    exit 0
  fi
}
"""


def split_jobsets(st: GroupState, moves: list[Move]) -> list[list[Move]]:
    jobsets: list[list[Move]] = []
    busy: set[int] = set()
    for move in reversed(moves):
        nodes = {move.old_p, move.old_s, move.new_p, move.new_s} - {-1}
        if not jobsets or nodes & busy:
            jobsets.append([])
            busy = set()
        jobsets[-1].append(move)
        busy |= nodes
    return [list(reversed(js)) for js in reversed(jobsets)]


def move_commands(st: GroupState, move: Move) -> list[str]:
    inst = st.instances[move.inst]
    target = st.nodes[move.target].shown if move.target >= 0 else ""
    return commands(move.kind, inst.shown, target, inst.running)


def command_script(st: GroupState, jobsets: list[list[Move]], script: bool) -> list[str]:
    """The command listing (``-C``) or, with ``script``, the shell script (``-CFILE``)."""
    out: list[str] = [*_SCRIPT_HEAD.splitlines(), ""] if script else []
    ind = "" if script else "  "
    for k, jobset in enumerate(jobsets, start=1):
        out.append("" if script else "  ")
        out.append(f"{ind}echo jobset {k}, {len(jobset)} jobs")
        for j, move in enumerate(jobset, start=1):
            out.append(f"{ind}  echo job {k}/{j}")
            if script:
                out.append(f"{ind}  check")
            out.extend(f"{ind}  {cmd}" for cmd in move_commands(st, move))
    return out
