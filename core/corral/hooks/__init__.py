"""Ganeti-style hook scripts: corral's built-in implementation of the opcode hooks.

Site scripts in ``<hooks dir>/<hooks path>-<phase>.d/`` run before
(``pre``, may veto) and after (``post``) each opcode that has a hooks path,
with the ``GANETI_*`` environment of ``hooks.rst`` (hooks version 2), so
existing Ganeti hook scripts keep working.
"""
