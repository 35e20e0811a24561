"""The backfill planner (sync/planner.py) and the pacing forecast it stands on: pure numbers,
a frozen clock, no threads."""

from __future__ import annotations

import math

import pytest

from hubsync_core.hubspot.models import RateLimitStatus
from hubsync_core.hubspot.pacing import SEARCH_WINDOW_MARGIN_S, RateLimiter
from hubsync_core.sync import planner


def frozen_limiter(max_requests: int = 100) -> RateLimiter:
    """A limiter on a clock stopped at 0 that learned `max_requests` per 10 s."""
    limiter = RateLimiter(clock=lambda: 0.0, sleep=lambda s: None)
    limiter.observe(RateLimitStatus(max=max_requests, interval_ms=10_000))
    return limiter


def outlook(
    list_contacts: float, limiter: RateLimiter, service: float = 0.05, held: int = 0
) -> planner.Outlook:
    times = limiter.schedule(math.ceil(list_contacts / planner.LIST_PAGE), service)
    rate = limiter.search_rate() or 5.0

    def list_seconds(pages: int) -> float:
        return times[min(pages, len(times)) - 1] if pages and times else 0.0

    return planner.Outlook(list_contacts, held, rate, list_seconds)


# ------------------------------------------------------------------ the pacing's forecast


def test_schedule_sees_the_starter_window_wait_after_each_burst() -> None:
    limiter = frozen_limiter(100)  # 95 a window after the 5 % margin

    times = limiter.schedule(200, 0.05)

    assert times[0] == pytest.approx(0.05)
    assert times[94] == pytest.approx(95 * 0.05)  # the first burst goes out back to back
    assert times[95] == pytest.approx(10.0 + 0.05)  # then the cursor waits for the window
    assert times[190] == pytest.approx(20.0 + 0.05)
    assert times == sorted(times)


def test_schedule_counts_sends_already_in_the_window() -> None:
    limiter = frozen_limiter(100)
    for _ in range(90):  # other requests (lists, the archived pass) took most of the window
        limiter.reserve()

    times = limiter.schedule(10, 0.05)

    assert times[4] == pytest.approx(0.25)  # five slots were left
    assert times[5] >= 10.0


def test_schedule_at_professional_limits_is_bound_by_the_round_trip_first() -> None:
    limiter = frozen_limiter(190)  # 180 a window

    times = limiter.schedule(181, 0.05)

    assert times[179] == pytest.approx(180 * 0.05)  # 9 s: latency, not the window
    assert times[180] >= 10.0


def test_search_budget_is_five_a_second_less_the_arrival_margin() -> None:
    limiter = RateLimiter(clock=lambda: 0.0, sleep=lambda s: None)

    assert limiter.search_rate() == pytest.approx(5 / (1 + SEARCH_WINDOW_MARGIN_S))
    assert RateLimiter(search_per_second=0).search_rate() is None


# ------------------------------------------------------------------ the balance


def test_balance_finishes_both_sides_together_at_starter_limits() -> None:
    limiter = frozen_limiter(100)
    view = outlook(29_500, limiter)

    moved = planner.to_move(view)

    assert 0 < moved < 29_500
    # The list, left with the rest, finishes no sooner than search with what it took...
    assert view.list_time(29_500 - moved) >= view.search_time(moved)
    # ...and one more search page would make search the later side.
    assert view.list_time(29_500 - moved - 200) < view.search_time(moved + 200)
    # 30,000 contacts at Starter: the finish is inside the second 10-s window, ~14 s.
    assert 12.0 < view.search_time(moved) < 16.0


def test_the_window_wait_moves_work_to_search() -> None:
    """A rate measured page to page (18 pages/s during a burst) hides the five seconds a
    Starter cursor waits after each 95 pages; the forecast does not."""
    unlimited = RateLimiter(max_requests=1_000_000, clock=lambda: 0.0, sleep=lambda s: None)
    starter = frozen_limiter(100)

    naive = planner.to_move(outlook(29_500, unlimited))
    planned = planner.to_move(outlook(29_500, starter))

    assert planned > naive + 3_000


def test_search_counts_requests_so_part_filled_pages_cost_a_whole_one() -> None:
    limiter = frozen_limiter(100)
    empty = outlook(29_500, limiter, held=0)
    busy = outlook(29_500, limiter, held=30)  # ranges already held need 30 more requests

    assert planner.to_move(busy) < planner.to_move(empty)
    assert busy.search_time(1) == pytest.approx(31 / limiter.search_rate())  # type: ignore[operator]


def test_nothing_moves_when_search_already_holds_more_than_its_share() -> None:
    view = outlook(1_000, frozen_limiter(100), held=100)

    assert planner.to_move(view) == 0
    assert planner.to_move(view, margin=0.0) == 1_000  # margin 0: take whatever is left


def test_claims_are_bounded_and_not_smaller_than_half_a_page_unless_it_is_the_end() -> None:
    assert planner.claim_size(12_000, 4_000, 100, 20_000) == 4_000
    assert planner.claim_size(60, 4_000, 100, 20_000) == 0
    assert planner.claim_size(60, 4_000, 100, 60) == 60  # the list's last 60: take them


# ------------------------------------------------------------------ ids are sparse


def test_cut_width_follows_the_density_of_what_the_list_still_holds() -> None:
    # 1,000 contacts left between id 10,000 and 110,000: one per 100 ids.
    lo = planner.cut_point(hi=110_000, seen=9_999, contacts=200, list_contacts=1_000)
    assert lo == 110_000 - 200 * 100
    # Dense ids: the same 200 contacts are 200 ids wide.
    dense = planner.cut_point(hi=11_000, seen=9_999, contacts=200, list_contacts=1_000)
    assert dense == 10_800


def test_cut_never_reaches_what_the_list_received_or_has_in_flight() -> None:
    lo = planner.cut_point(
        hi=2_000, seen=1_000, contacts=5_000, list_contacts=999, in_flight_ids=100
    )
    assert lo == 1_101
    assert (
        planner.cut_point(hi=1_050, seen=1_000, contacts=10, list_contacts=49, in_flight_ids=60)
        is None
    )
    assert planner.cut_point(hi=1_001, seen=1_000, contacts=10, list_contacts=5) is None


# ------------------------------------------------------------------ work stealing


def test_a_range_is_split_only_when_walkers_not_the_budget_bound_search() -> None:
    # 50 ms round trips: one walker alone sends 20 a second, more than search's 4.8.
    assert not planner.should_split(1, 0.05, 4.8)
    # 300 ms round trips (250 ms latency): one walker sends 3.3 a second; a second helps.
    assert planner.should_split(1, 0.3, 4.8)
    assert not planner.should_split(2, 0.3, 4.8)
    assert not planner.should_split(1, None, 4.8)  # nothing measured yet


def test_split_point_lies_above_what_the_walker_received() -> None:
    assert (
        planner.split_point(seen=1_000, hi=3_001, left=1_000) == 2_001
    )  # [1001, 2001) + [2001, 3001)
    assert planner.split_point(seen=1_000, hi=3_001, left=300) is None  # under two pages
    assert planner.split_point(seen=1_000, hi=1_003, left=1_000) is None
