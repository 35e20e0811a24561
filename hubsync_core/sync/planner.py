"""The parallel backfill's planner: how the list cursor and the search ranges share the work.

A full sync has two budgets that do not draw on each other (hubspot-api-notes.md): the list
endpoint's 10-second window (100 requests at Starter, 190 at Professional, 100 contacts a
page) and search's 5 requests a second (200 contacts a page). The list cursor walks ids
upwards from the bottom and cannot skip (its cursor is opaque); search reads any id range.
So the plan is: the list keeps the bottom of the id space, search takes ranges off the top
of the list's part, and each time a search worker needs work the planner moves as many
contacts from the list to search as make both sides finish together:

    list_seconds(pages left to the list) = margin * (contacts left to search) / search rate

`list_seconds` is the pacing's own forecast of the cursor (`RateLimiter.schedule`): it knows
the window's reservations, so it sees the five seconds a Starter cursor waits after each
burst of 95 pages, which a rate measured page to page does not. The search rate is the
pacing's (4.8 requests/s), or what the workers in flight manage at the measured round trip
when that is lower.

Ids are sparse and not evenly spread, so nothing here assumes density: contacts left to the
list are the expected total less what arrived and what the search ranges still hold (each
range's own `total`, from its first search page on), and an id width is derived from them
only to place a cut. Work stealing at the end: search can always take more off the list's
top (the balance above, re-solved at every claim), and a search range with pages left is
split for an idle worker when the workers in flight, not the budget, bound search
(`should_split`). The list cannot take work back from search (it cannot jump), so the
balance leaves the list the side that finishes last, by at most one claim's worth.

Everything here is a pure function of its inputs: the tests drive it with numbers.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

#: Contacts in one list page and one search page.
LIST_PAGE = 100
SEARCH_PAGE = 200


@dataclass(frozen=True)
class Outlook:
    """What the planner knows at one moment.

    `list_seconds(pages)` is how long the list cursor needs for `pages` more pages
    (monotonic, 0 for 0 pages). Search is counted in requests, not contacts: each range
    ends on a part-filled page that costs a whole request of the budget, so
    `search_requests` is what the ranges held now still need (one per started page) and
    `search_per_second` the requests search sends a second.
    """

    list_contacts: float
    search_requests: int
    search_per_second: float
    list_seconds: Callable[[int], float]
    list_page: int = LIST_PAGE
    search_page: int = SEARCH_PAGE

    def list_time(self, contacts: float) -> float:
        """Seconds the list needs for `contacts` more."""
        return self.list_seconds(math.ceil(max(contacts, 0.0) / self.list_page))

    def search_time(self, contacts: float) -> float:
        """Seconds search needs for what it holds plus one new range of `contacts`."""
        extra = math.ceil(max(contacts, 0.0) / self.search_page)
        return (self.search_requests + extra) / max(self.search_per_second, 1e-9)


def search_requests(left: float, page: int = SEARCH_PAGE) -> int:
    """Requests a range with `left` contacts still needs (0 when none are left)."""
    return math.ceil(max(left, 0.0) / page)


def to_move(outlook: Outlook, margin: float = 1.0) -> int:
    """Contacts search should take off the top of the list's part now (0: none).

    The most `x` for which the list, left with `list_contacts - x`, still finishes no sooner
    than search does with `x` more (times `margin`): the list is the side that cannot take
    work back, so it must not be the one left idle.
    """
    total = math.floor(max(outlook.list_contacts, 0.0))

    def list_last(x: int) -> bool:
        return outlook.list_time(total - x) >= margin * outlook.search_time(x)

    if total <= 0 or not list_last(1):
        return 0
    lo, hi = 1, total  # list_last(lo) holds; find the largest such x
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if list_last(mid):
            lo = mid
        else:
            hi = mid - 1
    return lo


def claim_size(movable: int, largest: int, smallest: int, list_contacts: float) -> int:
    """How many contacts one claim takes: at most `largest` (claims stay small enough to be
    re-planned as speeds change), none below `smallest` unless it is all the list has left."""
    size = min(movable, largest)
    if size >= smallest or (size > 0 and size >= math.floor(list_contacts)):
        return size
    return 0


def cut_point(
    hi: int, seen: int, contacts: int, list_contacts: float, in_flight_ids: int = 0
) -> int | None:
    """The lowest id of a search range taking `contacts` off the top of the list's `[.., hi)`.

    The list has received ids up to `seen`; `list_contacts` are left between there and `hi`,
    which sets the id width of `contacts`. `in_flight_ids` above `seen` stay the list's (its
    next page is on its way). None when no id is left to cut.
    """
    floor = seen + 1 + max(in_flight_ids, 0)
    span = hi - (seen + 1)
    if span <= 0 or floor >= hi or contacts <= 0:
        return None
    density = max(list_contacts, 1.0) / span
    width = max(1, math.ceil(contacts / density))
    return max(hi - width, floor)


def should_split(active: int, round_trip: float | None, search_per_second: float | None) -> bool:
    """Would one more range in flight make search faster? Only when `active` walkers at the
    measured `round_trip` send fewer requests than the search budget allows."""
    if round_trip is None or round_trip <= 0:
        return False
    reachable = active / round_trip
    return search_per_second is None or reachable < search_per_second


def split_point(seen: int, hi: int, left: float) -> int | None:
    """Where to split a search range whose walker has received ids up to `seen` and has
    `left` contacts before `hi`: halfway by contacts (density assumed even only inside the
    range's unread part), above `seen`. None when less than two search pages are left."""
    if left < 2 * SEARCH_PAGE or hi - seen < 4:
        return None
    return seen + 1 + (hi - seen - 1) // 2
