"""Sync-run bookkeeping: progress, finishing, which run to resume, history, state."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from hubsync_core.store import lock, runs
from hubsync_core.store.database import Database
from hubsync_core.store.models import SyncRun

OWNER = "cli@host:1"


def run_with(db: Database, mode: str, status: str, checkpoint: dict | None = None) -> int:
    """A finished run of `mode` with `status` and `checkpoint`; returns its id."""
    run = runs.create_run(db, mode, OWNER, {"batch_size": 100})
    assert run.id is not None
    if checkpoint is not None:
        with db.transaction() as conn:
            runs.save_progress(
                conn,
                run.id,
                pages=1,
                contacts=100,
                api_calls=1,
                retries=0,
                rate_limited=0,
                errors=0,
                rejected=0,
                checkpoint=checkpoint,
            )
    if status != "running":
        runs.finish_run(db, run.id, status)
    return run.id


def test_create_run_returns_a_running_run_readable_after_the_session(db: Database) -> None:
    run = runs.create_run(db, "full", OWNER, {"max_contacts": 10}, resumed_from=None)

    assert run.id == 1
    assert run.status == "running"
    assert run.owner == OWNER
    assert run.options == {"max_contacts": 10}
    assert run.started_at is not None
    assert run.heartbeat_at == run.started_at
    assert run.finished_at is None
    fetched = runs.get_run(db, run.id)
    assert isinstance(fetched, SyncRun)
    assert (fetched.mode, fetched.pages, fetched.checkpoint) == ("full", 0, {})
    assert runs.get_run(db, 404) is None


def test_save_progress_stores_counters_checkpoint_and_heartbeat(db: Database) -> None:
    run = runs.create_run(db, "full", OWNER, {})
    assert run.id is not None

    with db.transaction() as conn:
        runs.save_progress(
            conn,
            run.id,
            pages=3,
            contacts=300,
            api_calls=4,
            retries=1,
            rate_limited=2,
            errors=0,
            rejected=5,
            checkpoint={"phase": "contacts", "after": "301"},
            expected_total=1000,
        )
    with db.transaction() as conn:
        runs.save_progress(
            conn,
            run.id,
            pages=4,
            contacts=400,
            api_calls=5,
            retries=1,
            rate_limited=2,
            errors=1,
            rejected=5,
            checkpoint={"phase": "contacts", "after": "401"},
        )

    saved = runs.get_run(db, run.id)
    assert saved is not None
    assert (saved.pages, saved.contacts, saved.api_calls, saved.retries) == (4, 400, 5, 1)
    assert (saved.rate_limited, saved.errors, saved.rejected) == (2, 1, 5)
    assert saved.checkpoint == {"phase": "contacts", "after": "401"}
    assert saved.expected_total == 1000  # None leaves it as it was
    assert saved.heartbeat_at is not None and saved.heartbeat_at >= run.started_at


def test_save_progress_rolls_back_with_the_page_transaction(db: Database) -> None:
    run = runs.create_run(db, "full", OWNER, {})
    assert run.id is not None

    with pytest.raises(RuntimeError), db.transaction() as conn:
        runs.save_progress(
            conn,
            run.id,
            pages=1,
            contacts=100,
            api_calls=1,
            retries=0,
            rate_limited=0,
            errors=0,
            rejected=0,
            checkpoint={"after": "101"},
        )
        raise RuntimeError("the page failed")

    saved = runs.get_run(db, run.id)
    assert saved is not None
    assert (saved.pages, saved.checkpoint) == (0, {})


def test_save_progress_and_heartbeat_keep_the_held_lock_fresh(db: Database) -> None:
    run = runs.create_run(db, "full", OWNER, {})
    assert run.id is not None
    lock.acquire(db, OWNER, run.id)
    with db.transaction() as conn:
        conn.execute(update(lock.LOCKS).values(heartbeat_at=run.started_at.replace(year=2000)))

    runs.heartbeat(db, run.id)

    holder = lock.current_holder(db)
    assert holder is not None and holder.heartbeat_at.year > 2000


def test_finish_run_records_outcome_and_wall_time(db: Database) -> None:
    run = runs.create_run(db, "full", OWNER, {})
    assert run.id is not None

    runs.finish_run(
        db,
        run.id,
        "partial",
        error_message="HubSpot kept answering 503",
        error_hint="Sync again to resume.",
        correlation_id="abc-123",
        by_segment={"chainge": 3},
    )

    done = runs.get_run(db, run.id)
    assert done is not None
    assert done.status == "partial"
    assert done.finished_at is not None and done.finished_at >= done.started_at
    assert done.duration_seconds is not None and done.duration_seconds >= 0
    assert (done.error_message, done.error_hint, done.correlation_id) == (
        "HubSpot kept answering 503",
        "Sync again to resume.",
        "abc-123",
    )
    assert done.by_segment == {"chainge": 3}


def test_finish_run_refuses_unknown_status_and_unknown_run(db: Database) -> None:
    run = runs.create_run(db, "full", OWNER, {})
    assert run.id is not None

    with pytest.raises(ValueError, match="unknown run status"):
        runs.finish_run(db, run.id, "done")
    with pytest.raises(LookupError):
        runs.finish_run(db, 999, "failed")


def test_latest_running_and_history_order_newest_first(db: Database) -> None:
    assert runs.latest_run(db) is None
    first = run_with(db, "full", "succeeded")
    second = run_with(db, "incremental", "failed")
    third = run_with(db, "full", "running")

    latest, finished, running = (
        runs.latest_run(db),
        runs.latest_run(db, finished=True),
        runs.running_run(db),
    )
    assert latest is not None and latest.id == third
    assert finished is not None and finished.id == second
    assert running is not None and running.id == third
    assert [r.id for r in runs.history(db)] == [third, second, first]
    assert [r.id for r in runs.history(db, limit=2)] == [third, second]
    assert runs.history(db)[0].mode == "full"  # readable after the session closed


def test_no_resumable_run_without_an_unfinished_one(db: Database) -> None:
    assert runs.resumable_run(db, "full") is None
    run_with(db, "full", "succeeded", {"phase": "segments"})
    assert runs.resumable_run(db, "full") is None


@pytest.mark.parametrize("status", ["partial", "cancelled", "interrupted", "failed"])
def test_unfinished_run_with_checkpoint_is_resumable(db: Database, status: str) -> None:
    wanted = run_with(db, "full", status, {"phase": "contacts", "after": "501"})

    found = runs.resumable_run(db, "full")

    assert found is not None
    assert found.id == wanted
    assert found.checkpoint == {"phase": "contacts", "after": "501"}


def test_resumable_run_is_the_newest_with_a_checkpoint(db: Database) -> None:
    run_with(db, "full", "partial", {"after": "101"})
    wanted = run_with(db, "full", "cancelled", {"after": "201"})
    run_with(db, "full", "failed", None)  # failed before storing anything

    found = runs.resumable_run(db, "full")

    assert found is not None and found.id == wanted


def test_a_later_success_supersedes_unfinished_runs_of_that_mode(db: Database) -> None:
    run_with(db, "full", "partial", {"after": "101"})
    run_with(db, "full", "succeeded", {"phase": "segments"})

    assert runs.resumable_run(db, "full") is None


def test_resumable_run_ignores_other_modes_and_running_runs(db: Database) -> None:
    wanted = run_with(db, "incremental", "partial", {"last_id": "9"})
    run_with(db, "full", "succeeded", {"phase": "segments"})
    run_with(db, "incremental", "running", {"last_id": "10"})

    found = runs.resumable_run(db, "incremental")

    assert found is not None and found.id == wanted
    assert runs.resumable_run(db, "chainge") is None


def test_state_values_are_set_replaced_and_read(db: Database) -> None:
    assert runs.get_state(db, "high_water_mark") is None

    with db.transaction() as conn:
        runs.set_state(conn, "high_water_mark", "2026-11-01T00:00:00")
        runs.set_state(conn, "high_water_mark", "2026-11-28T00:00:00")
        assert runs.get_state(conn, "high_water_mark") == "2026-11-28T00:00:00"

    assert runs.get_state(db, "high_water_mark") == "2026-11-28T00:00:00"
