"""``gnt-job``: examine and manipulate the job queue, as Ganeti 3.0's tool does.

Commands, options, field names, titles and messages are Ganeti's. Where
corral differs, or chose among things Ganeti left open:

* ``list`` renders timestamps (``received_ts``, ``start_ts``, ``end_ts``,
  ``opstart``, ``opexec``, ``opend``) as Ganeti's FormatTimestamp does
  (``2026-11-22 06:10:00.123456``, local time; ``N/A`` for an opcode that
  has none), where Ganeti printed raw pairs or Python lists; per-opcode
  lists of words (``summary``, ``opstatus``, ``oppriority``) are
  comma-joined and structured values (``ops``, ``opresult``, ``oplog``) are
  compact JSON, so scripts can parse them;
* a job ID given to ``list`` that does not exist shows as a row with ``-``
  (``(unavail)`` with ``--verbose``) in every column but the ID, as Ganeti's
  query layer reports it;
* the status filters are applied by the tool over ``QueryJobs``; the
  ``--archived`` option and free-form query filters (``-F``) are not
  offered, since the master's ``QueryJobs`` covers the live queue only;
* ``info`` without a job ID shows every job, as the man page says;
* an unknown ``-o`` field is an error (exit status 14, Ganeti's
  EXIT_UNKNOWN_FIELD) instead of a column of ``??``;
* ``cancel --kill`` (confirmed with ``--yes-do-it``, as in Ganeti) has no
  job process to send SIGKILL to: the master stops the running opcode where
  it stands (its child processes get SIGTERM, then SIGKILL), gives back its
  locks and fails it and the opcodes after it with "Job killed by request";
  the answer comes once the job is final.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING
from typing import Any
from typing import Final

from corral.api.cli import Command
from corral.api.errors import OpPrereqError
from corral.cli.jobs import PRIORITIES
from corral.cli.jobs import JobFailure
from corral.cli.jobs import add_priority_option
from corral.cli.jobs import format_log_message
from corral.cli.jobs import format_timestamp
from corral.cli.jobs import poll_job
from corral.cli.table import Column
from corral.cli.table import format_table
from corral.cli.table import select_columns
from corral.cli.tool import add_list_options
from corral.cli.tool import ask_user
from corral.cli.tool import fail
from corral.cli.tool import run_tool
from corral.luxi.client import Client
from corral.luxi.protocol import LuxiError

if TYPE_CHECKING:
    from collections.abc import Callable
    from collections.abc import Sequence

#: Exit statuses Ganeti uses beyond 0 and 1.
EXIT_CONFIRMATION: Final = 13
EXIT_UNKNOWN_FIELD: Final = 14

#: Job statuses selected by the status filter options (Ganeti's sets).
JOBS_PENDING: Final = frozenset({"queued", "waiting", "canceling"})
JOBS_FINALIZED: Final = frozenset({"canceled", "success", "error"})

#: ``gnt-job list``'s default fields.
LIST_DEFAULT_FIELDS: Final = ("id", "status", "summary")
#: Seconds the master may spend on ``autoarchive`` (Ganeti: half its LUXI timeout).
AUTOARCHIVE_TIMEOUT: Final = 89


# -- fields -------------------------------------------------------------------


def _timestamp_or_na(value: Any) -> str:
    return "N/A" if value is None else format_timestamp(value)


def _per_op(fn: Callable[[Any], str]) -> Callable[[Any], str]:
    def render(value: Any) -> str:
        if not isinstance(value, list):
            return str(value)
        return ",".join(fn(v) for v in value)

    return render


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


@dataclass(frozen=True)
class JobField:
    """A job field: its name, title, Ganeti type name, description and rendering."""

    name: str
    title: str
    kind: str
    doc: str
    render: Callable[[Any], str] = str

    @property
    def numeric(self) -> bool:
        return self.kind == "Number"


_TS_DOC = "(tuple containing seconds and microseconds)"

JOB_FIELDS: Final = (
    JobField("id", "ID", "Number", "Job ID"),
    JobField("status", "Status", "Text", "Job status"),
    JobField("priority", "Priority", "Number", "Current job priority (19 to -20)"),
    JobField("ops", "OpCodes", "Custom", "List of all opcodes", _json),
    JobField("opresult", "OpCode_result", "Custom", "List of opcodes results", _json),
    JobField("opstatus", "OpCode_status", "Custom", "List of opcodes status", _per_op(str)),
    JobField("oplog", "OpCode_log", "Custom", "List of opcode output logs", _json),
    JobField(
        "opstart",
        "OpCode_start",
        "Custom",
        "List of opcode start timestamps (before acquiring locks)",
        _per_op(_timestamp_or_na),
    ),
    JobField(
        "opexec",
        "OpCode_exec",
        "Custom",
        "List of opcode execution start timestamps (after acquiring locks)",
        _per_op(_timestamp_or_na),
    ),
    JobField(
        "opend",
        "OpCode_end",
        "Custom",
        "List of opcode execution end timestamps",
        _per_op(_timestamp_or_na),
    ),
    JobField("oppriority", "OpCode_prio", "Custom", "List of opcode priorities", _per_op(str)),
    JobField("summary", "Summary", "Custom", "List of per-opcode summaries", _per_op(str)),
    JobField(
        "received_ts",
        "Received",
        "Custom",
        f"Timestamp of when job was received {_TS_DOC}",
        format_timestamp,
    ),
    JobField("start_ts", "Start", "Custom", f"Timestamp of job start {_TS_DOC}", format_timestamp),
    JobField("end_ts", "End", "Custom", f"Timestamp of job end {_TS_DOC}", format_timestamp),
)
FIELDS_BY_NAME: Final = {f.name: f for f in JOB_FIELDS}
LIST_COLUMNS: Final = [Column(f.name, f.title, f.numeric) for f in JOB_FIELDS]


def _render(field: JobField, value: Any, verbose: bool) -> str:
    if value is None:
        return "(unavail)" if verbose else "-"
    return field.render(value)


# -- arguments ----------------------------------------------------------------


def job_id_arg(value: str) -> int:
    """An argparse type for job IDs (non-negative integers)."""
    try:
        job_id = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid job ID {value!r}: not an integer") from None
    if job_id < 0:
        raise argparse.ArgumentTypeError(f"invalid job ID {value!r}: must not be negative")
    return job_id


def parse_timespec(value: str) -> int:
    """Ganeti's ParseTimespec: seconds, or a number with s, m, h, d or w."""
    if not value:
        raise OpPrereqError("Empty time specification passed")
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
    multiplier = units.get(value[-1])
    number = value if multiplier is None else value[:-1]
    if multiplier is not None and not number:
        raise OpPrereqError("Invalid time specification (only suffix passed)")
    try:
        return int(number) * (multiplier or 1)
    except ValueError:
        raise OpPrereqError(f"Invalid time specification '{value}'") from None


