"""The node RPC wire format: ``POST /<method>`` with a JSON object of arguments.

Procedures that take one large document (a config push) get it as the
body unchanged, with their other arguments in the query string. The answer
is always JSON: ``{"ok": true, "result": ...}``, or
``{"ok": false, "error": [CLASS, [MESSAGE]]}`` with the error encoded as
LUXI encodes it, so a node's refusal reaches the operator with its class
and its words. Transport problems (refused, timed out, bad certificate)
never get that far: the client reports them per node.
"""

from __future__ import annotations

import json
import urllib.parse
from typing import Any
from typing import Final

from corral.api.errors import CorralError
from corral.luxi.protocol import decode_error
from corral.luxi.protocol import encode_error

#: The node daemon's TCP port (Ganeti's ganeti-noded uses 1811 too).
DEFAULT_PORT: Final = 1811
#: Version of this protocol; a node answering another one is reported, not used.
PROTOCOL_VERSION: Final = 1
#: The largest request body a node accepts (a 10,000-instance config is about 10 MiB).
MAX_BODY: Final = 128 * 1024 * 1024


class RpcError(CorralError):
    """A node could not be reached, or its answer was not an RPC answer."""


def encode_args(args: dict[str, Any]) -> bytes:
    return json.dumps(args, separators=(",", ":")).encode()


def request_parts(
    method: str, args: dict[str, Any] | None, document: bytes | None = None
) -> tuple[str, bytes]:
    """The path and body of a call.

    Usually the body is the JSON object of arguments. A procedure that
    takes a large document gets the document itself as its body, and its
    other arguments as JSON values in the query string (``?serial=12``).
    """
    if document is None:
        return method, encode_args(args or {})
    query = urllib.parse.urlencode(
        {key: json.dumps(value, separators=(",", ":")) for key, value in (args or {}).items()}
    )
    return (f"{method}?{query}" if query else method), document


def query_args(query: dict[bytes, list[bytes]]) -> dict[str, Any]:
    """The arguments of a document procedure, from its query string (see request_parts)."""
    out: dict[str, Any] = {}
    for key, values in query.items():
        if len(values) != 1:
            raise ValueError(f"argument {key.decode(errors='replace')!r} given {len(values)} times")
        out[key.decode()] = json.loads(values[0])
    return out


def encode_result(result: Any) -> bytes:
    return json.dumps({"ok": True, "result": result}, separators=(",", ":")).encode()


def encode_failure(err: BaseException) -> bytes:
    return json.dumps({"ok": False, "error": encode_error(err)}).encode()


def decode_answer(body: bytes, node: str) -> Any:
    """The result in a node's answer, or raise the error it reports."""
    try:
        answer = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise RpcError(f"node {node} sent an answer that is not JSON: {body[:80]!r}") from None
    if not isinstance(answer, dict) or "ok" not in answer:
        raise RpcError(f"node {node} sent an answer that is not an RPC answer")
    if answer["ok"]:
        return answer.get("result")
    raise decode_error(answer.get("error"))
