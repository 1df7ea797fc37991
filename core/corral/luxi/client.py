"""A blocking LUXI client for the command-line tools (one short-lived process each).

Daemons never use it on the reactor thread.
"""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

from corral.luxi.protocol import EOM
from corral.luxi.protocol import MAX_MESSAGE
from corral.luxi.protocol import LuxiError
from corral.luxi.protocol import ProtocolError
from corral.luxi.protocol import format_request
from corral.luxi.protocol import parse_response
from corral.paths import luxi_socket

#: Seconds to wait for the connection and for each answer (Ganeti: 30 and 180).
CONNECT_TIMEOUT = 30.0
READ_TIMEOUT = 180.0


class Client:
    """Calls LUXI methods on the master daemon over its UNIX socket."""

    def __init__(self, path: Path | str | None = None, timeout: float = READ_TIMEOUT) -> None:
        self.path = Path(path) if path is not None else luxi_socket()
        self.timeout = timeout
        self._sock: socket.socket | None = None
        self._buffer = bytearray()

    def _connect(self) -> socket.socket:
        if self._sock is None:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(CONNECT_TIMEOUT)
            try:
                sock.connect(str(self.path))
            except (FileNotFoundError, ConnectionRefusedError):
                sock.close()
                raise LuxiError(
                    f"cannot reach the master daemon at {self.path}: is corral-masterd"
                    " running on this node, and is this node the master?"
                ) from None
            sock.settimeout(self.timeout)
            self._sock = sock
        return self._sock

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None
            self._buffer.clear()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def call(self, method: str, *args: Any) -> Any:
        """Send one request and return its result (or raise the error it reports)."""
        sock = self._connect()
        try:
            sock.sendall(format_request(method, list(args)))
            return parse_response(self._read_message(sock))
        except TimeoutError:
            self.close()
            raise LuxiError(
                f"the master daemon did not answer {method} in {self.timeout} s"
            ) from None
        except OSError as err:
            self.close()
            raise LuxiError(
                f"lost the connection to the master daemon during {method}: {err}"
            ) from None

    def _read_message(self, sock: socket.socket) -> bytes:
        while True:
            end = self._buffer.find(EOM)
            if end >= 0:
                message = bytes(self._buffer[:end])
                del self._buffer[: end + 1]
                return message
            if len(self._buffer) > MAX_MESSAGE:
                raise ProtocolError("the master daemon's answer is too large")
            chunk = sock.recv(65536)
            if not chunk:
                self.close()
                raise LuxiError("the master daemon closed the connection")
            self._buffer += chunk

    # -- the methods the tools use ------------------------------------------------

    def submit_job(self, ops: list[dict[str, Any]]) -> int:
        return int(self.call("SubmitJob", ops))

    def submit_many_jobs(self, jobs: list[list[dict[str, Any]]]) -> list[Any]:
        result: list[Any] = self.call("SubmitManyJobs", jobs)
        return result

    def query_jobs(self, job_ids: list[int] | None, fields: list[str]) -> list[Any]:
        result: list[Any] = self.call("QueryJobs", job_ids, fields)
        return result

    def wait_for_job_change(
        self, job_id: int, fields: list[str], prev_job_info: Any, prev_log_serial: Any,
        timeout: float,
    ) -> Any:  # fmt: skip
        return self.call(
            "WaitForJobChange", job_id, fields, prev_job_info, prev_log_serial, timeout
        )

    def cancel_job(self, job_id: int) -> Any:
        return self.call("CancelJob", job_id)

    def archive_job(self, job_id: int) -> Any:
        return self.call("ArchiveJob", job_id)

    def change_job_priority(self, job_id: int, priority: int) -> Any:
        return self.call("ChangeJobPriority", job_id, priority)

    def set_drain_flag(self, drain: bool) -> Any:
        return self.call("SetDrainFlag", drain)
