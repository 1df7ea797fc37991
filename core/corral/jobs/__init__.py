"""The job queue's data: jobs, their opcodes and statuses, and their crash-safe storage.

A job is a list of opcodes that the master daemon runs in order. This
package holds what the queue keeps about each job and how it survives a
crash; scheduling and the LUXI server build on it:

* :mod:`corral.jobs.model`: :class:`Job` and :class:`QueuedOpCode`, the
  statuses (Ganeti's values), the allowed transitions, and the JSON form
  of a job checked by a marshmallow schema;
* :mod:`corral.jobs.store`: :class:`JobStore`, the queue directory in
  Ganeti's layout (``job-<id>`` files, ``serial``, ``archive/<bucket>/``,
  ``drain``), with durable writes and start-up recovery. Its methods
  block on disk I/O: daemons call them from a thread.
"""

from __future__ import annotations

from corral.jobs.model import JOBS_FINALIZED
from corral.jobs.model import JOBS_PENDING
from corral.jobs.model import LOG_MESSAGE
from corral.jobs.model import LOG_TYPES
from corral.jobs.model import OPS_FINALIZED
from corral.jobs.model import Job
from corral.jobs.model import JobError
from corral.jobs.model import JobFormatError
from corral.jobs.model import JobStateError
from corral.jobs.model import JobStatus
from corral.jobs.model import LogEntry
from corral.jobs.model import OpStatus
from corral.jobs.model import QueuedOpCode
from corral.jobs.model import Timestamp
from corral.jobs.model import split_time
from corral.jobs.store import JOBS_PER_ARCHIVE_DIRECTORY
from corral.jobs.store import RECOVERY_REASON
from corral.jobs.store import CorruptFile
from corral.jobs.store import CorruptJobFileError
from corral.jobs.store import JobNotFoundError
from corral.jobs.store import JobStore
from corral.jobs.store import JobStoreError
from corral.jobs.store import RecoveryReport

__all__ = [
    "JOBS_FINALIZED",
    "JOBS_PENDING",
    "JOBS_PER_ARCHIVE_DIRECTORY",
    "LOG_MESSAGE",
    "LOG_TYPES",
    "OPS_FINALIZED",
    "RECOVERY_REASON",
    "CorruptFile",
    "CorruptJobFileError",
    "Job",
    "JobError",
    "JobFormatError",
    "JobNotFoundError",
    "JobStateError",
    "JobStatus",
    "JobStore",
    "JobStoreError",
    "LogEntry",
    "OpStatus",
    "QueuedOpCode",
    "RecoveryReport",
    "Timestamp",
    "split_time",
]
