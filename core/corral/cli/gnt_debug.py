"""``gnt-debug``: exercise the job machinery (Ganeti 3.0's ``delay`` and ``submit-job``).

``delay`` submits OP_TEST_DELAY with Ganeti's options and waits for it like
every job-submitting command (``--submit``, ``--print-jobid``,
``--priority``). ``submit-job`` sends the opcodes of JSON files (each a
list of opcode objects, one job per file) and waits for all of them; each
opcode is validated before anything is submitted, so a typo in a file
submits nothing. Unlike Ganeti, ``submit-job`` exits with 1 when a job
could not be submitted or did not succeed (Ganeti always exits with 0).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING
from typing import Any

from corral.api.cli import Command
from corral.api.errors import CorralError
from corral.api.errors import OpPrereqError
from corral.cli.jobs import DRAINED_MESSAGE
from corral.cli.jobs import JobFailure
from corral.cli.jobs import add_priority_option
from corral.cli.jobs import add_submit_options
from corral.cli.jobs import is_drained_error
from corral.cli.jobs import make_opcode
from corral.cli.jobs import poll_job
from corral.cli.jobs import prepare_ops
from corral.cli.jobs import submit_and_wait
from corral.cli.tool import run_tool
from corral.luxi.client import Client
from corral.luxi.protocol import LuxiError
from corral.opcodes import dump_opcode
from corral.opcodes import load_opcode

if TYPE_CHECKING:
    from collections.abc import Callable
    from collections.abc import Sequence


def _add_dry_run(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="only check whether the operation could be executed; change nothing",
    )


def _int_at_least(minimum: int, what: str) -> Callable[[str], int]:
    """An argparse type: an integer no smaller than ``minimum``."""

    def parse(value: str) -> int:
        try:
            number = int(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"invalid integer {value!r}") from None
        if number < minimum:
            raise argparse.ArgumentTypeError(f"{value} is {what}")
        return number

    return parse


_positive_int = _int_at_least(1, "not a positive integer")
_non_negative_int = _int_at_least(0, "negative")


# -- delay --------------------------------------------------------------------


def _configure_delay(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--no-master",
        dest="on_master",
        action="store_false",
        help="do not sleep in the master code",
    )
    parser.add_argument(
        "-n",
        dest="on_nodes",
        action="append",
        default=[],
        metavar="NODE",
        help="select a node to sleep on (repeat for several nodes)",
    )
    parser.add_argument(
        "-r",
        "--repeat",
        type=_non_negative_int,
        default=0,
        metavar="N",
        help="number of times to repeat the sleep",
    )
    parser.add_argument(
        "-i",
        "--interruptible",
        action="store_true",
        help="allow the opcode to be interrupted through a domain socket "
        "(no RPCs are made, locks are still taken)",
    )
    parser.add_argument(
        "-l", "--no-locks", action="store_true", help="do not take locks while sleeping"
    )
    parser.add_argument(
        "-d",
        "--debug",
        action="count",
        default=0,
        help="increase the opcode's debugging level (repeat for more)",
    )
    _add_dry_run(parser)
    add_submit_options(parser)
    parser.add_argument(
        "duration",
        type=float,
        metavar="DURATION",
        help="seconds to sleep (a floating point number)",
    )


def _delay(args: argparse.Namespace) -> int:
    """Executes a TestDelay OpCode."""
    op = make_opcode(
        "OP_TEST_DELAY",
        duration=args.duration,
        on_master=args.on_master,
        on_nodes=args.on_nodes,
        repeat=args.repeat,
        interruptible=args.interruptible,
        no_locks=args.no_locks,
    )
    with Client() as client:
        submit_and_wait(client, [op], args)
    return 0


# -- submit-job ---------------------------------------------------------------


def _configure_submit_job(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="also show the IDs of the submitted jobs",
    )
    parser.add_argument(
        "--op-repeat",
        dest="rep_op",
        type=_positive_int,
        default=1,
        metavar="N",
        help="repeat the opcode sequence of each file this number of times",
    )
    parser.add_argument(
        "--job-repeat",
        dest="rep_job",
        type=_positive_int,
        default=1,
        metavar="N",
        help="submit each job this number of times",
    )
    parser.add_argument(
        "--timing-stats",
        action="store_true",
        help="show the number of opcodes and jobs and the time spent submitting and executing",
    )
    parser.add_argument(
        "--each",
        action="store_true",
        help="submit each job with its own SubmitJob request instead of one SubmitManyJobs",
    )
    _add_dry_run(parser)
    add_priority_option(parser)
    parser.set_defaults(_submit_prog=parser.prog)
    parser.add_argument(
        "files",
        nargs="+",
        metavar="OPCODES_FILE",
        help="JSON file holding a list of opcodes (objects with an OP_ID); one job per file",
    )


def load_opcodes_file(path: str) -> list[dict[str, Any]]:
    """The validated opcodes of a JSON file holding a list of opcode objects."""
    try:
        data = json.loads(Path(path).read_text())
    except OSError as err:
        raise OpPrereqError(f"cannot read opcodes file {path}: {err.strerror or err}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise OpPrereqError(f"opcodes file {path} is not valid JSON: {err}") from None
    if not isinstance(data, list):
        raise OpPrereqError(
            f"opcodes file {path} must hold a JSON list of opcodes, not {type(data).__name__}"
        )
    if not data:
        raise OpPrereqError(f"opcodes file {path} holds no opcodes; a job needs at least one")
    ops = []
    for index, item in enumerate(data):
        try:
            ops.append(dump_opcode(load_opcode(item)))
        except OpPrereqError as err:
            raise OpPrereqError(f"opcodes file {path}, opcode {index}: {err}") from None
    return ops


def _submit_all(
    client: Client, jobs: list[list[dict[str, Any]]], each: bool
) -> list[tuple[bool, Any]]:
    try:
        if each:
            return [(True, client.submit_job(ops)) for ops in jobs]
        answer = client.submit_many_jobs(jobs)
    except CorralError as err:
        if is_drained_error(err):
            raise CorralError(DRAINED_MESSAGE) from None
        raise
    if not isinstance(answer, list) or len(answer) != len(jobs):
        raise LuxiError(
            f"the master daemon answered SubmitManyJobs for {len(jobs)} job(s) with {answer!r}"
        )
    results = []
    for item in answer:
        if not isinstance(item, list) or len(item) != 2:
            raise LuxiError(f"malformed SubmitManyJobs entry {item!r}: not [ok, job ID or error]")
        results.append((bool(item[0]), item[1]))
    return results


def _submit_job(args: argparse.Namespace) -> int:
    """Submits jobs built from JSON files containing a list of serialized opcodes."""
    if args.timing_stats:
        print("Loading...")
    names: list[str] = []
    jobs: list[list[dict[str, Any]]] = []
    op_count = 0
    for job_index in range(args.rep_job):
        for path in args.files:
            ops = prepare_ops(load_opcodes_file(path) * args.rep_op, args)
            names.append(f"file {path}/{job_index}")
            jobs.append(ops)
            op_count += len(ops)
    status = 0
    with Client() as client:
        started = time.monotonic()
        if args.timing_stats:
            print("Submitting...", flush=True)
        submitted = _submit_all(client, jobs, args.each)
        sent = time.monotonic()
        if args.timing_stats:
            print("Executing...", flush=True)
        if args.verbose:
            ok = [str(value) for success, value in submitted if success]
            if ok:
                print(f"Submitted jobs {', '.join(ok)}", flush=True)
        for name, (success, value) in zip(names, submitted, strict=True):
            if not success:
                print(f"Failed to submit job for {name}: {value}", file=sys.stderr)
                status = 1
        for name, (success, job_id) in zip(names, submitted, strict=True):
            if not success:
                continue
            print(f"Waiting for job {job_id} for {name} ...", flush=True)
            try:
                poll_job(client, int(job_id))
            except JobFailure as err:
                print(f"Job {job_id} for {name} has failed: {err}", file=sys.stderr)
                status = 1
        done = time.monotonic()
    if args.timing_stats:
        print(f"C:op     {op_count:4d}")
        print(f"C:job    {len(jobs):4d}")
        print(f"T:submit {sent - started:4.4f}")
        print(f"T:exec   {done - sent:4.4f}")
        print(f"T:total  {done - started:4.4f}")
    return status


COMMANDS = [
    Command("delay", "Executes a TestDelay OpCode", _delay, _configure_delay),
    Command(
        "submit-job",
        "Submits jobs built from JSON files containing a list of serialized opcodes",
        _submit_job,
        _configure_submit_job,
    ),
]


def main(argv: Sequence[str] | None = None) -> int:
    return run_tool("gnt-debug", "Debug commands.", COMMANDS, argv)


if __name__ == "__main__":
    raise SystemExit(main())
