"""The daily API budget: a sync reports what it used and what is left, and a run that would
take more than HUBSYNC_DAILY_BUDGET_SHARE of the day's budget stops before it starts."""

from __future__ import annotations

from sync_helpers import HarnessFactory, stored_contacts

from hubsync_core.sync.budget import DailyBudget, refusal


def test_a_sync_reports_the_daily_budget_it_used_and_what_is_left(
    make_sqlite_harness: HarnessFactory,
) -> None:
    h = make_sqlite_harness(500, seed=3, daily_limit=10_000)
    stats = h.run("full")
    assert stats.ok, stats.message
    assert stats.daily_limit == 10_000
    used_by_portal = 10_000 - (stats.daily_remaining or 0)
    # The portal counted the calls of this run (the only one today), searches included, up
    # to the answer whose daily headers were seen last (lists are read concurrently).
    calls = h.sandbox.stats.requests
    assert 0 < used_by_portal <= calls == stats.api_calls


def test_a_run_that_would_take_more_than_its_share_stops_before_starting(
    make_sqlite_harness: HarnessFactory,
) -> None:
    # 2,000 contacts are about 20 list pages: more than half of a 40-call day.
    h = make_sqlite_harness(2_000, seed=4, daily_limit=40)
    stats = h.run("full")
    assert stats.status == "failed"
    assert "HUBSYNC_DAILY_BUDGET_SHARE" in stats.message
    assert "40" in stats.message
    assert stats.hint
    assert stored_contacts(h.db).rows == 0
    # A larger share lets the same run go ahead.
    h2 = make_sqlite_harness(2_000, seed=4, daily_limit=40, env={"HUBSYNC_DAILY_BUDGET_SHARE": "1"})
    assert h2.run("full").status == "succeeded"


def test_refusal_names_what_is_left_today() -> None:
    tight = DailyBudget(limit=250_000, remaining=900)
    reason = refusal(tight, 1_000, 0.5, "full")
    assert reason is not None and "900" in reason and "250,000" in reason
    assert refusal(tight, 800, 0.5, "full") is None
    assert refusal(DailyBudget(), 10**9, 0.5, "full") is None  # unknown budget: no refusal
