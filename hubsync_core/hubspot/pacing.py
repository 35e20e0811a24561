"""Client-side pacing: stay under HubSpot's rate limits instead of collecting 429s.

HubSpot counts requests per app in a rolling window (`X-HubSpot-RateLimit-Max` requests per
`-Interval-Milliseconds`, 100 per 10 s on Starter) and asks integrations to keep error responses
under 5 % of their calls. `RateLimiter` therefore keeps its own record of send times and lets a
request go only when the window has room, learning the limits from the headers and watching
`-Remaining` for traffic it cannot see (other processes or apps using the same budget).

Each request *reserves* its send time under a lock and then sleeps outside it, so several
threads share one budget in FIFO order without busy-waiting.

Search has a budget of its own (5 requests per second, outside the 10-second window): it is
spread evenly over a window a little longer than a second (`SEARCH_WINDOW_MARGIN_S`), because
a server that counts arrivals sees our evenly spaced sends with some jitter, and five sends
exactly 200 ms apart would put a sixth inside its second now and then. `schedule()` and
`search_rate()` tell a planner (the parallel backfill) what each budget will allow next.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable

from .models import RateLimitStatus

DEFAULT_MAX_REQUESTS = 100
DEFAULT_INTERVAL_MS = 10_000
#: HubSpot's search limit: 5 requests per second per account.
DEFAULT_SEARCH_PER_SECOND = 5
#: The search window is this much longer than a second: 5 per 1.04 s is 4.8 requests/s, and
#: a send must arrive 40 ms early relative to the one five before it to be refused.
SEARCH_WINDOW_MARGIN_S = 0.04
#: Each search 429 (SECONDLY) widens that margin by this much, up to `_SEARCH_MARGIN_CAP_S`:
#: a busy network or server shows more jitter than the margin allows for.
SEARCH_MARGIN_STEP_S = 0.05
_SEARCH_MARGIN_CAP_S = 0.5
#: `schedule()` simulates at most this many requests one by one, then extrapolates.
_SCHEDULE_STEPS = 20_000


class _Window:
    """Reserved send times in one rolling window. Not locked: `RateLimiter` holds the lock."""

    __slots__ = ("blocked_until", "gap", "interval", "limit", "times")

    def __init__(self, limit: int, interval: float, *, spread: bool = False) -> None:
        self.limit = limit
        self.interval = interval
        #: With `spread`, sends are at least interval/limit apart instead of in bursts: a
        #: burst whose predecessor arrived a few ms late would otherwise overrun the window.
        self.gap = interval / limit if spread else 0.0
        self.times: deque[float] = deque()
        self.blocked_until = 0.0

    def earliest(self, now: float) -> float:
        """The first moment >= now at which one more request fits in the window."""
        times = self.times
        horizon = now - self.interval
        while times and times[0] <= horizon:
            times.popleft()
        start = max(now, self.blocked_until)
        if times:
            # Reservations are handed out in order, so the deque stays sorted and the
            # condition "fewer than `limit` sends in (t - interval, t]" only gets easier with t.
            start = max(start, times[-1] + self.gap)
            if len(times) >= self.limit:
                start = max(start, times[len(times) - self.limit] + self.interval)
        return start

    def block(self, now: float) -> None:
        """The server says the window is (almost) full: wait until our oldest send leaves it."""
        horizon = now - self.interval
        live = [t for t in self.times if t > horizon]
        until = live[0] + self.interval if live else now + self.interval / max(self.limit, 1)
        self.blocked_until = max(self.blocked_until, until)


def _with_margin(limit: int, fraction: float) -> int:
    """`limit` less a safety margin of at least one request (never below one)."""
    margin = max(1, math.ceil(limit * fraction))
    return max(1, limit - margin)


class RateLimiter:
    """Thread-safe pacing shared by every thread of one client (or several clients of one app).

    Call `acquire()` before sending a request and `observe()` with the response's rate-limit
    headers. `clock` and `sleep` are injectable so tests run on a fake clock and never sleep.
    """

    def __init__(
        self,
        *,
        max_requests: int = DEFAULT_MAX_REQUESTS,
        interval_ms: int = DEFAULT_INTERVAL_MS,
        safety_fraction: float = 0.05,
        low_remaining: int = 1,
        search_per_second: int = DEFAULT_SEARCH_PER_SECOND,
        search_counts_toward_burst: bool = False,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if max_requests < 1 or interval_ms < 1:
            raise ValueError("max_requests and interval_ms must be at least 1")
        if not 0 <= safety_fraction < 1:
            raise ValueError("safety_fraction must be in [0, 1)")
        if search_per_second < 0:
            raise ValueError("search_per_second must be 0 (off) or more")
        self._lock = threading.Lock()
        self._clock = clock
        self._sleep = sleep
        self._safety = safety_fraction
        self._low_remaining = low_remaining
        self._max = max_requests
        self._interval_ms = interval_ms
        self._burst = _Window(_with_margin(max_requests, safety_fraction), interval_ms / 1000)
        self._secondly: _Window | None = None
        # Search's per-second limit is small and strict: spread the sends evenly.
        self._search = (
            _Window(search_per_second, 1.0 + SEARCH_WINDOW_MARGIN_S, spread=True)
            if search_per_second
            else None
        )
        self.search_counts_toward_burst = search_counts_toward_burst
        self._local = threading.local()

    @property
    def burst_limit(self) -> tuple[int, float]:
        """(requests we allow ourselves, window in seconds): the server's limit less the margin."""
        with self._lock:
            return self._burst.limit, self._burst.interval

    def reserve(self, *, search: bool = False) -> float:
        """Book the next send slot and return how many seconds to wait before sending."""
        with self._lock:
            now = self._clock()
            windows = self._windows(search)
            start = now
            for window in windows:
                start = max(start, window.earliest(now))
            for window in windows:
                window.times.append(start)
            return start - now

    def acquire(self, *, search: bool = False) -> float:
        """Wait (via the injected sleep) until a request may be sent; return the seconds waited."""
        delay = self.reserve(search=search)
        self._local.last_wait = delay
        if delay > 0:
            self._sleep(delay)
        return delay

    def search_refused(self) -> None:
        """A search got HubSpot's per-second 429: widen the search window's margin and hold
        every search thread until our oldest search leaves the window."""
        with self._lock:
            window = self._search
            if window is None:
                return
            window.interval = min(
                window.interval + SEARCH_MARGIN_STEP_S, 1.0 + _SEARCH_MARGIN_CAP_S
            )
            window.gap = window.interval / window.limit
            window.block(self._clock())

    def last_wait(self) -> float:
        """Seconds the calling thread's last `acquire` waited (0.0 before any)."""
        return float(getattr(self._local, "last_wait", 0.0))

    def search_rate(self) -> float | None:
        """Search requests per second the pacing allows over time (None: not paced)."""
        with self._lock:
            windows = self._windows(True)
            if not windows:
                return None
            return min(w.limit / w.interval for w in windows)

    def schedule(self, requests: int, service_seconds: float) -> list[float]:
        """Seconds from now until each of `requests` more burst-budget requests is answered,
        sent one after another (a cursor: each waits for the previous answer), each taking
        `service_seconds`, given every send already reserved in the window.

        Deterministic on the injected clock: a planner's forecast of the list cursor. Past
        `_SCHEDULE_STEPS` requests the rest is extrapolated at the window's long-run rate.
        """
        if requests <= 0:
            return []
        service = max(service_seconds, 0.0)
        with self._lock:
            now = self._clock()
            windows = self._windows(False)
            states = [
                (w.limit, w.interval, w.gap, [t for t in w.times if t > now - w.interval])
                for w in windows
            ]
            start = max([now, *(w.blocked_until for w in windows)])
        done: list[float] = []
        ready = start
        for _ in range(min(requests, _SCHEDULE_STEPS)):
            send = ready
            for limit, interval, gap, times in states:
                if times:
                    send = max(send, times[-1] + gap)
                    if len(times) >= limit:
                        send = max(send, times[len(times) - limit] + interval)
            for state in states:
                state[3].append(send)
            ready = send + service
            done.append(ready - now)
        if requests > len(done):
            rate = min(
                [1 / service if service else float("inf")] + [lim / i for lim, i, _g, _t in states]
            )
            step = 1 / rate if rate not in (0, float("inf")) else 0.0
            last = done[-1]
            done += [last + step * k for k in range(1, requests - len(done) + 1)]
        return done

    def observe(self, status: RateLimitStatus, *, search: bool = False) -> None:
        """Learn from one response's `X-HubSpot-RateLimit-*` headers (fields may be None)."""
        if search and not self.search_counts_toward_burst:
            # Search responses, when they carry headers at all, do not describe the burst
            # budget that search does not draw on: let them not steer it.
            return
        with self._lock:
            now = self._clock()
            limits = (status.max, status.interval_ms)
            if (
                status.max is not None
                and status.interval_ms is not None
                and status.max > 0
                and status.interval_ms > 0
                and limits != (self._max, self._interval_ms)
            ):
                self._max, self._interval_ms = status.max, status.interval_ms
                self._burst.limit = _with_margin(status.max, self._safety)
                self._burst.interval = status.interval_ms / 1000
            if status.remaining is not None and status.remaining <= self._low_remaining:
                self._burst.block(now)
            if status.secondly and status.secondly > 0:
                limit = _with_margin(status.secondly, self._safety) if status.secondly > 2 else 1
                if self._secondly is None:
                    self._secondly = _Window(limit, 1.0)
                else:
                    self._secondly.limit = limit
            if (
                self._secondly is not None
                and status.secondly_remaining is not None
                and status.secondly_remaining <= 0
            ):
                self._secondly.block(now)

    def _windows(self, search: bool) -> list[_Window]:
        windows: list[_Window] = []
        if not search or self.search_counts_toward_burst:
            windows.append(self._burst)
            if self._secondly is not None:
                windows.append(self._secondly)
        if search and self._search is not None:
            windows.append(self._search)
        return windows
