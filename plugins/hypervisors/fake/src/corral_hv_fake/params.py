"""The fake hypervisor's parameters (``hvparams`` of instances using ``fake``)."""

from __future__ import annotations

from enum import StrEnum

from marshmallow import fields
from marshmallow import validate

from corral.api import ParamsSchema


class MigrationMode(StrEnum):
    """Ganeti's ``migration_mode`` values: how ``gnt-instance migrate`` moves by default."""

    LIVE = "live"
    NON_LIVE = "non-live"


class FakeParams(ParamsSchema):
    """Parameters of the fake hypervisor; see the plugin's README for examples."""

    migration_mode = fields.String(
        load_default=MigrationMode.LIVE.value,
        validate=validate.OneOf([mode.value for mode in MigrationMode]),
        metadata={
            "help": "Default migration mode: 'live' keeps the instance running while it"
            " moves, 'non-live' pauses it first (overridden by migrate --live/--non-live)."
        },
    )
    boot_delay = fields.Float(
        load_default=0.0,
        validate=validate.Range(min=0.0),
        metadata={
            "help": "Seconds a start takes before it returns (0 for at once). The wait"
            " runs on the reactor, so it lets tests exercise job timeouts and"
            " concurrent starts."
        },
    )
    fail_start = fields.Boolean(
        load_default=False,
        metadata={
            "help": "Fault injection: every start of the instance fails with a hypervisor"
            " error after boot_delay, leaving nothing running (to test rollback)."
        },
    )
