"""What a batch of queue operations sends to the candidates."""

from __future__ import annotations

from corral.jobs.replication import coalesce
from corral.jobs.replication import remove_op
from corral.jobs.replication import rename_op
from corral.jobs.replication import write_op


def test_only_the_newest_write_of_a_file_in_a_batch_is_sent() -> None:
    ops = [
        write_op("job-1", b"queued"),
        write_op("job-2", b"queued"),
        write_op("job-1", b"running"),
        write_op("serial", b"9\n"),
        write_op("job-1", b"success"),
    ]
    assert coalesce(ops) == [
        write_op("job-2", b"queued"),
        write_op("serial", b"9\n"),
        write_op("job-1", b"success"),
    ]


def test_a_rename_or_remove_keeps_the_writes_before_it() -> None:
    ops = [
        write_op("job-1", b"success"),
        rename_op("job-1", "archive/0/job-1"),
        write_op("job-1", b"a new job 1 after a queue reset"),
        write_op("drain", b""),
        remove_op("drain"),
        write_op("drain", b""),
    ]
    assert coalesce(ops) == ops
