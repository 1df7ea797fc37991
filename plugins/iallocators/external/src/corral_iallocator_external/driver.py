"""``external``: hand the request to any executable that speaks the IAllocator protocol.

Ganeti runs iallocator scripts as ``SCRIPT [args] INPUT-FILE`` and reads the
answer from stdout; this plugin does the same through the driver context's
:class:`~corral.api.ProcessRunner`, so it never blocks the reactor and tests
can replace the runner. Ganeti's own ``hail`` works unchanged.
"""

from __future__ import annotations

import json
import os
import tempfile
from typing import TYPE_CHECKING
from typing import Any

from marshmallow import fields
from marshmallow import validate

from corral.api import IAllocator
from corral.api import ParamsSchema

if TYPE_CHECKING:
    from collections.abc import Mapping

    from corral.api import DriverContext


class ExternalParams(ParamsSchema):
    """Which executable to run and how."""

    script = fields.String(
        load_default="",
        metadata={"help": "Path of the IAllocator executable (for example Ganeti's hail)."},
    )
    args = fields.List(
        fields.String(),
        load_default=list,
        metadata={"help": "Extra arguments placed before the request file name."},
    )
    timeout = fields.Float(
        load_default=300.0,
        validate=validate.Range(min=1.0),
        metadata={"help": "Seconds the script may run before it is stopped."},
    )


def _failure(info: str) -> dict[str, Any]:
    return {"success": False, "info": info, "result": []}


class ExternalIAllocator(IAllocator):
    """Runs ``script [args] REQUEST-FILE`` and returns the JSON it prints."""

    name = "external"
    params_schema = ExternalParams

    def __init__(self, ctx: DriverContext, params: Mapping[str, Any] | None = None) -> None:
        super().__init__(ctx)
        self.params = self.check_params(params or {}, where="iallocator external", fill=True)

    async def run(self, request: dict[str, Any]) -> dict[str, Any]:
        script = self.params["script"]
        if not script:
            return _failure("external iallocator: no script configured (parameter 'script')")
        fd, path = tempfile.mkstemp(prefix="corral-ialloc-", suffix=".json")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(request, handle)
            argv = [script, *self.params["args"], path]
            result = await self.ctx.runner.run(argv, timeout=self.params["timeout"])
        finally:
            os.unlink(path)
        if result.timed_out:
            return _failure(f"external iallocator {script} timed out")
        if result.exit_code != 0:
            detail = result.stderr.strip().splitlines()[-1:] or ["no message"]
            return _failure(
                f"external iallocator {script} failed (exit code {result.exit_code}): {detail[0]}"
            )
        try:
            answer = json.loads(result.stdout)
        except ValueError:
            return _failure(f"external iallocator {script} printed invalid JSON")
        if not isinstance(answer, dict) or "success" not in answer:
            return _failure(f"external iallocator {script} printed no IAllocator answer")
        if "result" not in answer and "nodes" in answer:  # the protocol's old key
            answer["result"] = answer.pop("nodes")
        return answer
