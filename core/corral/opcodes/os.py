"""OS definition and ExtStorage provider diagnosis (``gnt-os``, ``gnt-storage``)."""

from __future__ import annotations

from corral.opcodes import fields as fld
from corral.opcodes.base import OpCodeSchema


class OsDiagnoseSchema(OpCodeSchema):
    """List the OS definitions found on the nodes and whether they are usable."""

    OP_ID = "OP_OS_DIAGNOSE"

    output_fields = fld.output_fields()
    names = fld.string_list("OS definitions to look at; an empty list means all.")


class ExtStorageDiagnoseSchema(OpCodeSchema):
    """List the ExtStorage providers found on the nodes and whether they are usable."""

    OP_ID = "OP_EXT_STORAGE_DIAGNOSE"

    output_fields = fld.output_fields()
    names = fld.string_list("Providers to look at; an empty list means all.")
