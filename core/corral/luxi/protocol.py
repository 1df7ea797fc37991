"""LUXI messages as Ganeti frames them: one JSON object per message, ended by ETX (0x03).

A request is ``{"method": NAME, "args": [...], "version": N}``; the answer is
``{"success": BOOL, "result": ..., "version": N}``, where a failure's result
is ``[ERROR_CLASS, [MESSAGE, ...]]`` as Ganeti encodes exceptions, so
Ganeti's own client libraries can read corral's answers.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from typing import Final

from corral.api import errors

#: End of message.
EOM: Final = b"\x03"
#: Protocol version (Ganeti 3.0's value; clients may omit it).
VERSION: Final = 3000000
#: Largest message accepted, in bytes (a 10,000-instance query answer is far smaller).
MAX_MESSAGE: Final = 32 * 1024 * 1024


class ProtocolError(errors.CorralError):
    """A message that is not valid LUXI."""


class LuxiError(errors.CorralError):
    """An error reported by the master daemon that has no more specific class here."""


@dataclass(frozen=True)
class Request:
    method: str
    args: list[Any]
    version: int | None = None


def _loads(data: bytes, what: str) -> Any:
    try:
        return json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ProtocolError(f"{what} is not valid JSON: {err}") from None


def parse_request(data: bytes) -> Request:
    """Decode one request (without its ETX); ProtocolError says what is wrong."""
    message = _loads(data, "the request")
    if not isinstance(message, dict):
        raise ProtocolError("the request must be a JSON object with 'method' and 'args'")
    method, args = message.get("method"), message.get("args")
    if not isinstance(method, str) or not method:
        raise ProtocolError("the request has no 'method' (a string naming the call)")
    if not isinstance(args, list):
        raise ProtocolError(f"the request's 'args' must be a list, not {type(args).__name__}")
    version = message.get("version")
    if version is not None and version != VERSION:
        raise ProtocolError(f"LUXI version mismatch: client {version}, master {VERSION}")
    return Request(method, args, version)


def format_request(method: str, args: list[Any]) -> bytes:
    return json.dumps({"method": method, "args": args, "version": VERSION}).encode() + EOM


def format_response(success: bool, result: Any) -> bytes:
    return json.dumps({"success": success, "result": result, "version": VERSION}).encode() + EOM


def encode_error(err: BaseException) -> list[Any]:
    """An exception as Ganeti sends it: ``[class name, [message]]``.

    The name is that of the nearest class a client knows (Ganeti's own
    names), so a corral-specific subclass reads as, e.g., OpPrereqError.
    """
    name = next((c.__name__ for c in type(err).__mro__ if c.__name__ in _KNOWN), None)
    return [name or type(err).__name__, [str(err)]]


#: Error classes a client rebuilds from their names (others become LuxiError).
_KNOWN: Final[dict[str, type[errors.CorralError]]] = {
    cls.__name__: cls
    for cls in (
        errors.OpPrereqError,
        errors.OpExecError,
        errors.ConfigError,
        errors.PluginError,
        errors.HookVeto,
        ProtocolError,
        LuxiError,
    )
}
#: Ganeti's name for the drained-queue refusal, which its clients recognise.
_KNOWN["JobQueueDrainError"] = errors.OpPrereqError


def decode_error(result: Any) -> errors.CorralError:
    """The exception for a failure's ``result``."""
    if (
        isinstance(result, list)
        and len(result) == 2
        and isinstance(result[0], str)
        and isinstance(result[1], list)
    ):
        name, args = result
        message = "; ".join(str(a) for a in args) if args else name
        cls = _KNOWN.get(name)
        return cls(message) if cls is not None else LuxiError(f"{name}: {message}")
    return LuxiError(f"the master daemon failed: {result!r}")


def parse_response(data: bytes) -> Any:
    """The result of a response, or raise the error it carries."""
    message = _loads(data, "the master daemon's answer")
    if not isinstance(message, dict) or "success" not in message or "result" not in message:
        raise ProtocolError("the master daemon's answer is not a LUXI response")
    if message["success"]:
        return message["result"]
    raise decode_error(message["result"])
