"""Pacing: the limiter keeps under HubSpot's limits on a fake clock, alone and in the client."""

from __future__ import annotations

import itertools
import threading
from collections import deque

import responses
from hubspot_fakes import CONTACTS_URL, SEARCH_URL, FakeClock, contact, results_page

from hubsync_core.hubspot import HubSpotClient, RateLimiter, RateLimitStatus


def max_in_window(times: list[float], interval: float) -> int:
    """The most sends found in any half-open window (t - interval, t]."""
    window: deque[float] = deque()
    most = 0
    for t in sorted(times):
        window.append(t)
        while window[0] <= t - interval:
            window.popleft()
        most = max(most, len(window))
    return most


class RollingWindowServer:
    """A fake HubSpot enforcing `limit` requests per `interval_ms` on the fake clock.

    Every request costs `latency` seconds of fake time; answers carry HubSpot's headers.
    """

    def __init__(
        self, clock: FakeClock, limit: int, interval_ms: int, latency: float = 0.0
    ) -> None:
        self.clock = clock
        self.limit = limit
        self.interval = interval_ms / 1000
        self.interval_ms = interval_ms
        self.latency = latency
        self.received: list[float] = []
        self.answered_429 = 0

    def __call__(self, request):
        self.clock.advance(self.latency / 2)
        now = self.clock.now
        live = [t for t in self.received if t > now - self.interval]
        self.received.append(now)
        remaining = self.limit - len(live) - 1
        headers = {
            "X-HubSpot-RateLimit-Max": str(self.limit),
            "X-HubSpot-RateLimit-Interval-Milliseconds": str(self.interval_ms),
            "X-HubSpot-RateLimit-Remaining": str(max(remaining, 0)),
        }
        self.clock.advance(self.latency / 2)
        if remaining < 0:
            self.answered_429 += 1
            body = {"status": "error", "policyName": "TEN_SECONDLY_ROLLING"}
            return 429, headers, responses.json_module.dumps(body)
        return (
            200,
            headers,
            responses.json_module.dumps(results_page([contact(len(self.received))])),
        )


# ------------------------------------------------------------------ the limiter alone


def test_default_budget_is_100_per_10_seconds_less_a_margin(clock: FakeClock) -> None:
    limiter = RateLimiter(clock=clock, sleep=clock.sleep)

    limit, interval = limiter.burst_limit
    assert interval == 10.0
    assert 90 <= limit < 100


def test_limiter_waits_instead_of_exceeding_the_window(clock: FakeClock) -> None:
    limiter = RateLimiter(clock=clock, sleep=clock.sleep)
    limiter.observe(RateLimitStatus(max=10, interval_ms=1000, remaining=9))

    sends = []
    for _ in range(50):
        limiter.acquire()
        sends.append(clock.now)

    assert limiter.burst_limit == (9, 1.0)
    assert max_in_window(sends, 1.0) <= 9
    assert clock.sleeps  # it waited rather than sending all 50 at once
    assert sends[-1] - sends[0] < 6.0  # ...but no longer than the budget needs (50 / 9 per s)


def test_remaining_near_zero_waits_until_our_oldest_send_leaves_the_window(
    clock: FakeClock,
) -> None:
    limiter = RateLimiter(clock=clock, sleep=clock.sleep)
    limiter.observe(RateLimitStatus(max=100, interval_ms=10_000, remaining=90))
    first = clock.now
    limiter.acquire()
    clock.advance(2.0)
    limiter.acquire()
    # Another process spent the budget: the server says one request is left.
    limiter.observe(RateLimitStatus(max=100, interval_ms=10_000, remaining=1))

    waited = limiter.acquire()

    assert waited == first + 10.0 - (first + 2.0)
    assert clock.now == first + 10.0


def test_remaining_with_room_does_not_slow_down(clock: FakeClock) -> None:
    limiter = RateLimiter(clock=clock, sleep=clock.sleep)
    for _ in range(20):
        limiter.acquire()
        limiter.observe(RateLimitStatus(max=100, interval_ms=10_000, remaining=50))
    assert clock.sleeps == []


def test_search_has_its_own_per_second_limit_outside_the_burst(clock: FakeClock) -> None:
    limiter = RateLimiter(clock=clock, sleep=clock.sleep, search_per_second=4)
    limiter.observe(RateLimitStatus(max=10, interval_ms=10_000))

    searches = []
    for _ in range(12):
        limiter.acquire(search=True)
        searches.append(clock.now)

    assert max_in_window(searches, 1.0) <= 4
    assert searches[-1] - searches[0] >= 2.0
    # The burst window is untouched: nine list requests still go out at once.
    before = clock.now
    for _ in range(9):
        limiter.acquire()
    assert clock.now == before


def test_search_can_be_counted_toward_the_burst(clock: FakeClock) -> None:
    limiter = RateLimiter(
        clock=clock, sleep=clock.sleep, search_per_second=100, search_counts_toward_burst=True
    )
    limiter.observe(RateLimitStatus(max=10, interval_ms=10_000))
    start = clock.now
    for _ in range(9):
        limiter.acquire(search=True)
    assert clock.now - start < 0.1  # only search's even spacing (10 ms apart), no window wait

    limiter.acquire()  # the tenth request of any kind must wait for the window

    assert clock.now >= start + 10.0