def _status_filter_options(
    parser: argparse.ArgumentParser, which: Sequence[str], verb: str = "Select"
) -> None:
    options = {
        "pending": (JOBS_PENDING, f"{verb} jobs pending execution or being cancelled"),
        "running": (frozenset({"running"}), "Show jobs currently running only"),
        "error": (frozenset({"error"}), "Show failed jobs only"),
        "finished": (JOBS_FINALIZED, "Show finished jobs only"),
        "queued": (frozenset({"queued"}), f"{verb} queued jobs only"),
        "waiting": (frozenset({"waiting"}), f"{verb} waiting jobs only"),
    }
    for name in which:
        const, help_text = options[name]
        parser.add_argument(
            f"--{name}",
            dest="status_filter",
            action="store_const",
            const=const,
            help=help_text[0].lower() + help_text[1:],
        )


def _check_row(row: Any, width: int) -> list[Any]:
    if not isinstance(row, list) or len(row) != width:
        raise LuxiError(f"the master daemon answered QueryJobs with a malformed row: {row!r}")
    return row


# -- list, list-fields ------------------------------------------------------------


def _configure_list(parser: argparse.ArgumentParser) -> None:
    add_list_options(parser)
    parser.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="show '(unavail)' instead of '-' for values that are not available",
    )
    _status_filter_options(parser, ["pending", "running", "error", "finished"], verb="Show")
    parser.add_argument(
        "job_ids", nargs="*", type=job_id_arg, metavar="JOB_ID", help="only these jobs"
    )


