"""The registry of named periodic jobs (`scheduled_jobs`): settings and last run of each.

`claim` is how a process takes a due tick: a conditional UPDATE on the `last_started_at` it
read, so of several processes (two dashboards, an API server) seeing the same due job,
exactly one runs it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update

from hubsync_core.store.contacts import dialect_insert
from hubsync_core.store.database import Database
from hubsync_core.store.freshness_models import ScheduledJob

JOBS = ScheduledJob.__table__  # type: ignore[attr-defined]


def get(db: Database, name: str) -> ScheduledJob | None:
    """The stored row of job `name`, or None when it was never set or run."""
    with db.connect() as conn:
        row = conn.execute(select(JOBS).where(JOBS.c.name == name)).mappings().first()
    return ScheduledJob(**row) if row is not None else None


def ensure(db: Database, name: str, every_minutes: int | None, now: datetime) -> None:
    """Create job `name`'s row with a default period unless it exists."""
    with db.transaction() as conn:
        conn.execute(
            dialect_insert(conn)(JOBS)
            .values(name=name, every_minutes=every_minutes, updated_at=now)
            .on_conflict_do_nothing(index_elements=[JOBS.c.name])
        )


def set_every(db: Database, name: str, every_minutes: int | None, now: datetime) -> None:
    """Set (or with None, turn off) job `name`'s period; a pause is lifted with it."""
    with db.transaction() as conn:
        statement = dialect_insert(conn)(JOBS).values(
            name=name, every_minutes=every_minutes, updated_at=now
        )
        conn.execute(
            statement.on_conflict_do_update(
                index_elements=[JOBS.c.name],
                set_={"every_minutes": every_minutes, "paused_until": None, "updated_at": now},
            )
        )


def claim(db: Database, name: str, seen_started: datetime | None, now: datetime) -> bool:
    """Take a due tick: True for exactly one of the processes that read `seen_started`."""
    condition = (
        JOBS.c.last_started_at.is_(None)
        if seen_started is None
        else JOBS.c.last_started_at == seen_started
    )
    with db.transaction() as conn:
        taken = conn.execute(
            update(JOBS)
            .where(JOBS.c.name == name, condition)
            .values(last_started_at=now, updated_at=now)
        ).rowcount
    return taken == 1


def finish(
    db: Database,
    name: str,
    status: str,
    message: str,
    now: datetime,
    paused_until: datetime | None = None,
) -> None:
    """Record how a run of job `name` ended (and a pause, if it asks for one)."""
    with db.transaction() as conn:
        conn.execute(
            update(JOBS)
            .where(JOBS.c.name == name)
            .values(
                last_finished_at=now,
                last_status=status,
                last_message=message[:2000],
                paused_until=paused_until,
                updated_at=now,
            )
        )
