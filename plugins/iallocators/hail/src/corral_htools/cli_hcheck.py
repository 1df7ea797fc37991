"""hcheck: cluster health report, before and after a simulated rebalance.

One deliberate difference from Ganeti 3.0: its "Instances having a
secondary node offline" (``OFFLINE_SEC``) counts the offline nodes, not
the instances, so any offline or drained node, even an empty one, makes
Ganeti call the cluster unhealthy. Here it counts what it says: instances
whose secondary is offline.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from corral_htools import cli_common as cc
from corral_htools.balance import BalanceOptions
from corral_htools.balance import balance
from corral_htools.capacity import not_evacuable
from corral_htools.cost import score
from corral_htools.state import group_state

if TYPE_CHECKING:
    import argparse

    from corral_htools.state import GroupState

PROG = "hcheck"
_LABELS = (
    ("N1_FAIL", "Nodes not N+1 happy"),
    ("CONFLICT_TAGS", "Nodes with conflicting instances"),
    ("OFFLINE_PRI", "Instances having the primary node offline"),
    ("OFFLINE_SEC", "Instances having a secondary node offline"),
    ("GN1_FAIL", "Nodes not directly evacuateable"),
)


def build_parser() -> argparse.ArgumentParser:
    ap = cc.parser(PROG, "Cluster checker: reports problems and whether rebalancing would help.")
    cc.add_backend(ap)
    ap.add_argument("--machine-readable", nargs="?", const="yes", help="shell-variable output")
    ap.add_argument("--no-simulation", action="store_true", help="do not simulate rebalancing")
    ap.add_argument("-l", "--max-length", type=int, default=-1, help="max rebalancing moves")
    ap.add_argument("-e", "--min-score", type=float, default=1e-9, help="stop below this score")
    ap.add_argument("-g", "--min-gain", type=float, default=0.01, help="minimum gain per step")
    ap.add_argument("--min-gain-limit", type=float, default=0.1, help="apply --min-gain below")
    ap.add_argument("--no-disk-moves", action="store_true", help="only failovers")
    ap.add_argument("--no-instance-moves", action="store_true", help="no moves")
    ap.add_argument("--evac-mode", action="store_true", help="only evacuate offline nodes")
    ap.add_argument("--select-instances", default="", help="accepted for compatibility")
    ap.add_argument("--exclude-instances", default="", help="instances not to move")
    return ap


def stats(st: GroupState, capacity: bool) -> dict[str, int]:
    pn, sn = st.pnode, st.snode
    off = st.offline
    return {
        "N1_FAIL": int(st.fail_n1().sum()),
        "CONFLICT_TAGS": int((st.tag_conflicts() > 0).sum()),
        "OFFLINE_PRI": int(((pn >= 0) & off[pn.clip(0)] & st.real).sum()),
        "OFFLINE_SEC": int(((sn >= 0) & off[sn.clip(0)] & st.real).sum()),
        "GN1_FAIL": not_evacuable(st) if capacity else 0,
    }


def _print(
    human: list[str],
    machine: list[str],
    phase: str,
    groups: list[tuple[int, str, dict[str, int], float]],
) -> bool:
    total = {k: sum(g[2][k] for g in groups) for k, _ in _LABELS}
    unhealthy = any(v > 0 for v in total.values())
    when = "initially" if phase == "INIT" else "after rebalancing"
    for idx, name, values, sc in groups:
        human.append(f"\nStatistics for group {name} {when}")
        for key, label in _LABELS:
            human.append(f"    {label}: {values[key]}")
            machine.append(f"HCHECK_{phase}_GROUP_{idx}_{key}={values[key]}")
        human.append(f"    Group score: {sc:.8f}")
        machine.append(f"HCHECK_{phase}_GROUP_{idx}_SCORE={sc:.8f}")
    human.append(f"\nCluster statistics {when}")
    for key, label in _LABELS:
        human.append(f"    {label}: {total[key]}")
        machine.append(f"HCHECK_{phase}_CLUSTER_{key}={total[key]}")
    human.append(f"    Cluster is not healthy: {unhealthy}")
    machine.append(f"HCHECK_{phase}_CLUSTER_NEED_REBALANCE={int(unhealthy)}")
    return unhealthy


def main(argv: list[str] | None = None) -> int:
    ap = build_parser()
    args = cc.parse_args(ap, argv)
    cluster = cc.load_cluster(PROG, args)
    opts = cc.model_options(args)
    capacity = not args.no_capacity_checks
    states = [(k, g, group_state(cluster, g.uuid, opts)) for k, g in enumerate(cluster.groups)]
    states = [(k, g, st) for k, g, st in states if st.n > 0]
    human: list[str] = []
    machine = [f"HCHECK_GROUP_UUID_{k}='{g.uuid}'" for k, g in enumerate(cluster.groups)]
    init = [(k, g.name, stats(st, capacity), score(st)) for k, g, st in states]
    unhealthy = _print(human, machine, "INIT", init)
    # as Ganeti: rebalancing is simulated only when it is needed; the
    # machine-readable output always has the FINAL figures (then the initial ones)
    simulate = unhealthy and not args.no_simulation
    if simulate:
        bopts = BalanceOptions(
            max_length=args.max_length,
            min_score=args.min_score,
            min_gain=args.min_gain,
            min_gain_limit=args.min_gain_limit,
            evac_mode=args.evac_mode,
            no_disk_moves=args.no_disk_moves,
            no_instance_moves=args.no_instance_moves,
            excluded=frozenset(x for x in args.exclude_instances.split(",") if x),
            ignore_soft_errors=args.ignore_soft_errors,
        )
        for _k, _g, st in states:
            balance(st, bopts)
    if simulate or args.machine_readable:
        final = [(k, g.name, stats(st, capacity), score(st)) for k, g, st in states]
        _print(human, machine, "FINAL", final)
    verbose = args.verbose - args.quiet
    if verbose >= 1:
        if args.no_simulation:
            human.insert(0, "Running in no-simulation mode.")
        elif unhealthy:
            human.insert(0, "Cluster needs rebalancing.")
        else:
            human.insert(0, "No need to rebalance cluster, no problems found.")
    machine.append("HCHECK_OK=1")
    if args.machine_readable:
        print("\n".join(machine))
    elif verbose >= 1:  # -q: only the exit status, as Ganeti
        print("\n".join(human))
    return 1 if unhealthy and not args.no_simulation else 0


if __name__ == "__main__":
    raise SystemExit(main())
