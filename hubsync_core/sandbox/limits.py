"""HubSpot's limits and the sandbox's faults: the rolling burst / per-second search / daily
quota limiter with its advertised headers, seeded random and forced faults, and the exact error
bodies HubSpot sends for each."""

from __future__ import annotations

import collections
import datetime as dt
import random
import threading
import time
from collections.abc import Iterable
from typing import Any

from .config import ALL_KINDS, FAULT_KINDS, SandboxConfig
from .errors import ApiError

DEFAULT_DAILY = 250_000
MAX_URL = 15_000
BURST_WINDOW_S = 10.0
#: The burst limit advertised when the sandbox runs without one (`rate_limit=0`).
UNLIMITED_ADVERTISED = 1_000_000
SECOND_WINDOW_S = 1.0


class Limiter:
    """HubSpot's limits: rolling 10 s burst, per-second search, daily quota."""

    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self._lock = threading.Lock()
        self._burst: collections.deque[float] = collections.deque()
        self._second: collections.deque[float] = collections.deque()
        self._daily_used = 0
        self._day = dt.datetime.now(dt.UTC).date()
        #: Admitted requests per (whole second since `_origin`, search?): each budget's use
        #: over time, for benchmarks (`GET /_sandbox/budget`).
        self._origin = time.monotonic()
        self._admitted: collections.Counter[tuple[int, bool]] = collections.Counter()

    @staticmethod
    def _prune(window: collections.deque[float], now: float, span: float) -> None:
        while window and window[0] <= now - span:
            window.popleft()

    def admit(self, search: bool) -> tuple[str | None, float | None]:
        """Count the request, or return the policy that refuses it and seconds until free."""
        cfg = self.config
        now = time.monotonic()
        with self._lock:
            today = dt.datetime.now(dt.UTC).date()
            if today != self._day:
                self._day, self._daily_used = today, 0
            if cfg.daily_limit is not None and self._daily_used >= cfg.daily_limit:
                return "DAILY", None
            if search and cfg.search_rate_limit:
                self._prune(self._second, now, SECOND_WINDOW_S)
                if len(self._second) >= cfg.search_rate_limit:
                    return "SECONDLY", self._second[0] + SECOND_WINDOW_S - now
            counts = (not search) or cfg.search_counts_toward_burst
            if counts and cfg.rate_limit:
                self._prune(self._burst, now, BURST_WINDOW_S)
                if len(self._burst) >= cfg.rate_limit:
                    return "TEN_SECONDLY_ROLLING", self._burst[0] + BURST_WINDOW_S - now
            self._daily_used += 1
            if search and cfg.search_rate_limit:
                self._second.append(now)
            if counts and cfg.rate_limit:
                self._burst.append(now)
            self._admitted[(int(now - self._origin), search)] += 1
            return None, None

    def admitted(self) -> tuple[float, list[tuple[int, int, int]]]:
        """(seconds since the limiter started, [(second, list-type, search) admitted, ...])."""
        with self._lock:
            now = time.monotonic() - self._origin
            seconds = sorted({second for second, _search in self._admitted})
            rows = [(s, self._admitted[(s, False)], self._admitted[(s, True)]) for s in seconds]
        return now, rows

    def daily_usage(self) -> tuple[int, int]:
        """(daily limit, calls counted today)."""
        with self._lock:
            limit = self.config.daily_limit
            return (limit if limit is not None else DEFAULT_DAILY), self._daily_used

    def headers(self) -> list[tuple[str, str]]:
        cfg = self.config
        now = time.monotonic()
        with self._lock:
            out: list[tuple[str, str]] = []
            if cfg.rate_limit:
                self._prune(self._burst, now, BURST_WINDOW_S)
                remaining = max(0, cfg.rate_limit - len(self._burst))
                out += [
                    ("X-HubSpot-RateLimit-Max", str(cfg.rate_limit)),
                    ("X-HubSpot-RateLimit-Remaining", str(remaining)),
                    ("X-HubSpot-RateLimit-Interval-Milliseconds", str(int(BURST_WINDOW_S * 1000))),
                ]
            else:
                # "Unlimited" is advertised as a limit no client reaches, so a client that paces
                # from the headers (as HubSpot asks) is not held to its cautious default.
                out += [
                    ("X-HubSpot-RateLimit-Max", str(UNLIMITED_ADVERTISED)),
                    ("X-HubSpot-RateLimit-Remaining", str(UNLIMITED_ADVERTISED)),
                    ("X-HubSpot-RateLimit-Interval-Milliseconds", str(int(BURST_WINDOW_S * 1000))),
                ]
            daily = cfg.daily_limit if cfg.daily_limit is not None else DEFAULT_DAILY
            out += [
                ("X-HubSpot-RateLimit-Daily", str(daily)),
                ("X-HubSpot-RateLimit-Daily-Remaining", str(max(0, daily - self._daily_used))),
            ]
            return out


