"""Run an allocator on a request: a plugin by name, or the built-in one; check its answer."""

from __future__ import annotations

from typing import TYPE_CHECKING
from typing import Any
from typing import cast

from corral.api.errors import OpPrereqError
from corral.api.errors import PluginError
from corral.iallocator import builtin
from corral.plugins.kinds import DriverKind

if TYPE_CHECKING:
    from corral.api.iallocator import IAllocator
    from corral.plugins.registry import DriverRegistry

#: ``-I .`` is Ganeti's way to say "the cluster's default allocator".
DEFAULT = "."
#: The name of the allocator in the core (used when nothing else is named).
BUILTIN = "builtin"


def resolve(name: str | None, default: str | None) -> str:
    """The allocator an operation uses: the named one, the cluster's, or the built-in."""
    if name in (None, "", DEFAULT):
        return default or BUILTIN
    return str(name)


async def answer(name: str, data: dict[str, Any], registry: DriverRegistry) -> Any:
    """The allocator's ``result`` for a request it says it solved; a refusal is an
    OpPrereqError with the allocator's reason."""
    if name == BUILTIN:
        reply = builtin.run(data)
    else:
        try:
            driver = cast("IAllocator", registry.driver(DriverKind.IALLOCATOR, name))
        except PluginError as err:
            raise OpPrereqError(f"cannot use iallocator {name!r}: {err}") from None
        reply = await driver.run(data)
    if not isinstance(reply, dict):
        raise OpPrereqError(f"iallocator {name} gave no answer object: {reply!r}")
    if not reply.get("success"):
        raise OpPrereqError(
            f"Can't compute nodes using iallocator '{name}': {reply.get('info', 'no reason')}"
        )
    return reply.get("result")


async def run(name: str, data: dict[str, Any], registry: DriverRegistry) -> list[str]:
    """The nodes the allocator chose for an allocate or relocate request."""
    result = await answer(name, data, registry)
    if not isinstance(result, list) or not all(isinstance(n, str) for n in result):
        raise OpPrereqError(f"iallocator {name} answered with a bad result: {result!r}")
    known = set(data.get("nodes", {}))
    unknown = [n for n in result if n not in known]
    if unknown:
        raise OpPrereqError(f"iallocator {name} chose unknown node(s): {', '.join(unknown)}")
    return result