def _list(args: argparse.Namespace) -> int:
    """Lists the jobs and their status."""
    try:
        columns = select_columns(LIST_COLUMNS, args.output, LIST_DEFAULT_FIELDS)
    except ValueError as err:
        fail(str(err))
        return EXIT_UNKNOWN_FIELD
    names = [c.name for c in columns]
    wanted: frozenset[str] | None = args.status_filter
    query = [*names, "status"] if wanted is not None else names
    with Client() as client:
        rows = client.query_jobs(args.job_ids or None, query)
    if not isinstance(rows, list):
        raise LuxiError(f"the master daemon answered QueryJobs with {rows!r}, not a list")
    if args.job_ids and len(rows) != len(args.job_ids):
        raise LuxiError(
            f"the master daemon answered QueryJobs for {len(args.job_ids)} job(s) "
            f"with {len(rows)} row(s)"
        )
    table = []
    for index, row in enumerate(rows):
        if row is None:
            if wanted is not None or not args.job_ids:
                continue  # an unknown job matches no status
            values: list[Any] = [None] * len(names)
            if "id" in names:
                values[names.index("id")] = args.job_ids[index]
        else:
            row = _check_row(row, len(query))
            if wanted is not None and row[-1] not in wanted:
                continue
            values = row[: len(names)]
        table.append(
            [
                _render(FIELDS_BY_NAME[name], value, args.verbose)
                for name, value in zip(names, values, strict=True)
            ]
        )
    lines = format_table(columns, table, headers=not args.no_headers, separator=args.separator)
    for line in lines:
        print(line)
    return 0