def test_secondly_limit_from_headers_is_respected(clock: FakeClock) -> None:
    limiter = RateLimiter(clock=clock, sleep=clock.sleep)
    limiter.observe(RateLimitStatus(max=100, interval_ms=10_000, secondly=10))

    sends = []
    for _ in range(40):
        limiter.acquire()
        sends.append(clock.now)

    assert max_in_window(sends, 1.0) <= 9


def test_threads_share_one_budget_without_overbooking() -> None:
    frozen = 500.0
    limiter = RateLimiter(clock=lambda: frozen, sleep=lambda s: None)
    limiter.observe(RateLimitStatus(max=10, interval_ms=1000))
    slots: list[float] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(25):
            delay = limiter.reserve()
            with lock:
                slots.append(frozen + delay)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(slots) == 200
    assert max_in_window(slots, 1.0) <= 9
    assert max(slots) - frozen < 200 / 9 + 1


# ------------------------------------------------------------------ the limiter in the client


def test_client_learns_max_10_per_second_from_headers_and_never_exceeds_it(
    client: HubSpotClient, mocked, clock: FakeClock
) -> None:
    server = RollingWindowServer(clock, limit=10, interval_ms=1000)
    mocked.add_callback(responses.GET, CONTACTS_URL, callback=server)

    for _ in range(60):
        client.list_contacts(["email"])

    assert server.answered_429 == 0
    assert max_in_window(server.received, 1.0) <= 10
    assert clock.sleeps, "the limiter should have waited"
    assert client.counters().api_calls == 60
    assert client.counters().rate_limited == 0
    assert client.rate_limit.max == 10
    assert client.rate_limit.interval_ms == 1000


def test_rate_bound_sync_reaches_90_percent_of_the_ceiling_without_429s(
    client: HubSpotClient, mocked, clock: FakeClock
) -> None:
    """Issue 7's target on a fake clock: 100 per 10 s, 50 ms round trips."""
    server = RollingWindowServer(clock, limit=100, interval_ms=10_000, latency=0.05)
    mocked.add_callback(responses.GET, CONTACTS_URL, callback=server)
    start = clock.now

    for _ in range(600):
        client.list_contacts(["email"])

    elapsed = clock.now - start
    ceiling = 100 / 10.0  # requests per second
    assert server.answered_429 / 600 < 0.01
    assert 600 / elapsed >= 0.9 * ceiling


def test_client_honours_a_shared_budget_seen_only_through_remaining(
    client: HubSpotClient, mocked, clock: FakeClock
) -> None:
    """Another app uses half the budget: our pacing follows `-Remaining` and avoids 429s."""
    server = RollingWindowServer(clock, limit=20, interval_ms=1000, latency=0.01)
    server.received = [clock.now - 0.5 + i * 0.05 for i in range(10)]  # someone else's calls
    mocked.add_callback(responses.GET, CONTACTS_URL, callback=server)

    for _ in range(30):
        client.list_contacts(["email"])

    assert server.answered_429 == 0
    assert client.counters().rate_limited == 0


def test_search_requests_use_the_search_limit(make_client, mocked, clock: FakeClock) -> None:
    client = make_client(search_per_second=3)
    mocked.add(responses.POST, SEARCH_URL, json={"total": 0, "results": []})
    sent: list[float] = []
    original = client._session.request

    def recording(*args, **kwargs):
        sent.append(clock.now)
        return original(*args, **kwargs)

    client._session.request = recording  # type: ignore[method-assign]
    for _ in range(9):
        client.search_contacts([], ["email"])

    assert max_in_window(sent, 1.0) <= 3
    assert client.counters().waited_seconds > 0


def test_searches_are_spread_evenly_instead_of_bursting(clock: FakeClock) -> None:
    limiter = RateLimiter(clock=clock, sleep=clock.sleep, search_per_second=4)

    sends = []
    for _ in range(12):
        limiter.acquire(search=True)
        sends.append(clock.now)

    gaps = [b - a for a, b in itertools.pairwise(sends)]
    assert min(gaps) >= 0.25 - 1e-9
    assert max_in_window(sends, 1.0) <= 4


def test_a_search_429_widens_the_search_margin_and_holds_every_search(clock: FakeClock) -> None:
    limiter = RateLimiter(clock=clock, sleep=clock.sleep)
    before = limiter.search_rate()
    sends = []
    for _ in range(5):
        limiter.acquire(search=True)
        sends.append(clock.now)

    limiter.search_refused()  # the server counted a sixth in its second anyway
    limiter.acquire(search=True)

    assert limiter.search_rate() < before  # type: ignore[operator]
    assert clock.now >= sends[0] + 1.0  # no search until our oldest left the window
    waits = len(clock.sleeps)
    limiter.acquire()  # the list window is not held
    assert len(clock.sleeps) == waits
