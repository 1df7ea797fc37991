"""Tag opcodes (``gnt-* add-tags/remove-tags/list-tags``, ``gnt-cluster search-tags``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from corral.opcodes import fields as fld
from corral.opcodes.base import OpCodeSchema

if TYPE_CHECKING:
    from marshmallow import fields


def _kind() -> fields.String:
    return fld.one_of(fld.TAG_KINDS, "Kind of object the tags belong to.")


def _name(help: str) -> fields.String:
    return fld.string(help, None)


def _tag_list(help: str) -> fields.List[str]:
    return fld.string_list(help, fld.REQUIRED, non_empty=False)


class TagsGetSchema(OpCodeSchema):
    """Return the tags of one object."""

    OP_ID = "OP_TAGS_GET"
    OP_DSC_FIELD = "name"

    kind = _kind()
    use_locking = fld.use_locking()
    name = _name("Name of the object; null for the cluster.")


class TagsSearchSchema(OpCodeSchema):
    """Find every object with a tag matching a regular expression."""

    OP_ID = "OP_TAGS_SEARCH"
    OP_DSC_FIELD = "pattern"

    pattern = fld.string("Regular expression the tags are matched against.", non_empty=True)


class TagsSetSchema(OpCodeSchema):
    """Add tags to one object."""

    OP_ID = "OP_TAGS_SET"

    kind = _kind()
    tags = _tag_list("Tags to add.")
    name = _name("Name of the object to tag; null for the cluster.")


class TagsDelSchema(OpCodeSchema):
    """Remove tags from one object."""

    OP_ID = "OP_TAGS_DEL"

    kind = _kind()
    tags = _tag_list("Tags to remove.")
    name = _name("Name of the object to untag; null for the cluster.")
