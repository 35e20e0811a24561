"""With HubSpot's search index lagging, the incremental look-back (the overlap, at least the
index lag) loses nothing and the audit calls recent edits pending, never drift. Time is a
controllable clock shared by the sandbox (edit times, index lag) and the sync (its window),
so nothing sleeps."""

from __future__ import annotations

from datetime import datetime, timedelta

from sync_helpers import db_mismatches, synced_properties

from hubsync_core.audit import DRIFT
from hubsync_core.audit.runner import counting_audit
from hubsync_core.store.database import Database
from hubsync_core.sync.engine import run_sync
from hubsync_core.sync.model import SyncOptions

from .conftest import make_audited


class DualClock:
    """Epoch seconds for the sandbox, naive UTC for the sync; only `advance` moves it."""

    def __init__(self) -> None:
        self.now = datetime(2030, 1, 1)

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)

    def epoch(self) -> float:
        return (self.now - datetime(1970, 1, 1)).total_seconds()

    def __call__(self) -> datetime:
        return self.now


def _edit_stream(
    overlap_minutes: int, sqlite_db: Database, index_lag_setting: int = 60
) -> tuple[list[str], set[str]]:
    """(what the copy lacks at the end, the audits' verdicts along the way) when the portal's
    search index lags 60 s and HubSync is told it lags `index_lag_setting` seconds."""
    audited = make_audited(400, 23, sqlite_db, index_lag_seconds=60)
    try:
        clock = DualClock()
        portal = audited.sandbox.portal
        portal.clock = clock.epoch
        settings = audited.settings.with_overrides(
            incremental_overlap_minutes=overlap_minutes,
            incremental_lag_minutes=0,
            index_lag_seconds=index_lag_setting,
        )
        run_sync(settings, audited.db, audited.client, SyncOptions(mode="incremental"), clock=clock)
        live = portal.live_ids()
        statuses: set[str] = set()
        for step in range(8):  # four minutes of edits, an incremental sync every 30 s
            for k in range(5):
                clock.advance(5)
                portal.update_contact(live[step * 40 + k], {"jobtitle": f"Edit {step}.{k}"})
            clock.advance(5)
            stats = run_sync(
                settings, audited.db, audited.client, SyncOptions(mode="incremental"), clock=clock
            )
            assert stats.status == "succeeded", stats.message
            report = counting_audit(settings, audited.db, audited.client, clock=clock)
            statuses.add(report.status)
        clock.advance(180)  # the edits stop; the index catches up
        run_sync(settings, audited.db, audited.client, SyncOptions(mode="incremental"), clock=clock)
        return db_mismatches(audited.db, audited.sandbox, synced_properties(settings)), statuses
    finally:
        audited.client.close()
        audited.sandbox.stop()


def test_syncs_every_30_seconds_under_a_60_second_index_lag_lose_nothing(
    sqlite_db: Database,
) -> None:
    problems, statuses = _edit_stream(2, sqlite_db)
    assert problems == []
    assert DRIFT not in statuses


def test_an_overlap_shorter_than_the_index_lag_still_looks_back_the_index_lag(
    sqlite_db: Database,
) -> None:
    problems, statuses = _edit_stream(0, sqlite_db)
    assert problems == []
    assert DRIFT not in statuses


def test_without_any_look_back_edits_are_lost(sqlite_db: Database) -> None:
    # What the look-back is for: with no overlap and the index lag understated as none,
    # edits that reach the index late fall between two windows. (The audit, told the same
    # lag, proves each range too early to see them: an understated lag blinds both.)
    problems, _ = _edit_stream(0, sqlite_db, index_lag_setting=0)
    assert problems and "contacts differ" in problems[0]