def _configure_list_fields(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--no-headers", action="store_true", help="do not print a header line")
    parser.add_argument(
        "--separator", metavar="SEP", help="separate fields with SEP instead of aligning them"
    )
    parser.add_argument(
        "fields", nargs="*", metavar="FIELD", help="only these fields (default: all)"
    )


def _list_fields(args: argparse.Namespace) -> int:
    """Lists all available fields for jobs."""
    if args.fields:
        unknown = [name for name in args.fields if name not in FIELDS_BY_NAME]
        selected = [FIELDS_BY_NAME[name] for name in args.fields if name in FIELDS_BY_NAME]
    else:
        unknown = []
        selected = sorted(JOB_FIELDS, key=lambda f: f.name)
    if unknown:
        print(f"Warning: Queried for unknown fields {', '.join(unknown)}", file=sys.stderr)
    columns = [
        Column("name", "Name"),
        Column("type", "Type"),
        Column("title", "Title"),
        Column("description", "Description"),
    ]
    rows = [[f.name, f.kind, f.title, f.doc] for f in selected]
    for line in format_table(columns, rows, headers=not args.no_headers, separator=args.separator):
        print(line)
    return EXIT_UNKNOWN_FIELD if unknown else 0


# -- info ---------------------------------------------------------------------


def _not_a_container(value: Any) -> bool:
    return not isinstance(value, list | dict | tuple)


def _serialize_info(out: io.StringIO, data: Any, level: int, afterkey: bool = False) -> None:
    """Ganeti's PrintGenericInfo layout (YAML-like).

    Dicts print sorted by key; lists of tuples ``(key, value[, group])`` are
    ordered dicts whose keys in one alignment group have their values
    aligned; tuples of plain values print inline as ``[a, b, c]``; other
    lists print one ``- item`` per line.
    """
    indent = "  "
    if isinstance(data, dict):
        if not data:
            out.write("\n")
            return
        if afterkey:
            out.write("\n")
        first = not afterkey
        for key in sorted(data):
            if not first:
                out.write(indent * level)
            first = False
            out.write(f"{key}: ")
            _serialize_info(out, data[key], level + 1, afterkey=True)
    elif isinstance(data, list) and data and isinstance(data[0], tuple):
        if afterkey:
            out.write("\n")
        first = not afterkey
        widths: dict[Any, int] = {}
        for entry in data:
            if len(entry) > 2:
                widths[entry[2]] = max(widths.get(entry[2], 0), len(entry[0]))
        for entry in data:
            key, value = entry[0], entry[1]
            if not first:
                out.write(indent * level)
            first = False
            out.write(f"{key}: ")
            if len(entry) > 2:
                out.write(" " * (widths[entry[2]] - len(key)))
            _serialize_info(out, value, level + 1, afterkey=True)
    elif isinstance(data, tuple) and all(_not_a_container(v) for v in data):
        out.write("[" + ", ".join(str(v) for v in data) + "]\n")
    elif isinstance(data, list | tuple):
        if not data:
            out.write("\n")
            return
        if afterkey:
            out.write("\n")
        first = not afterkey
        for item in data:
            if not first:
                out.write(indent * level)
            first = False
            out.write("- ")
            _serialize_info(out, item, level + 1)
    else:
        out.write(f"{data}\n")


def format_generic_info(data: Any) -> str:
    """Text for Ganeti's PrintGenericInfo structure (without the final newline)."""
    out = io.StringIO()
    _serialize_info(out, data, 0)
    return out.getvalue().rstrip("\n")


def _delta(start: Sequence[int], end: Sequence[int]) -> float:
    return end[0] - start[0] + (end[1] - start[1]) / 1_000_000


def _job_timestamp(name: str, stamp: Any, into: list[Any], prior: Any = None) -> None:
    if stamp is None:
        into.append((name, f"unknown ({stamp})", "job_timestamp"))
        return
    delta = ""
    if isinstance(prior, list) and len(prior) == 2 and isinstance(stamp, list):
        delta = f" (delta {_delta(prior, stamp):.6f}s)"
    into.append((name, f"{format_timestamp(stamp)}{delta}", "job_timestamp"))


def _op_timestamp(name: str, stamp: Any, into: list[Any]) -> None:
    text = format_timestamp(stamp) if isinstance(stamp, list) else "N/A"
    into.append((name, text, "opcode_timestamp"))


INFO_FIELDS: Final = (
    "id",
    "status",
    "ops",
    "opresult",
    "opstatus",
    "oplog",
    "opstart",
    "opexec",
    "opend",
    "received_ts",
    "start_ts",
    "end_ts",
)


def _job_info(row: list[Any]) -> list[Any]:
    job_id, status, ops, opresult, opstatus, oplog, opstart, opexec, opend = row[:9]
    received, started, ended = row[9:]
    info: list[Any] = [("Job ID", job_id), ("Status", status)]
    _job_timestamp("Received", received, info)
    _job_timestamp("Processing start", started, info, prior=received)
    _job_timestamp("Processing end", ended, info, prior=started)
    if ended is not None and received is not None:
        info.append(("Total processing time", f"{_delta(received, ended):.6f} seconds"))
    else:
        info.append(("Total processing time", "N/A"))
    opcodes = []
    for op, result, op_status, log, start, execute, end in zip(
        ops, opresult, opstatus, oplog, opstart, opexec, opend, strict=False
    ):
        op_info: list[Any] = [("Opcode", op.get("OP_ID")), ("Status", op_status)]
        _op_timestamp("Processing start", start, op_info)
        _op_timestamp("Execution start", execute, op_info)
        _op_timestamp("Processing end", end, op_info)
        op_info.append(("Input fields", op))
        op_info.append(("Result", result))
        entries = [
            [
                ("Time", format_timestamp(stamp)),
                ("Content", (serial, log_type, format_log_message(log_type, message))),
            ]
            for serial, stamp, log_type, message in log
        ]
        op_info.append(("Execution log", entries))
        opcodes.append(op_info)
    info.append(("Opcodes", opcodes))
    return info


def _configure_info(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "job_ids",
        nargs="*",
        type=job_id_arg,
        metavar="JOB_ID",
        help="jobs to show (default: every job in the queue; that is a lot of output)",
    )


def _info(args: argparse.Namespace) -> int:
    """Show detailed information about the specified jobs."""
    with Client() as client:
        rows = client.query_jobs(args.job_ids or None, list(INFO_FIELDS))
    if not isinstance(rows, list):
        raise LuxiError(f"the master daemon answered QueryJobs with {rows!r}, not a list")
    jobs: list[Any] = []
    for index, row in enumerate(rows):
        if row is None:
            job_id = args.job_ids[index] if index < len(args.job_ids) else "?"
            jobs.append(f"Job ID {job_id} not found")
            continue
        jobs.append(_job_info(_check_row(row, len(INFO_FIELDS))))
    text = format_generic_info(jobs)
    if text:
        print(text)
    return 0


# -- watch, wait --------------------------------------------------------------


def _configure_one_job(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("job_id", type=job_id_arg, metavar="JOB_ID", help="the job")


def _watch(args: argparse.Namespace) -> int:
    """Follows a job and prints its output as it arrives."""
    message = f"Output from job {args.job_id} follows"
    print(message)
    print("-" * len(message), flush=True)
    with Client() as client:
        try:
            poll_job(client, args.job_id)
        except JobFailure as err:
            print(f"Job {args.job_id} failed: {err}", file=sys.stderr)
            return 1
    return 0


def _wait(args: argparse.Namespace) -> int:
    """Wait for a job to finish, printing nothing unless it fails."""
    with Client() as client:
        try:
            poll_job(client, args.job_id, feedback=None, report_waiting=False)
        except JobFailure as err:
            print(f"Job {args.job_id} failed: {err}", file=sys.stderr)
            return 1
    return 0


# -- cancel, change-priority ----------------------------------------------------


def _answer_pair(answer: Any, method: str) -> tuple[bool, str]:
    if not isinstance(answer, list) or len(answer) != 2:
        raise LuxiError(f"the master daemon answered {method} with {answer!r}, not [ok, message]")
    return bool(answer[0]), str(answer[1])


def _multi_job_action(
    args: argparse.Namespace,
    question: str,
    method: str,
    action: Callable[[Client, int], Any],
) -> int:
    """Apply ``action`` to the given jobs, or to those a status filter selects."""
    if bool(args.job_ids) == (args.status_filter is not None):
        raise OpPrereqError("Either a status filter or job ID(s) must be specified and never both")
    with Client() as client:
        if args.status_filter is not None:
            rows = client.query_jobs(None, ["id", "status", "summary"])
            matching = [
                _check_row(row, 3)
                for row in rows or []
                if row is not None and row[1] in args.status_filter
            ]
            if not matching:
                raise OpPrereqError("No jobs with the requested status have been found")
            if not args.force:
                fields = [FIELDS_BY_NAME[name] for name in LIST_DEFAULT_FIELDS]
                columns = [Column(f.name, f.title, f.numeric) for f in fields]
                table = [
                    [_render(f, v, False) for f, v in zip(fields, row, strict=True)]
                    for row in matching
                ]
                for line in format_table(columns, table):
                    print(line)
                sys.stdout.flush()
                if not ask_user(question):
                    return EXIT_CONFIRMATION
            job_ids = [int(row[0]) for row in matching]
        else:
            job_ids = args.job_ids
        status = 0
        for job_id in job_ids:
            success, message = _answer_pair(action(client, job_id), method)
            if not success:
                status = 1
            print(message)
    return status


def _configure_cancel(parser: argparse.ArgumentParser) -> None:
    parser.epilog = (
        "Queued and waiting jobs are canceled at once and never run their opcodes. "
        "A running job becomes canceling: its running opcode finishes, and the later "
        "ones are canceled. With --kill --yes-do-it a running or canceling job is "
        "stopped at once instead: its child processes are terminated, its locks given "
        "back, and its running opcode and the later ones end as error with the result "
        "'Job killed by request'. Finished jobs can be neither canceled nor killed."
    )
    parser.add_argument("-f", "--force", action="store_true", help="do not ask for confirmation")
    parser.add_argument(
        "--kill",
        action="store_true",
        help="also stop running jobs at once, in the middle of their opcode (dangerous: "
        "whatever the opcode was changing may be left half done, for you to clean up); "
        "needs --yes-do-it",
    )
    parser.add_argument(
        "--yes-do-it",
        "--ya-rly",
        dest="yes_do_it",
        action="store_true",
        help="confirm --kill",
    )
    _status_filter_options(parser, ["pending", "queued", "waiting"])
    parser.add_argument(
        "job_ids", nargs="*", type=job_id_arg, metavar="JOB_ID", help="jobs to cancel"
    )


def _cancel(args: argparse.Namespace) -> int:
    """Cancel jobs that have not finished."""
    if args.kill and not args.yes_do_it:
        raise OpPrereqError("The --kill option must be confirmed with --yes-do-it")
    verb = "KILL" if args.kill else "Cancel"

    def cancel(client: Client, job_id: int) -> Any:
        if args.kill:
            return client.call("CancelJob", job_id, True)
        return client.cancel_job(job_id)

    return _multi_job_action(args, f"{verb} job(s) listed above?", "CancelJob", cancel)


def _configure_change_priority(parser: argparse.ArgumentParser) -> None:
    add_priority_option(parser, "the new priority (low, normal or high); required")
    parser.add_argument("-f", "--force", action="store_true", help="do not ask for confirmation")
    _status_filter_options(parser, ["pending", "queued", "waiting"])
    parser.add_argument(
        "job_ids", nargs="*", type=job_id_arg, metavar="JOB_ID", help="jobs to change"
    )


def _change_priority(args: argparse.Namespace) -> int:
    """Change the priority of jobs."""
    if args.priority is None:
        print("--priority option must be given.", file=sys.stderr)
        return 1
    priority = PRIORITIES[args.priority]
    return _multi_job_action(
        args,
        "Change priority of job(s) listed above?",
        "ChangeJobPriority",
        lambda client, job_id: client.change_job_priority(job_id, priority),
    )


# -- archive, autoarchive -------------------------------------------------------


def _configure_archive(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "job_ids", nargs="+", type=job_id_arg, metavar="JOB_ID", help="finished jobs to archive"
    )


def _archive(args: argparse.Namespace) -> int:
    """Archive specified jobs."""
    status = 0
    with Client() as client:
        for job_id in args.job_ids:
            if not client.archive_job(job_id):
                print(f"Failed to archive job with ID '{job_id}'", file=sys.stderr)
                status = 1
    return status


def _configure_autoarchive(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "age",
        metavar="AGE",
        help="archive finished jobs older than this: seconds, or a number with s, m, h, d "
        "or w (e.g. 1d, 4w); 'all' archives every finished job",
    )


def _autoarchive(args: argparse.Namespace) -> int:
    """Auto archive jobs older than the given age."""
    age = -1 if args.age == "all" else parse_timespec(args.age)
    with Client() as client:
        answer = client.call("AutoArchiveJobs", age, AUTOARCHIVE_TIMEOUT)
    if not isinstance(answer, list) or len(answer) != 2:
        raise LuxiError(
            f"the master daemon answered AutoArchiveJobs with {answer!r}, not [archived, left]"
        )
    archived, left = answer
    print(f"Archived {archived} jobs, {left} unchecked left")
    return 0


COMMANDS = [
    Command("list", "Lists the jobs and their status", _list, _configure_list),
    Command(
        "list-fields", "Lists all available fields for jobs", _list_fields, _configure_list_fields
    ),
    Command("archive", "Archive specified jobs", _archive, _configure_archive),
    Command(
        "autoarchive",
        "Auto archive jobs older than the given age",
        _autoarchive,
        _configure_autoarchive,
    ),
    Command("cancel", "Cancel jobs", _cancel, _configure_cancel),
    Command("info", "Show detailed information about the specified jobs", _info, _configure_info),
    Command("show", "Same as info", _info, _configure_info),
    Command("wait", "Wait for a job to finish", _wait, _configure_one_job),
    Command(
        "watch", "Follows a job and prints its output as it arrives", _watch, _configure_one_job
    ),
    Command(
        "change-priority",
        "Change the priority of jobs",
        _change_priority,
        _configure_change_priority,
    ),
]


def main(argv: Sequence[str] | None = None) -> int:
    return run_tool("gnt-job", "Examine and manipulate the job queue.", COMMANDS, argv)


if __name__ == "__main__":
    raise SystemExit(main())
