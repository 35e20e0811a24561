"""The job scheduler: ticks, skipped ticks, restarts, pauses and single flight, on a stepped
clock (no sleeps)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from hubsync_core.freshness import next_daily_reset, sync_job
from hubsync_core.hubspot.errors import DailyLimitError
from hubsync_core.scheduler import JobOutcome, PeriodicJob, Scheduler, parse_period
from hubsync_core.store import schedule_store
from hubsync_core.store.database import Database
from hubsync_core.store.lock import SyncAlreadyRunning
from hubsync_core.sync.model import SyncStats

T0 = datetime(2026, 12, 5, 12, 0, 0)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def counting_job(
    clock: Clock, runs: list[datetime], *, takes: timedelta = timedelta()
) -> PeriodicJob:
    def run() -> JobOutcome:
        runs.append(clock.now)
        clock.now += takes  # the job's own duration, on the stepped clock
        return JobOutcome("succeeded", "ok")

    return PeriodicJob("sync", run)


def test_periods_parse_and_refuse_less_than_five_minutes() -> None:
    assert parse_period("15m") == 15
    assert parse_period("1h") == 60
    assert parse_period("off") is None
    with pytest.raises(ValueError):
        parse_period("2m")


def test_off_by_default_runs_nothing(sqlite_db: Database) -> None:
    clock, runs = Clock(), []
    scheduler = Scheduler(sqlite_db, [counting_job(clock, runs)], clock)
    clock.advance(hours=5)
    assert scheduler.tick() == {}
    assert runs == []


def test_runs_every_period_from_the_last_start(sqlite_db: Database) -> None:
    clock, runs = Clock(), []
    scheduler = Scheduler(sqlite_db, [counting_job(clock, runs)], clock)
    schedule_store.set_every(sqlite_db, "sync", 15, clock())
    scheduler.tick()  # turning the schedule on does not fire a run
    assert scheduler.state("sync").next_run_at == T0 + timedelta(minutes=15)
    clock.advance(minutes=15)
    scheduler.tick()
    clock.advance(minutes=14)
    scheduler.tick()
    clock.advance(minutes=1)
    scheduler.tick()
    assert runs == [T0 + timedelta(minutes=15), T0 + timedelta(minutes=30)]
    assert scheduler.state("sync").next_run_at == T0 + timedelta(minutes=45)


def test_a_tick_missed_during_a_long_run_is_skipped_not_queued(sqlite_db: Database) -> None:
    clock, runs = Clock(), []
    job = counting_job(clock, runs, takes=timedelta(minutes=40))
    scheduler = Scheduler(sqlite_db, [job], clock)
    schedule_store.set_every(sqlite_db, "sync", 15, T0 - timedelta(minutes=15))
    scheduler.tick()  # runs 12:00-12:40; the 12:15 and 12:30 ticks fell inside it
    assert scheduler.state("sync").next_run_at == T0 + timedelta(minutes=45)
    scheduler.tick()
    assert runs == [T0]
    clock.now = T0 + timedelta(minutes=45)
    scheduler.tick()
    assert runs == [T0, T0 + timedelta(minutes=45)]


def test_the_rhythm_survives_a_restart(sqlite_db: Database) -> None:
    clock, runs = Clock(), []
    schedule_store.set_every(sqlite_db, "sync", 10, T0 - timedelta(minutes=10))
    Scheduler(sqlite_db, [counting_job(clock, runs)], clock).tick()
    clock.advance(minutes=7)
    restarted = Scheduler(sqlite_db, [counting_job(clock, runs)], clock)  # a new process
    restarted.tick()
    assert runs == [T0]
    clock.advance(minutes=3)
    restarted.tick()
    assert runs == [T0, T0 + timedelta(minutes=10)]


def test_two_processes_take_one_tick_once(sqlite_db: Database) -> None:
    clock, runs = Clock(), []
    schedule_store.set_every(sqlite_db, "sync", 5, T0 - timedelta(minutes=5))
    first = Scheduler(sqlite_db, [counting_job(clock, runs)], clock)
    second = Scheduler(sqlite_db, [counting_job(clock, runs)], clock)
    first.tick()
    second.tick()
    assert runs == [T0]


def test_a_claimed_tick_cannot_be_claimed_again(sqlite_db: Database) -> None:
    schedule_store.set_every(sqlite_db, "sync", 5, T0)
    assert schedule_store.claim(sqlite_db, "sync", None, T0)
    assert not schedule_store.claim(sqlite_db, "sync", None, T0)


def test_a_running_sync_makes_the_tick_skip(sqlite_db: Database) -> None:
    def busy() -> SyncStats:
        raise SyncAlreadyRunning("cli@host:1", T0, 1)

    clock = Clock()
    job = sync_job(busy, lambda: T0, 5)
    scheduler = Scheduler(sqlite_db, [job], clock)
    scheduler.tick()  # anchors the default schedule at T0
    clock.advance(minutes=5)
    outcome = scheduler.tick()["sync"]
    assert outcome.status == "skipped"
    assert scheduler.state("sync").next_run_at == T0 + timedelta(minutes=10)


def test_a_daily_429_pauses_until_hubspots_reset_and_says_so(sqlite_db: Database) -> None:
    reset = datetime(2026, 12, 6, 5, 0)

    def spent() -> SyncStats:
        return SyncStats(status="failed", message="daily limit", hint=DailyLimitError.hint)

    clock = Clock()
    scheduler = Scheduler(sqlite_db, [sync_job(spent, lambda: reset, 5)], clock)
    scheduler.tick()
    clock.advance(minutes=5)
    outcome = scheduler.tick()["sync"]
    assert outcome.status == "paused" and "until 2026-12-06 05:00" in outcome.message
    state = scheduler.state("sync")
    assert state.paused_until == reset and state.next_run_at == reset
    clock.advance(hours=3)
    assert scheduler.tick() == {}
    clock.now = reset
    assert scheduler.tick()["sync"].status == "paused"  # still spent: paused again


def test_setting_the_schedule_lifts_a_pause(sqlite_db: Database) -> None:
    schedule_store.set_every(sqlite_db, "sync", 5, T0)
    schedule_store.finish(
        sqlite_db, "sync", "paused", "x", T0, paused_until=T0 + timedelta(hours=9)
    )
    schedule_store.set_every(sqlite_db, "sync", 15, T0)
    assert schedule_store.get(sqlite_db, "sync").paused_until is None


def test_daily_reset_is_midnight_in_the_portals_time_zone() -> None:
    now = datetime(2026, 12, 5, 20, 0)  # UTC; 15:00 in New York
    assert next_daily_reset(now, "America/New_York") == datetime(2026, 12, 6, 5, 0)
    assert next_daily_reset(now, "Not/AZone") == datetime(2026, 12, 6, 0, 0)
