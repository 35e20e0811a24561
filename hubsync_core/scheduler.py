"""Named periodic jobs stored in the database, ticked by whichever process is up.

A job runs every N minutes counted from its last start (stored, so restarts keep the
rhythm). Ticks are claimed in the database (one process runs each); a tick that falls while
the job is still running is skipped, not queued; a job can pause itself (a DAILY 429 pauses
the sync until HubSpot's reset). The clock is injected, so tests step time without sleeping.

The sync schedule is job `sync`; other jobs (a nightly audit, say) register the same way.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from hubsync_core.run_status import RunStatus
from hubsync_core.store import schedule_store
from hubsync_core.store.database import Database
from hubsync_core.store.freshness_models import ScheduledJob

log = logging.getLogger("hubsync.scheduler")

#: The shortest period a job may have (HubSpot's API budget does not need more).
MIN_MINUTES = 5
#: A job's outcome when it did not run: another run held the database.
SKIPPED = "skipped"
#: A job's outcome when it stopped until `paused_until` (HubSpot's daily limit is spent).
PAUSED = "paused"


@dataclass(frozen=True)
class JobOutcome:
    """How one run of a job ended: `status` is the sync's `RunStatus`, `SKIPPED` or `PAUSED`.
    `paused_until` holds the job back until then."""

    status: str
    message: str = ""
    paused_until: datetime | None = None


#: When a job is next due, from its stored row (None before its first tick) and now.
DueRule = Callable[[ScheduledJob | None, datetime], datetime | None]


@dataclass(frozen=True)
class PeriodicJob:
    """A job the scheduler may run: its name, what it does, and its period when unset.

    `due` replaces the every-N-minutes rule for jobs with their own timing (a nightly job).
    """

    name: str
    run: Callable[[], JobOutcome]
    default_minutes: int | None = None
    due: DueRule | None = None


@dataclass(frozen=True)
class JobState:
    """What a face shows about a job: its period, next run, last result, pause."""

    name: str
    every_minutes: int | None
    next_run_at: datetime | None
    last_started_at: datetime | None
    last_finished_at: datetime | None
    last_status: str | None
    last_message: str | None
    paused_until: datetime | None

    @property
    def enabled(self) -> bool:
        return self.every_minutes is not None


def parse_period(text: str) -> int | None:
    """`"15m"`, `"15"`, `"1h"` → minutes (at least `MIN_MINUTES`); `"off"` → None."""
    raw = text.strip().lower()
    if raw in ("off", "none", "0"):
        return None
    factor = 60 if raw.endswith("h") else 1
    number = raw.rstrip("mh").strip()
    if not number.isdigit():
        raise ValueError(f"a period is like 15m, 1h or off, got {text!r}")
    minutes = int(number) * factor
    if minutes < MIN_MINUTES:
        raise ValueError(f"the period must be at least {MIN_MINUTES} minutes, got {text!r}")
    return minutes


def next_due(row: ScheduledJob | None, every: int | None, now: datetime) -> datetime | None:
    """When the job should next start (None: off).

    Never run: one period after the schedule was set (or, with no stored row, from now), so
    turning a schedule on, or starting a process, never fires a run by surprise. Otherwise
    one period after the last start; ticks that fell while the last run was still going are
    skipped (the next is the first period boundary after it finished); a pause moves it later.
    """
    if every is None:
        return None
    period = timedelta(minutes=every)
    if row is None:
        due = now + period
    elif row.last_started_at is None:
        due = row.updated_at + period
    else:
        due = row.last_started_at + period
        finished = row.last_finished_at
        if finished is not None and finished >= row.last_started_at and finished > due:
            periods = math.ceil((finished - row.last_started_at) / period)
            due = row.last_started_at + periods * period
    if row is not None and row.paused_until is not None and row.paused_until > due:
        due = row.paused_until
    return due


class Scheduler:
    """Runs due jobs when `tick()` is called (a worker thread calls it every few seconds)."""

    def __init__(
        self, db: Database, jobs: Sequence[PeriodicJob], clock: Callable[[], datetime]
    ) -> None:
        self.db = db
        self.jobs = {job.name: job for job in jobs}
        self.clock = clock

    def period(self, name: str, row: ScheduledJob | None) -> int | None:
        """The job's period in minutes: the stored one, else the job's default."""
        if row is not None:
            return row.every_minutes
        return self.jobs[name].default_minutes if name in self.jobs else None

    def next_run(self, name: str, row: ScheduledJob | None, now: datetime) -> datetime | None:
        """When job `name` is next due (None: off)."""
        job = self.jobs.get(name)
        if job is not None and job.due is not None:
            return job.due(row, now)
        return next_due(row, self.period(name, row), now)

    def state(self, name: str) -> JobState:
        """Job `name` as a face shows it."""
        row = schedule_store.get(self.db, name)
        every = self.period(name, row)
        return JobState(
            name=name,
            every_minutes=every,
            next_run_at=self.next_run(name, row, self.clock()),
            last_started_at=row.last_started_at if row else None,
            last_finished_at=row.last_finished_at if row else None,
            last_status=row.last_status if row else None,
            last_message=row.last_message if row else None,
            paused_until=row.paused_until if row else None,
        )

    def run_now(self, name: str) -> JobOutcome | None:
        """Run job `name` now as its tick (None if another process just took one)."""
        row = schedule_store.get(self.db, name)
        if row is None:
            schedule_store.ensure(self.db, name, self.period(name, None), self.clock())
            row = schedule_store.get(self.db, name)
        assert row is not None
        return self._run(self.jobs[name], row)

    def _run(self, job: PeriodicJob, row: ScheduledJob) -> JobOutcome | None:
        if not schedule_store.claim(self.db, job.name, row.last_started_at, self.clock()):
            return None  # another process took this tick
        try:
            outcome = job.run()
        except Exception as exc:  # a crashing job must not stop the others
            log.exception("scheduled job %s crashed", job.name)
            outcome = JobOutcome(RunStatus.FAILED, f"{type(exc).__name__}: {exc}")
        schedule_store.finish(
            self.db, job.name, outcome.status, outcome.message, self.clock(), outcome.paused_until
        )
        return outcome

    def tick(self) -> dict[str, JobOutcome]:
        """Run every job that is due now (claimed in the database); returns their outcomes."""
        outcomes: dict[str, JobOutcome] = {}
        for name, job in self.jobs.items():
            now = self.clock()
            row = schedule_store.get(self.db, name)
            every = self.period(name, row)
            if row is None and (every is not None or job.due is not None):
                # A default schedule: anchor it now, the first run comes one period later.
                schedule_store.ensure(self.db, name, every, now)
                continue
            due = self.next_run(name, row, now)
            if row is None or due is None or now < due:
                continue
            outcome = self._run(job, row)
            if outcome is not None:
                outcomes[name] = outcome
        return outcomes
