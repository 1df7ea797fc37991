"""The ``hail`` entry point of ``corral.iallocators``: hail inside corral's daemons."""

from __future__ import annotations

import json
from typing import Any

from twisted.internet import threads

from corral.api import IAllocator
from corral_htools.alloc import AllocOptions
from corral_htools.alloc import answer
from corral_htools.ialloc import RequestError
from corral_htools.ialloc import parse_request


def solve(request: dict[str, Any]) -> dict[str, Any]:
    """Answer one request document (blocking; CPU-bound numpy work)."""
    try:
        cluster, req = parse_request(json.dumps(request))
    except RequestError as err:
        return {"success": False, "info": f"Invalid request: {err}", "result": []}
    return answer(cluster, req, AllocOptions())


class Hail(IAllocator):
    """Native htools placement; the work runs in a thread so the reactor stays free."""

    name = "hail"

    async def run(self, request: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = await threads.deferToThread(solve, request)
        return result
