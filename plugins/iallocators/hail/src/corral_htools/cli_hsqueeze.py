"""hsqueeze: dynamic power management (Ganeti-compatible command line and output).

Prints the nodes to power off (or the standby nodes to power on) one per
line, and with ``-C`` the commands that get there: the instance moves,
then tagging and powering off; or powering on, then the moves.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from corral_htools import cli_common as cc
from corral_htools.jobs import command_script
from corral_htools.jobs import split_jobsets
from corral_htools.squeeze import DEFAULT_MINIMAL
from corral_htools.squeeze import DEFAULT_TARGET
from corral_htools.squeeze import STANDBY_AUTO
from corral_htools.squeeze import Action
from corral_htools.squeeze import Squeezer

if TYPE_CHECKING:
    import argparse

    from corral_htools.model import Cluster
    from corral_htools.squeeze import Plan
    from corral_htools.squeeze import Trial

PROG = "hsqueeze"

#: The -S suffix's description of the final state, by action.
_SAVED_AS = {
    Action.NONE: "after hsqueeze doing nothing",
    Action.OFFLINE: "after hsqueeze run",
    Action.ONLINE: "after hsqueeze expansion",
}


def build_parser() -> argparse.ArgumentParser:
    ap = cc.parser(PROG, "Dynamic power management: which nodes to power off or back on.")
    cc.add_backend(ap)
    ap.add_argument(
        "--minimal-resources",
        type=float,
        default=DEFAULT_MINIMAL,
        metavar="FACTOR",
        help="power standby nodes on unless every node has room for FACTOR standard instances"
        f" (default {DEFAULT_MINIMAL})",
    )
    ap.add_argument(
        "--target-resources",
        type=float,
        default=DEFAULT_TARGET,
        metavar="FACTOR",
        help="room for FACTOR standard instances to leave on every node when powering off"
        f" (default {DEFAULT_TARGET})",
    )
    ap.add_argument(
        "-C",
        "--print-commands",
        nargs="?",
        const="-",
        metavar="FILE",
        help="print the commands that carry the plan out (or write them as a script to FILE)",
    )
    ap.add_argument(
        "-X",
        "--exec",
        action="store_true",
        help="execute the plan through the master daemon (needs -L; not available in corral)",
    )
    ap.add_argument("--no-headers", action="store_true", help="no header line")
    return ap


def command_text(plan: Plan) -> str:
    """The plan's commands as Ganeti writes them: unindented, one per line, with ``check``."""
    trial = plan.trial
    names = [trial.state.nodes[j].shown for j in trial.nodes]
    if plan.action is Action.NONE:
        return "echo Nothing to do"
    moves = _move_lines(trial)
    if plan.action is Action.ONLINE:
        power = "".join(f"  gnt-node power -f on {name}\n" for name in names)
        return "echo Power Commands\n" + power + moves
    tags = "".join(f"  gnt-node add-tags {name} {STANDBY_AUTO}\n" for name in names)
    power = "".join(f"  gnt-node power -f off {name}\n" for name in names)
    return f"{moves}\necho Tagging Commands\n{tags}\necho Power Commands\n{power}"


def _move_lines(trial: Trial) -> str:
    """The jobsets of the trial's moves, as in hbal's script (its head cut off)."""
    st = trial.state
    head = len(command_script(st, [], script=True))
    lines = command_script(st, split_jobsets(st, trial.moves), script=True)[head:]
    return "".join(line + "\n" for line in lines)


def print_commands(where: str, plan: Plan) -> None:
    """``-C``: the listing on stdout (indented, no ``check``), or ``-CFILE``: a script."""
    text = command_text(plan)
    if where in ("-", ""):
        print("\nCommands to run:")
        for line in text.splitlines():
            if line.strip() != "check":
                print(f"  {line}")
        return
    head = "\n".join(command_script(plan.trial.state, [], script=True))
    with open(where, "w", encoding="utf-8") as handle:
        handle.write(f"{head}\n{text}")
    print(f"The commands have been written to file '{where}'")


def apply_plan(cluster: Cluster, plan: Plan) -> None:
    """Write the plan into the cluster records, for ``-S``.

    As in Ganeti, the nodes keep the free memory and disk they reported:
    only the power state of the plan's nodes and the placements change.
    """
    if plan.action is Action.NONE:
        return
    st = plan.trial.state
    for j in plan.trial.nodes:
        cluster.nodes[j].offline = plan.action is Action.OFFLINE
    for i, inst in enumerate(st.instances):
        p, s = int(st.pnode[i]), int(st.snode[i])
        if p >= 0:
            inst.pnode = st.nodes[p].name
        inst.snode = st.nodes[s].name if s >= 0 else ""


def main(argv: list[str] | None = None) -> int:
    ap = build_parser()
    args = cc.parse_args(ap, argv)
    cluster = cc.load_cluster(PROG, args)
    # Ganeti's hsqueeze shortens node names only: instances keep their full names
    for inst in cluster.instances:
        inst.alias = ""
    verbose = args.verbose - args.quiet
    if args.save:
        cc.save(f"{args.save}.original", cluster, "before hsqueeze run")
    squeezer = Squeezer(cluster, cc.model_options(args), args.ignore_soft_errors)
    if verbose > 1:
        for what, nodes in (
            ("Offline", squeezer.offline_candidates()),
            ("Online", squeezer.online_candidates()),
        ):
            print(f"{what} candidates: " + ",".join(cluster.nodes[j].name for j in nodes))
    plan = squeezer.plan(args.minimal_resources, args.target_resources)
    if not args.no_headers:
        print(f"'{plan.action.value}'")
    for j in plan.trial.nodes:
        print(cluster.nodes[j].name)
    if not plan.enough and verbose > 1:
        print("Onlining all nodes will not yield enough capacity")
    if args.print_commands is not None:
        print_commands(args.print_commands, plan)
    if args.exec and plan.action is not Action.NONE:
        sys.stdout.flush()
        if args.luxi is None:
            cc.fail(PROG, "Execution of commands possible only on LUXI")
        cc.fail(
            PROG,
            "executing the plan needs out-of-band power control, which corral's master"
            " daemon does not offer; run the commands of -C instead",
        )
    if args.save:
        apply_plan(cluster, plan)
        cc.save(f"{args.save}.squeezed", cluster, _SAVED_AS[plan.action])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
