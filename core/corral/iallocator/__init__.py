"""Choosing nodes for instances through Ganeti's IAllocator protocol.

:mod:`~corral.iallocator.request` builds the request document Ganeti
would give an allocator script, :mod:`~corral.iallocator.builtin` answers
it with a simple policy when no allocator plugin is named, and
:mod:`~corral.iallocator.runner` picks between the two and checks the answer.
"""
