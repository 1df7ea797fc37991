"""Running one opcode: its LU's steps, its locks and its hooks.

Lock order: the cluster lock first (exclusive for LUs that change the whole
cluster, shared otherwise), then the LU's levels top to bottom. Whatever
happens, including a cancelled job, every lock the opcode took is given
back before the result (or the error) leaves this module.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from typing import Any

from corral.api.errors import OpPrereqError
from corral.cmdlib.base import LU_CLASSES
from corral.cmdlib.base import LUContext
from corral.locking import ALL
from corral.locking import Level
from corral.plugins.manager import await_maybe
from corral.plugins.manager import call_impl

if TYPE_CHECKING:
    from collections.abc import Sequence

    import pluggy

    from corral.masterd.context import MasterContext
    from corral.opcodes import OpCode


class Processor:
    """Executes opcodes for the job queue (one call per opcode)."""

    def __init__(self, pm: pluggy.PluginManager, master: MasterContext | None = None) -> None:
        self._pm = pm
        self._master = master

    async def run(self, ctx: LUContext, op: OpCode, priority: int = 0) -> Any:
        lu_class = LU_CLASSES.get(op.OP_ID)
        if lu_class is None:
            raise OpPrereqError(f"{op.OP_ID} is not implemented by this corral yet")
        lu = lu_class(ctx, op, self._master)
        lu.check_arguments()
        owner = ctx.job_id
        try:
            await ctx.locks.acquire(
                owner, Level.CLUSTER, ALL, shared=not lu.REQ_BGL, priority=priority
            )
            for level, (names, shared) in sorted(lu.declare_locks().items()):
                await ctx.locks.acquire(owner, level, names, shared=shared, priority=priority)
            recorded = ctx.locked()
            if not lu.IDEMPOTENT:  # see LogicalUnit.IDEMPOTENT
                await await_maybe(recorded)
            await lu.check_prereq()
            env = lu.hooks_env()
            nodes = lu.hooks_nodes()
            # One at a time: a veto must stop the later ones before they start.
            for impl in reversed(self._pm.hook.corral_opcode_pre.get_hookimpls()):
                await await_maybe(call_impl(impl, op=op, env=env, nodes=nodes))
            result = await lu.execute()
            await self._post_hooks(ctx, op, env, result, lu.hooks_nodes())
            return result
        finally:
            lu.cleanup()
            ctx.locks.release_all(owner)

    async def _post_hooks(
        self,
        ctx: LUContext,
        op: OpCode,
        env: dict[str, str],
        result: Any,
        nodes: Sequence[str] = (),
    ) -> None:
        """Run every post hook; the opcode is done, so a failure is only a warning."""
        for impl in self._pm.hook.corral_opcode_post.get_hookimpls():
            try:
                await await_maybe(call_impl(impl, op=op, env=env, result=result, nodes=nodes))
            except Exception as err:
                ctx.feedback(f"WARNING: post hook of plugin {impl.plugin_name} failed: {err}")
