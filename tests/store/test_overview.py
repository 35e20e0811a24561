"""The Overview numbers and the run summaries they show.

Every test runs on SQLite and PostgreSQL (the shared `db` fixture).
"""

from __future__ import annotations

from hubsync_core.store.database import Database
from hubsync_core.store.overview import overview
from hubsync_core.store.runs import latest_run

from .contact_data import (
    SYNCED,
    add_run,
    d,
)


def test_overview_counts_live_archived_and_emailless_contacts(people: Database) -> None:
    add_run(people, status="failed", started_at=d("2026-11-27T10:00:00"))
    good = add_run(people, status="succeeded", started_at=d("2026-11-28T09:00:00"), contacts=9)
    latest = add_run(people, status="partial", started_at=d("2026-11-28T11:00:00"), errors=2)
    found = overview(people)
    assert (found.total, found.archived, found.without_email, found.lists) == (8, 1, 2, 2)
    assert found.by_segment == {"chainge": 2, "engaged": 3, "cold": 3, "high_value": 2}
    assert found.segment_names["high_value"] == "high_value"
    assert found.last_synced_at == SYNCED
    assert found.last_run is not None and found.last_run.id == latest
    assert (found.last_run.status, found.last_run.errors) == ("partial", 2)
    assert found.last_success is not None and found.last_success.id == good
    assert found.last_success.contacts == 9
    assert found.is_empty is False
    assert latest_run(people, statuses=["failed"]).started_at == d("2026-11-27T10:00:00")  # type: ignore[union-attr]


def test_overview_of_an_empty_database(db: Database) -> None:
    found = overview(db)
    assert found.is_empty
    assert (found.total, found.archived, found.without_email, found.lists) == (0, 0, 0, 0)
    assert found.last_run is None and found.last_success is None
    assert found.last_synced_at is None
    assert latest_run(db) is None
