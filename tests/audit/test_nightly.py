"""The nightly audit as a scheduled job: when it runs, once across processes, retried after a
running sync, caught up after a night the process was down; on a stepped clock (no sleeps)."""

from __future__ import annotations

from datetime import datetime, timedelta

from hubsync_core.audit import IN_SYNC
from hubsync_core.audit.nightly import AUDIT_JOB, RETRY_MINUTES, next_run, nightly_audit_job
from hubsync_core.scheduler import SKIPPED, Scheduler
from hubsync_core.service import HubSyncService
from hubsync_core.store.database import Database
from hubsync_core.store.lock import SyncAlreadyRunning

from .conftest import Audited

EVENING = datetime(2026, 12, 5, 22, 0)
THREE_AM = datetime(2026, 12, 6, 3, 0)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class FakeAudit:
    """Counts its runs; raises `SyncAlreadyRunning` while `busy`."""

    def __init__(self, clock: Clock) -> None:
        self.clock, self.runs, self.busy = clock, [], False

    def __call__(self):  # type: ignore[no-untyped-def]
        if self.busy:
            raise SyncAlreadyRunning("cli@host:1", self.clock.now, 7)
        self.runs.append(self.clock.now)
        return _Report()


class _Report:
    def verdict(self) -> str:
        return "in sync: 3 of 3"


def scheduler(db: Database, clock: Clock, audit: FakeAudit) -> Scheduler:
    return Scheduler(db, [nightly_audit_job(audit, "03:00")], clock)


def test_next_run_is_the_next_time_of_day_strictly_after_now() -> None:
    assert next_run(datetime(2026, 12, 5, 1, 0), "03:00") == datetime(2026, 12, 5, 3, 0)
    assert next_run(datetime(2026, 12, 5, 3, 0), "03:00") == datetime(2026, 12, 6, 3, 0)
    assert next_run(datetime(2026, 12, 5, 23, 59, 59), "00:00") == datetime(2026, 12, 6, 0, 0)


def test_it_runs_once_at_the_planned_time_and_again_the_next_night(sqlite_db: Database) -> None:
    clock = Clock(EVENING)
    audit = FakeAudit(clock)
    jobs = scheduler(sqlite_db, clock, audit)
    jobs.tick()  # the first process up sets the job up; nothing runs by surprise
    clock.now = THREE_AM - timedelta(seconds=1)
    jobs.tick()
    assert audit.runs == []
    assert jobs.state(AUDIT_JOB).next_run_at == THREE_AM

    for now in (THREE_AM, THREE_AM + timedelta(seconds=5), THREE_AM + timedelta(hours=12)):
        clock.now = now
        jobs.tick()
    assert audit.runs == [THREE_AM]
    state = jobs.state(AUDIT_JOB)
    assert (state.last_status, state.last_message) == (
        "succeeded",
        "Nightly audit: in sync: 3 of 3",
    )
    assert state.next_run_at == THREE_AM + timedelta(days=1)

    clock.now = THREE_AM + timedelta(days=1)
    jobs.tick()
    assert audit.runs == [THREE_AM, THREE_AM + timedelta(days=1)]


def test_two_processes_audit_once(sqlite_db: Database) -> None:
    clock = Clock(EVENING)
    audit = FakeAudit(clock)
    dashboard, api = scheduler(sqlite_db, clock, audit), scheduler(sqlite_db, clock, audit)
    dashboard.tick()
    clock.now = THREE_AM
    dashboard.tick()
    api.tick()
    assert audit.runs == [THREE_AM]


def test_a_running_sync_delays_it_by_minutes_not_a_day(sqlite_db: Database) -> None:
    clock = Clock(EVENING)
    audit = FakeAudit(clock)
    jobs = scheduler(sqlite_db, clock, audit)
    jobs.tick()
    clock.now, audit.busy = THREE_AM, True
    jobs.tick()
    state = jobs.state(AUDIT_JOB)
    assert state.last_status == SKIPPED and "A sync is already running" in state.last_message
    retry = THREE_AM + timedelta(minutes=RETRY_MINUTES)
    assert state.next_run_at == retry

    audit.busy = False
    clock.now = retry - timedelta(seconds=1)
    jobs.tick()
    clock.now = retry
    jobs.tick()
    assert audit.runs == [retry]
    assert jobs.state(AUDIT_JOB).next_run_at == THREE_AM + timedelta(days=1)


def test_a_night_missed_while_down_is_audited_once_on_return(sqlite_db: Database) -> None:
    clock = Clock(EVENING)
    audit = FakeAudit(clock)
    scheduler(sqlite_db, clock, audit).tick()
    clock.now = THREE_AM
    scheduler(sqlite_db, clock, audit).tick()
    clock.now = THREE_AM + timedelta(days=1, hours=6)  # down from before 03:00 until 09:00
    back = scheduler(sqlite_db, clock, audit)
    back.tick()
    back.tick()
    assert audit.runs == [THREE_AM, THREE_AM + timedelta(days=1, hours=6)]
    assert back.state(AUDIT_JOB).next_run_at == THREE_AM + timedelta(days=2)


def test_the_facade_schedules_the_real_audit_when_the_setting_asks(audited: Audited) -> None:
    settings = audited.settings.with_overrides(audit_nightly_at="03:00")
    service = HubSyncService(settings, database=audited.db, client=audited.client)
    clock = Clock(EVENING)
    jobs = service.scheduler(clock=clock)
    jobs.tick()
    clock.now = THREE_AM
    outcomes = jobs.tick()

    assert outcomes[AUDIT_JOB].status == "succeeded"
    last = service.last_audit()
    assert last is not None and last["status"] == IN_SYNC
    nightly = service.nightly_audit()
    assert nightly is not None and nightly.last_status == "succeeded"
    off = HubSyncService(audited.settings, database=audited.db, client=audited.client)
    assert off.nightly_audit() is None
    assert AUDIT_JOB not in off.scheduler().jobs
