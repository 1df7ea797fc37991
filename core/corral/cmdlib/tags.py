"""Tags on every object (OP_TAGS_GET/SET/DEL/SEARCH), with Ganeti's rules for a tag.

A tag is at most 128 characters of letters, digits and ``.+*/:@_-``; an
object has at most 4096. Adding a tag an object has, or removing one it
lacks, is an error for removal (Ganeti names the missing tags) and a no-op
for adding.
"""

from __future__ import annotations

import dataclasses
import re
import time
from typing import TYPE_CHECKING
from typing import Any

from corral.api.errors import OpPrereqError
from corral.cmdlib.base import LogicalUnit
from corral.config import objects as o
from corral.locking import Level

if TYPE_CHECKING:
    from corral.cmdlib.base import LockSpec

MAX_TAG_LEN = 128
MAX_TAGS_PER_OBJ = 4096
TAG_RE = re.compile(r"^[\w.+*/:@-]+$")

#: Where ``search-tags`` says an object is, by kind (Ganeti's paths).
_PATHS = {"instance": "/instances/", "node": "/nodes/", "nodegroup": "/nodegroup/",
          "network": "/networks/"}  # fmt: skip


def check_tag(tag: Any) -> str:
    if not isinstance(tag, str):
        raise OpPrereqError(f"Invalid tag type (not a string): {tag!r}")
    if len(tag) > MAX_TAG_LEN:
        raise OpPrereqError(f"Tag too long (>{MAX_TAG_LEN} characters): {tag[:40]}...")
    if not tag:
        raise OpPrereqError("Tags cannot be empty")
    if not TAG_RE.match(tag):
        raise OpPrereqError(
            f"Invalid tag name ({tag!r}): use letters, digits and the characters .+*/:@_-"
        )
    return tag


def _collection(kind: str) -> str:
    return {"instance": "instances", "node": "nodes", "nodegroup": "nodegroups",
            "network": "networks"}[kind]  # fmt: skip


def _find(cfg: o.ConfigData, kind: str, name: str | None) -> o.Taggable:
    if kind == "cluster":
        return cfg.cluster
    if not name:
        raise OpPrereqError(f"a {kind} name is needed for its tags")
    found = next((x for x in getattr(cfg, _collection(kind)).values() if x.name == name), None)
    if found is None:
        raise OpPrereqError(f"{kind.capitalize()} {name!r} not known")
    return found  # type: ignore[no-any-return]


def _store(cfg: o.ConfigData, kind: str, obj: o.Taggable, tags: tuple[str, ...]) -> o.ConfigData:
    changed = o.touched(obj, time.time(), tags=tags)
    if kind == "cluster":
        return dataclasses.replace(cfg, cluster=changed)  # type: ignore[arg-type]
    name = _collection(kind)
    changes: dict[str, Any] = {name: {**getattr(cfg, name), obj.uuid: changed}}
    return dataclasses.replace(cfg, **changes)


class _TagsLU(LogicalUnit):
    REQ_BGL = False

    def declare_locks(self) -> dict[Level, LockSpec]:
        kind, cfg = self.op.kind, self.master.config
        if kind == "cluster":
            return {}
        obj = _find(cfg, kind, self.op.name)
        level = {"instance": Level.INSTANCE, "node": Level.NODE,
                 "nodegroup": Level.NODEGROUP, "network": Level.NETWORK}[kind]  # fmt: skip
        key = self.op.name if kind == "instance" else obj.uuid
        return {level: ([key], self.OP_ID == "OP_TAGS_GET")}


class LUTagsGet(_TagsLU):
    OP_ID = "OP_TAGS_GET"
    IDEMPOTENT = True

    async def execute(self) -> Any:
        return sorted(_find(self.master.config, self.op.kind, self.op.name).tags)


class LUTagsSet(_TagsLU):
    OP_ID = "OP_TAGS_SET"
    REQ_BGL = True  # cluster tags change the cluster object

    def check_arguments(self) -> None:
        for tag in self.op.tags:
            check_tag(tag)

    async def execute(self) -> Any:
        kind, name, new = self.op.kind, self.op.name, list(self.op.tags)

        def add(cfg: o.ConfigData) -> o.ConfigData:
            obj = _find(cfg, kind, name)
            tags = tuple(sorted({*obj.tags, *new}))
            if len(tags) > MAX_TAGS_PER_OBJ:
                raise OpPrereqError(f"Too many tags ({len(tags)} > {MAX_TAGS_PER_OBJ})")
            return _store(cfg, kind, obj, tags)

        await self.master.writer.update(add, self.feedback)
        return None


class LUTagsDel(_TagsLU):
    OP_ID = "OP_TAGS_DEL"
    REQ_BGL = True

    def check_arguments(self) -> None:
        for tag in self.op.tags:
            check_tag(tag)

    async def check_prereq(self) -> None:
        obj = _find(self.master.config, self.op.kind, self.op.name)
        missing = sorted(set(self.op.tags) - set(obj.tags))
        if missing:
            raise OpPrereqError(f"Tag(s) {', '.join(repr(t) for t in missing)} not found")

    async def execute(self) -> Any:
        kind, name, gone = self.op.kind, self.op.name, set(self.op.tags)

        def remove(cfg: o.ConfigData) -> o.ConfigData:
            obj = _find(cfg, kind, name)
            return _store(cfg, kind, obj, tuple(t for t in obj.tags if t not in gone))

        await self.master.writer.update(remove, self.feedback)
        return None


class LUTagsSearch(LogicalUnit):
    OP_ID = "OP_TAGS_SEARCH"
    REQ_BGL = False
    IDEMPOTENT = True

    def check_arguments(self) -> None:
        try:
            self.pattern = re.compile(self.op.pattern)
        except re.error as err:
            raise OpPrereqError(f"Invalid search pattern {self.op.pattern!r}: {err}") from None

    async def execute(self) -> Any:
        cfg = self.master.config
        found = [["/cluster", t] for t in sorted(cfg.cluster.tags) if self.pattern.search(t)]
        for kind, prefix in _PATHS.items():
            for obj in sorted(getattr(cfg, _collection(kind)).values(), key=lambda x: x.name):
                found += [[prefix + obj.name, t] for t in sorted(obj.tags)
                          if self.pattern.search(t)]  # fmt: skip
        return found
