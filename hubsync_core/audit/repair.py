"""`hubsync audit [--repair]`: the audit under the sync lock, and the repair of what it found.

The repair re-reads the missing and stale contacts by batch read (100 ids a call), removes
the extras as the sync removes archived contacts, recomputes segments, and is recorded as a
`repair` run in the sync history with its counts.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime

from hubsync_core.audit.model import AuditReport, RepairOutcome
from hubsync_core.audit.runner import counting_audit
from hubsync_core.clock import utcnow
from hubsync_core.config import Settings
from hubsync_core.hubspot.client import HubSpotClient
from hubsync_core.hubspot.errors import HubSpotError
from hubsync_core.run_status import RunStatus
from hubsync_core.store import audit as audit_store
from hubsync_core.store import lock, runs, segment_store
from hubsync_core.store.database import Database
from hubsync_core.sync.context import RunContext
from hubsync_core.sync.engine import properties_to_sync
from hubsync_core.sync.model import SyncOptions
from hubsync_core.sync.records import merged_ids

log = logging.getLogger("hubsync.audit")

#: HubSpot's batch read takes at most 100 ids.
BATCH_READ = 100


def run_audit(
    settings: Settings,
    db: Database,
    client: HubSpotClient,
    *,
    repair: bool = False,
    owner: str = "cli",
    clock: Callable[[], datetime] = utcnow,
) -> AuditReport:
    """Audit the copy (and repair it when asked) under the single-flight sync lock.

    Raises `store.lock.SyncAlreadyRunning` while a sync runs, `runner.AuditNotReady` before the
    first full sync, and HubSpot errors as the client raises them.
    """
    holder = lock.make_owner(owner)
    lock.acquire(db, holder, None)
    try:
        report = counting_audit(settings, db, client, clock=clock)
        if repair and report.differences:
            outcome = repair_copy(settings, db, client, report, holder, clock=clock)
            report = replace(report, repair=outcome)
            audit_store.save_report(db, report.as_dict(), None)
        return report
    finally:
        lock.release(db, holder)


def repair_copy(
    settings: Settings,
    db: Database,
    client: HubSpotClient,
    report: AuditReport,
    owner: str,
    *,
    clock: Callable[[], datetime] = utcnow,
) -> RepairOutcome:
    """Make the copy equal HubSpot for the contacts `report` named (the caller holds the lock)."""
    counts = {
        "missing": len(report.missing),
        "extra": len(report.extra),
        "stale": len(report.stale),
    }
    ctx = RunContext.begin(
        settings,
        db,
        client,
        mode="repair",
        owner=owner,
        options=SyncOptions(owner=owner),
        recorded={"audit": counts},
        checkpoint={"phase": "repair", "audit": counts},
        started_at=clock(),
        clock=clock,
    )
    run_id = ctx.run_id
    status, message = RunStatus.SUCCEEDED, ""
    by_segment: dict[str, int] = {}
    try:
        ctx.properties = properties_to_sync(settings, client)
        wanted = [*report.missing, *report.stale]
        gone: list[str] = []
        for start in range(0, len(wanted), BATCH_READ):
            chunk = wanted[start : start + BATCH_READ]
            records = client.batch_read_contacts(chunk, ctx.properties)
            ctx.store_records(records)
            answered = {r.id for r in records}
            for record in records:
                answered.update(merged_ids(record.properties))
            # Archived or deleted since the audit looked: removed like the extras.
            gone += [record_id for record_id in chunk if record_id not in answered]
        removed = [(record_id, ctx.clock()) for record_id in [*report.extra, *gone]]
        if removed:
            ctx.store_page([], [], archived=removed, pages=0)
        definitions = segment_store.list_definitions(db, settings)
        with db.transaction() as conn:
            by_segment = segment_store.recompute(conn, definitions, ctx.clock(), prune=True)
        ctx.save_checkpoint({**ctx.checkpoint, "phase": "done"})
    except HubSpotError as exc:
        status, message = RunStatus.PARTIAL, exc.message
        ctx.errors += 1
        raise
    finally:
        with db.transaction() as conn:
            ctx._save(conn)
        runs.finish_run(
            db,
            run_id,
            status,
            error_message=message or None,
            by_segment=by_segment if status == RunStatus.SUCCEEDED else None,
            duration_seconds=ctx.elapsed,
        )
    api_calls = ctx.api_counters()[0]
    log.info("Repair run %d: re-read %d, removed %d", run_id, ctx.contacts, ctx.archived)
    return RepairOutcome(run_id, reread=ctx.contacts, removed=ctx.archived, api_calls=api_calls)
