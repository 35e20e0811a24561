"""Chart data for the Insights page, on an empty and on a populated database."""

from __future__ import annotations

from datetime import date

import pytest

from hubsync_core.store.database import Database
from hubsync_core.store.explorer import FUNNEL_STAGES, NO_STAGE, ContactFilter
from hubsync_core.store.insights import (
    STATUS_COLOURS,
    EngagementPoint,
    SegmentShare,
    StageCount,
    created_per_month,
    engagement_trend,
    lifecycle_funnel,
    segment_distribution,
    sync_history,
)

from .contact_data import add_contact, add_run, d


def test_every_chart_is_empty_on_an_empty_database(db: Database) -> None:
    assert sync_history(db) == []
    assert engagement_trend(db) == []
    assert lifecycle_funnel(db) == []
    assert created_per_month(db) == []
    shares = segment_distribution(db)
    assert [(s.key, s.count, s.share) for s in shares] == [
        ("chainge", 0, 0.0),
        ("engaged", 0, 0.0),
        ("cold", 0, 0.0),
        ("high_value", 0, 0.0),
    ]


def test_segment_distribution_gives_counts_shares_names_and_colours(people: Database) -> None:
    shares = {s.key: s for s in segment_distribution(people)}
    assert list(shares) == ["chainge", "engaged", "cold", "high_value"]
    assert shares["engaged"] == SegmentShare("engaged", "engaged", "#54A24B", 3, 3 / 8)
    assert shares["high_value"].count == 2  # the archived member is not counted
    assert shares["chainge"].share == pytest.approx(0.25)


def test_sync_history_is_oldest_first_with_durations_and_colours(people: Database) -> None:
    first = add_run(
        people,
        started_at=d("2026-11-01T10:00:00"),
        finished_at=d("2026-11-01T10:01:30"),
        contacts=100,
        pages=1,
        by_segment={"engaged": 10, "cold": 5, "note": "not a number", "flag": True},
    )
    second = add_run(
        people,
        status="failed",
        started_at=d("2026-11-02T10:00:00"),
        finished_at=d("2026-11-02T10:00:05"),
        duration_seconds=4.5,
        errors=3,
        rate_limited=7,
        retries=2,
    )
    third = add_run(people, status="running", started_at=d("2026-11-03T10:00:00"))
    history = sync_history(people)
    assert [p.id for p in history] == [first, second, third]
    assert history[0].duration_seconds == 90.0  # from started and finished
    assert history[0].by_segment == {"engaged": 10, "cold": 5}
    assert history[0].colour == STATUS_COLOURS["succeeded"]
    assert (history[1].duration_seconds, history[1].errors, history[1].rate_limited) == (
        4.5,
        3,
        7,
    )
    assert (history[1].status, history[1].colour) == ("failed", STATUS_COLOURS["failed"])
    assert history[2].duration_seconds is None
    assert [p.id for p in sync_history(people, limit=2)] == [second, third]
    assert sync_history(people, limit=0) == []


def test_engagement_trend_follows_finished_runs_that_recorded_counts(people: Database) -> None:
    add_run(people, started_at=d("2026-11-01T10:00:00"), by_segment={"engaged": 10, "cold": 5})
    add_run(people, started_at=d("2026-11-02T10:00:00"), by_segment={"chainge": 1})
    partial = add_run(
        people,
        status="partial",
        started_at=d("2026-11-03T10:00:00"),
        by_segment={"engaged": 12},
    )
    add_run(people, status="running", started_at=d("2026-11-04T10:00:00"), by_segment={"cold": 1})
    trend = engagement_trend(people)
    assert [(p.engaged, p.cold, p.status) for p in trend] == [
        (10, 5, "succeeded"),
        (12, 0, "partial"),
    ]
    assert trend[1] == EngagementPoint(partial, d("2026-11-03T10:00:00"), "partial", 12, 0)


def test_lifecycle_funnel_keeps_funnel_order_and_zeros(people: Database) -> None:
    funnel = lifecycle_funnel(people)
    assert [s.stage for s in funnel] == [*FUNNEL_STAGES, "partner", NO_STAGE]
    counts = {s.stage: s.count for s in funnel}
    assert counts == {
        "subscriber": 1,
        "lead": 2,
        "marketingqualifiedlead": 0,
        "salesqualifiedlead": 0,
        "opportunity": 1,
        "customer": 1,  # the archived customer is not counted
        "evangelist": 0,
        "partner": 1,
        NO_STAGE: 2,
    }
    assert funnel[-1] == StageCount(NO_STAGE, "No stage", 2)


def test_created_per_month_fills_gaps_with_zeros(db: Database) -> None:
    add_contact(db, "1", created_at=d("2025-11-30T23:59:59"))
    add_contact(db, "2", created_at=d("2025-11-01T00:00:00"))
    add_contact(db, "3", created_at=d("2026-02-14T12:00:00"), segments=["chainge"])
    add_contact(db, "4", created_at=d("2026-03-01T00:00:00"), archived=True)
    add_contact(db, "5")  # no creation date: not counted
    assert created_per_month(db) == [
        (date(2025, 11, 1), 2),
        (date(2025, 12, 1), 0),
        (date(2026, 1, 1), 0),
        (date(2026, 2, 1), 1),
    ]
    assert created_per_month(db, ContactFilter(archived="include"))[-1] == (date(2026, 3, 1), 1)
    assert created_per_month(db, ContactFilter(segments=("chainge",))) == [(date(2026, 2, 1), 1)]


def test_created_per_month_on_the_standard_cast(people: Database) -> None:
    months = created_per_month(people)
    assert months[0] == (date(2023, 7, 1), 1)
    assert months[-1] == (date(2026, 11, 1), 1)
    assert len(months) == 41  # July 2023 to November 2026
    assert sum(n for _, n in months) == 8
    assert dict(months)[date(2025, 2, 1)] == 2
