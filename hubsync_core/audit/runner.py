"""Run a counting audit against the stored copy and remember its report.

`counting_audit` takes no lock: `run_audit` (in `repair`) holds the sync lock around it, and
`audit_after_sync` runs inside a sync that already holds it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from hubsync_core.audit.counting import CountingAudit, LocalCopy
from hubsync_core.audit.model import DRIFT, AuditReport
from hubsync_core.clock import utcnow
from hubsync_core.config import Settings
from hubsync_core.hubspot.client import HubSpotClient
from hubsync_core.hubspot.errors import HubSpotError
from hubsync_core.store import audit as audit_store
from hubsync_core.store.database import Database

if TYPE_CHECKING:
    from hubsync_core.sync.context import RunContext

log = logging.getLogger("hubsync.audit")


class AuditNotReady(Exception):
    """There is nothing to audit yet: no full sync has completed."""


def counting_audit(
    settings: Settings,
    db: Database,
    client: HubSpotClient,
    *,
    clock: Callable[[], datetime] = utcnow,
) -> AuditReport:
    """Compare the stored copy with HubSpot by counting (see `counting`), save the report and,
    when no drift was found, move the proven-since time to the audit's start minus the lag."""
    since = audit_store.proven_since(db)
    if since is None:
        raise AuditNotReady("Nothing to audit yet: run a full sync first.")
    ids, modified = audit_store.live_ids_and_modified(db)
    lag = timedelta(seconds=settings.index_lag_seconds)
    report = CountingAudit(
        client, LocalCopy(ids, modified), since, index_lag=lag, clock=clock
    ).run()
    proven = report.checked_at - lag if report.status != DRIFT else None
    if proven is not None and proven < since:
        proven = since
    audit_store.save_report(db, report.as_dict(), proven)
    log.info("Audit: %s", report.verdict())
    return report


def audit_after_sync(ctx: RunContext) -> AuditReport | None:
    """The counting audit that follows an incremental sync (its calls count in the run's).

    A HubSpot failure here never fails the sync: it becomes a warning of the run.
    """
    try:
        report = counting_audit(ctx.settings, ctx.db, ctx.client, clock=ctx.clock)
    except (HubSpotError, AuditNotReady) as exc:
        ctx.warnings.append(f"The audit after the sync could not run: {exc}")
        return None
    if report.status == DRIFT:
        ctx.warnings.append(f"Audit after the sync found {report.verdict()}")
    return report
