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


async def run(name: str, data: dict[str, Any], registry: DriverRegistry) -> list[str]:
    """The nodes the allocator chose; an allocator's refusal is an OpPrereqError with its reason."""
    if name == BUILTIN:
        answer = builtin.run(data)
    else:
        try:
            driver = cast("IAllocator", registry.driver(DriverKind.IALLOCATOR, name))
        except PluginError as err:
            raise OpPrereqError(f"cannot use iallocator {name!r}: {err}") from None
        answer = await driver.run(data)
    if not isinstance(answer, dict):
        raise OpPrereqError(f"iallocator {name} gave no answer object: {answer!r}")
    if not answer.get("success"):
        raise OpPrereqError(
            f"Can't compute nodes using iallocator '{name}': {answer.get('info', 'no reason')}"
        )
    result = answer.get("result")
    if not isinstance(result, list) or not all(isinstance(n, str) for n in result):
        raise OpPrereqError(f"iallocator {name} answered with a bad result: {result!r}")
    known = set(data.get("nodes", {}))
    unknown = [n for n in result if n not in known]
    if unknown:
        raise OpPrereqError(f"iallocator {name} chose unknown node(s): {', '.join(unknown)}")
    return result
