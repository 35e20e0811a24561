"""The nightly full audit (`HUBSYNC_AUDIT_NIGHTLY_AT`, HH:MM UTC) as a scheduled job.

It is job `audit` of the scheduler (scheduler.py), so every long-lived process that hosts the
schedule (the dashboard, `hubsync api`, `hubsync sync --every`) can run it, and the tick's
claim in the database makes exactly one of them do so. A sync holding the lock at the planned
time delays the audit by `RETRY_MINUTES`, not by a day; a process that was down at the planned
time audits once when it comes back.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from hubsync_core.audit.model import AuditReport
from hubsync_core.audit.runner import AuditNotReady
from hubsync_core.hubspot.errors import HubSpotError
from hubsync_core.run_status import RunStatus
from hubsync_core.scheduler import SKIPPED, DueRule, JobOutcome, JobState, PeriodicJob
from hubsync_core.store.freshness_models import ScheduledJob
from hubsync_core.store.lock import SyncAlreadyRunning

#: The nightly audit's job name.
AUDIT_JOB = "audit"
#: How soon an audit skipped for a running sync tries again.
RETRY_MINUTES = 5


def next_run(now: datetime, at: str) -> datetime:
    """The next `at` ("HH:MM", UTC) strictly after `now` (naive UTC)."""
    hour, minute = (int(part) for part in at.split(":"))
    planned = now.replace(hour=hour, minute=minute, second=0, microsecond=0)
    return planned if planned > now else planned + timedelta(days=1)


def daily_at(at: str) -> DueRule:
    """The due rule of a job run once a day at `at`: the first `at` after its last start (after
    the job was set up, before its first run); `RETRY_MINUTES` after a skipped run."""

    def due(row: ScheduledJob | None, now: datetime) -> datetime:
        if row is None:
            return next_run(now, at)
        if row.last_started_at is None:
            return next_run(row.updated_at, at)
        planned = next_run(row.last_started_at, at)
        finished = row.last_finished_at
        if row.last_status == SKIPPED and finished is not None:
            return min(finished + timedelta(minutes=RETRY_MINUTES), planned)
        return planned

    return due


def nightly_audit_job(audit: Callable[[], AuditReport], at: str) -> PeriodicJob:
    """Job `audit`: `audit()` every day at `at`. A running sync skips the tick (retried soon);
    HubSpot failing, or nothing synced yet, fails it until the next night."""

    def run() -> JobOutcome:
        try:
            report = audit()
        except SyncAlreadyRunning as exc:
            return JobOutcome(SKIPPED, f"Skipped: {exc}")
        except (HubSpotError, AuditNotReady) as exc:
            return JobOutcome(RunStatus.FAILED, f"The nightly audit could not run: {exc}")
        return JobOutcome(RunStatus.SUCCEEDED, f"Nightly audit: {report.verdict()}")

    return PeriodicJob(AUDIT_JOB, run, due=daily_at(at))


def describe_nightly(state: JobState, at: str) -> str:
    """ "every night at 03:00 UTC, next 2026-12-06 03:00 UTC (last: ...)", for the faces."""
    text = f"every night at {at} UTC"
    if state.next_run_at is not None:
        text += f", next {state.next_run_at:%Y-%m-%d %H:%M} UTC"
    if state.last_status:
        text += f" (last: {state.last_message or state.last_status})"
    return text
