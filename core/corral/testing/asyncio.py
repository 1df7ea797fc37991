"""Writing tests as coroutines on the real Twisted reactor.

pytest-twisted runs every test inside the reactor's greenlet, so a test that
awaits driver methods is an ``async def`` decorated with :func:`async_test`.
"""

from __future__ import annotations

import pytest_twisted

#: Decorator for ``async def`` tests (and test methods) that await Twisted code.
async_test = pytest_twisted.ensureDeferred
