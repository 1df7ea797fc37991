"""Generic query opcodes (the query2 interface)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from corral.opcodes import fields as fld
from corral.opcodes.base import OpCodeSchema

if TYPE_CHECKING:
    from marshmallow import fields as mfields


def _what() -> mfields.String:
    return fld.one_of(fld.QUERY_RESOURCES, "Kind of object to query (node, instance, ...).")


class QuerySchema(OpCodeSchema):
    """Return chosen fields of the objects of one kind, optionally filtered."""

    OP_ID = "OP_QUERY"
    OP_DSC_FIELD = "what"

    what = _what()
    use_locking = fld.use_locking()
    # "fields" shadows Schema.fields only in the class namespace; marshmallow
    # moves declared fields out of it, so the instance attribute is unaffected.
    fields = fld.string_list("Names of the fields to return.", fld.REQUIRED)  # type: ignore[assignment]
    qfilter = fld.any_list("Filter in the query language, as nested lists; null for none.")


class QueryFieldsSchema(OpCodeSchema):
    """Describe the fields that can be queried for one kind of object."""

    OP_ID = "OP_QUERY_FIELDS"
    OP_DSC_FIELD = "what"

    what = _what()
    fields = fld.string_list(  # type: ignore[assignment]
        "Fields to describe; null describes all of them.", None
    )
