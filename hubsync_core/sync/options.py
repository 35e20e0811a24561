"""Enumeration labels: each sync refreshes the stored options from HubSpot's properties API.

A refresh costs one call; it is skipped when the last one is younger than `REFRESH_MINUTES`
(an incremental sync every few minutes need not re-read definitions that rarely change).
A failure only warns: labels are for display, the sync does not depend on them.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from hubsync_core.hubspot.errors import HubSpotError
from hubsync_core.store import property_options, runs
from hubsync_core.sync.context import RunContext

log = logging.getLogger("hubsync.sync")

OPTIONS_REFRESHED_AT = "options_refreshed_at"
REFRESH_MINUTES = 15


def refresh_options(ctx: RunContext) -> int | None:
    """Store every enumeration option (value, label); the number stored, None when skipped."""
    now = ctx.clock()
    last = runs.get_state(ctx.db, OPTIONS_REFRESHED_AT)
    if last and now - datetime.fromisoformat(last) < timedelta(minutes=REFRESH_MINUTES):
        return None
    try:
        definitions = ctx.client.get_properties()
    except HubSpotError as exc:
        log.warning("Property option labels were not refreshed: %s", exc.message)
        return None
    rows = [
        (definition.name, value, label, order)
        for definition in definitions
        for order, (value, label) in enumerate(definition.option_labels)
    ]
    with ctx.db.transaction() as conn:
        stored = property_options.replace_options(conn, rows)
        runs.set_state(conn, OPTIONS_REFRESHED_AT, now.isoformat())
    log.info("Stored %d enumeration options (labels) of %d properties", stored, len(definitions))
    return stored
