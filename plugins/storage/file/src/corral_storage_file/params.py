"""The diskparams of the ``file`` template.

Ganeti's file template has no diskparams. corral adds one, ``prealloc``,
because it changes when a full filesystem is noticed: a sparse file (the
default, and Ganeti's behaviour) takes no blocks until the guest writes, so
an over-committed filesystem fails later, inside the guest, as I/O errors;
a fully allocated file reserves every block at create time, so the same
shortage is a clear error of ``gnt-instance add`` instead.
"""

from __future__ import annotations

from enum import StrEnum

from marshmallow import fields
from marshmallow import validate

from corral.api import ParamsSchema


class Prealloc(StrEnum):
    """How a disk file's blocks are allocated when it is created or grown."""

    #: Set the file's length only; blocks are allocated as the guest writes.
    SPARSE = "sparse"
    #: Reserve every block up front (fallocate), so a lack of space fails the create.
    FULL = "full"


class FileParams(ParamsSchema):
    """Parameters of the ``file`` disk template (``-D file:prealloc=full``)."""

    prealloc = fields.String(
        load_default=Prealloc.SPARSE.value,
        validate=validate.OneOf([p.value for p in Prealloc]),
        metadata={
            "help": "How disk files are allocated: 'sparse' (blocks are taken as the guest"
            " writes, as in Ganeti) or 'full' (every block is reserved when the disk is"
            " created or grown, so a full filesystem fails the operation, not the guest)"
        },
    )