class Faults:
    """Seeded random faults plus a queue of forced ones (`fail_next`)."""

    def __init__(self, config: SandboxConfig) -> None:
        self._lock = threading.Lock()
        self._rng = random.Random(config.seed * 7919 + 17)
        self.rate = config.fault_rate
        self.kinds: tuple[str, ...] = tuple(config.fault_kinds)
        self._forced: list[list[Any]] = []  # [kind, remaining, path prefix or None]

    def configure(self, rate: float, kinds: Iterable[str] | None) -> None:
        if not 0.0 <= rate <= 1.0:
            raise ValueError("fault rate must be between 0 and 1")
        chosen = tuple(kinds) if kinds is not None else FAULT_KINDS
        unknown = [k for k in chosen if k not in FAULT_KINDS]
        if unknown:
            raise ValueError(f"unknown fault kinds {unknown}; known: {list(FAULT_KINDS)}")
        if rate > 0 and not chosen:
            raise ValueError("fault kinds must not be empty when the rate is above 0")
        with self._lock:
            self.rate, self.kinds = rate, chosen

    def force(self, kind: str, count: int, path: str | None) -> None:
        if kind not in ALL_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; known: {list(ALL_KINDS)}")
        if count < 1:
            raise ValueError("count must be >= 1")
        with self._lock:
            self._forced.append([kind, count, path])

    def clear(self) -> None:
        with self._lock:
            self._forced.clear()

    def pick(self, *paths: str) -> str | None:
        """The fault for a request to any of `paths` (as sent, and as routed), if any."""
        with self._lock:
            for entry in self._forced:
                if entry[2] is None or any(p.startswith(entry[2]) for p in paths):
                    entry[1] -= 1
                    if entry[1] <= 0:
                        self._forced.remove(entry)
                    return str(entry[0])
            if self.rate > 0 and self._rng.random() < self.rate:
                return self.kinds[self._rng.randrange(len(self.kinds))]
            return None


FAULT_BODIES: dict[str, tuple[int, str, str]] = {
    "500": (500, "internal error", "INTERNAL_ERROR"),
    "502": (502, "Bad Gateway: the upstream service did not answer", "BAD_GATEWAY"),
    "503": (503, "Service Unavailable: please retry later", "SERVICE_UNAVAILABLE"),
    "504": (504, "Gateway Timeout: the request took too long", "GATEWAY_TIMEOUT"),
}
AUTH_MESSAGE = (
    "Authentication credentials not found. This API supports OAuth 2.0 authentication and you "
    "can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview"
)
_LIMIT_MESSAGES = {
    "TEN_SECONDLY_ROLLING": "You have reached your ten_secondly_rolling limit.",
    "SECONDLY": "You have reached your secondly limit.",
    "DAILY": "You have reached your daily limit.",
}


def rate_limit_error(policy: str) -> ApiError:
    return ApiError(
        429,
        _LIMIT_MESSAGES[policy],
        "RATE_LIMITS",
        extra={"errorType": "RATE_LIMIT", "policyName": policy},
    )
