"""The parallel backfill's shared layout and its decisions (see sync/parallel.py for the
threads, sync/planner.py for the arithmetic): the id ranges, what each side has received,
the measured page costs, and the planning steps the search workers take under the
backfill's lock (how much the list still holds, how fast search goes, splitting a range).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any

from hubsync_core.hubspot.pacing import DEFAULT_SEARCH_PER_SECOND, RateLimiter
from hubsync_core.sync import planner

log = logging.getLogger("hubsync.sync")

#: List-window calls that follow the contacts phase (the archived pass, the lists search):
#: the planner keeps room for them, so the window is not spent to its last slot on pages.
LIST_RESERVE_CALLS = 5
#: Weight of the newest measurement in the moving averages of page costs.
_EWMA = 0.3


@dataclass
class Range:
    """One id range `[lo, hi)`: the list's (index 0) or a search walker's."""

    lo: int
    hi: int
    last: int | None = None
    done: bool = False
    #: Handed to a search worker (in memory only; a resumed run hands them out again).
    taken: bool = False
    #: The highest id its walker has received (stored or not): a split goes above it.
    seen: int | None = None
    #: Contacts still to read (search's `total` once a page came; an estimate before).
    left: float | None = None
    #: Its walker has read its last page (in memory: `done` is what the database holds, set
    #: only once that page is stored; a range empty from its first page has no `seen`).
    ended: bool = False

    def row(self) -> list[Any]:
        return [self.lo, self.hi, self.last, self.done]


@dataclass
class Speeds:
    """Measured seconds per page of each side, waits for the pacing excluded (moving
    averages): the list cursor's cycle and one search walker's cycle."""

    list_page: float | None = None
    search_page: float | None = None

    def observe(self, kind: str, seconds: float) -> None:
        """Fold one page's cycle (`seconds`, without pacing waits) into `kind`."""
        seconds = max(seconds, 1e-4)
        old = getattr(self, kind)
        setattr(self, kind, seconds if old is None else (1 - _EWMA) * old + _EWMA * seconds)


class RangePlanning:
    """The planning half of the backfill; every method is called with its lock held."""

    ctx: Any
    ranges: list[Range]
    speeds: Speeds
    limiter: RateLimiter | None
    received: int
    expected: int
    density: float
    list_seen: int
    workers: int

    def _search_left(self) -> float:
        """Contacts the search ranges still hold (totals, or estimates before a page)."""
        return sum(span.left or 0.0 for span in self.ranges[1:] if not span.done)

    def _list_left(self, lead: Range) -> float:
        """Contacts between the list's last received id and its range's end."""
        if self.ctx.expected_total is not None:
            return max(self.expected - self.received - self._search_left(), 0.0)
        return max(lead.hi - self.list_seen - 1, 0) * self.density

    def _search_rate(self) -> tuple[float, float | None]:
        """(requests/s search sends, requests/s the pacing allows or None)."""
        pace = self.limiter.search_rate() if self.limiter is not None else None
        trip = self.speeds.search_page
        reachable = self.workers / trip if trip else math.inf
        requests = min(pace if pace is not None else math.inf, reachable)
        if math.isinf(requests):  # neither paced nor measured yet
            requests = DEFAULT_SEARCH_PER_SECOND
        return requests, pace

    def _outlook(self, lead: Range) -> planner.Outlook:
        left = self._list_left(lead)
        service = self.speeds.list_page or 0.0
        # The list's pages plus the calls after the contacts phase on the same window: a
        # list that fills the window to its last slot would leave them waiting ten seconds.
        pages = math.ceil(left / planner.LIST_PAGE) + LIST_RESERVE_CALLS
        if self.limiter is not None:
            times = self.limiter.schedule(pages, service)
        else:
            times = [service * (k + 1) for k in range(pages)]

        def list_seconds(n: int) -> float:
            return times[min(n + LIST_RESERVE_CALLS, len(times)) - 1] if n > 0 else 0.0

        rate, _pace = self._search_rate()
        held = sum(planner.search_requests(s.left or 0.0) for s in self.ranges[1:] if not s.done)
        return planner.Outlook(left, held, rate, list_seconds)

    def _splittable(self) -> Range | None:
        """The range in progress worth splitting for an idle worker, if any."""
        walking = [s for s in self.ranges[1:] if self._walking(s) and s.seen is not None]
        _rate, pace = self._search_rate()
        if not walking or not planner.should_split(len(walking), self.speeds.search_page, pace):
            return None
        biggest = max(walking, key=lambda s: s.left or 0.0)
        assert biggest.seen is not None
        if planner.split_point(biggest.seen, biggest.hi, biggest.left or 0.0) is None:
            return None
        return biggest

    def _unseen(self) -> bool:
        """Whether a range in progress has not had its first page yet: until it has, nobody
        knows whether it is worth splitting, so an idle worker waits rather than leaving."""
        return any(self._walking(s) and s.seen is None for s in self.ranges[1:])

    @staticmethod
    def _walking(span: Range) -> bool:
        """Handed to a search worker whose walk has not ended."""
        return span.taken and not span.done and not span.ended

    def _split(self) -> int | None:
        """Work stealing between search workers: the upper half of the busiest range."""
        span = self._splittable()
        if span is None or span.seen is None:
            return None
        mid = planner.split_point(span.seen, span.hi, span.left or 0.0)
        if mid is None:
            return None
        half = (span.left or 0.0) / 2
        log.debug(
            "Search splits ids %d-%d at %d (~%.0f contacts left)", span.lo, span.hi, mid, 2 * half
        )
        self.ranges.append(Range(mid, span.hi, None, False, taken=True, left=half))
        span.hi, span.left = mid, half
        return len(self.ranges) - 1
