"""Every API request the sandbox received, in arrival order, and gates that hold some of them.

Tests read the log to prove what a client did and in which order (which calls were issued
while another was still unanswered), and hold a request at a gate to create an order on
purpose: e.g. keep the contacts walk's next page unanswered until other calls have arrived,
which only a client that issues them concurrently can satisfy.
"""

from __future__ import annotations

import collections
import itertools
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import parse_qs


@dataclass
class LoggedRequest:
    """One API request: arrival number, method, path, query; `answered` once it was served."""

    seq: int
    method: str
    path: str
    query: dict[str, list[str]]
    #: The newest arrival number when the answer had been written: request B was issued
    #: while this one was unanswered iff B.seq <= answered.
    answered: int | None = None

    def param(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[0] if values else None


@dataclass
class Gate:
    """Holds matching requests (at most `count`) until `open()`; `held` counts arrivals."""

    method: str
    path: str
    when: Callable[[LoggedRequest], bool] | None
    count: int
    held: int = 0
    _opened: threading.Event = field(default_factory=threading.Event)

    def matches(self, entry: LoggedRequest) -> bool:
        if self.held >= self.count or entry.method != self.method:
            return False
        return entry.path.startswith(self.path) and (self.when is None or self.when(entry))

    def open(self) -> None:
        self._opened.set()

    def wait(self, timeout: float) -> bool:
        return self._opened.wait(timeout)


class RequestLog:
    """Thread-safe log of API requests (admin requests are not logged); the newest `KEEP`."""

    KEEP = 50_000

    #: A held request is released after this long at the latest, so a test that forgot to
    #: open its gate fails on its assertions instead of hanging.
    HOLD_LIMIT = 60.0

    def __init__(self) -> None:
        self._lock = threading.Condition()
        self._items: collections.deque[LoggedRequest] = collections.deque(maxlen=self.KEEP)
        self._gates: list[Gate] = []
        self._counter = itertools.count(1)

    def arrived(self, method: str, path: str, query_s: str) -> LoggedRequest:
        """Log one request; blocks while a gate holds it."""
        with self._lock:
            entry = LoggedRequest(
                next(self._counter), method, path, parse_qs(query_s, keep_blank_values=True)
            )
            self._items.append(entry)
            gate = next((g for g in self._gates if g.matches(entry)), None)
            if gate is not None:
                gate.held += 1
            self._lock.notify_all()
        if gate is not None:
            gate.wait(self.HOLD_LIMIT)
        return entry

    def answered(self, entry: LoggedRequest) -> None:
        with self._lock:
            entry.answered = self._items[-1].seq if self._items else entry.seq
            self._lock.notify_all()

    def hold(
        self,
        method: str,
        path: str,
        *,
        count: int = 1,
        when: Callable[[LoggedRequest], bool] | None = None,
    ) -> Gate:
        """A gate for the next `count` requests to `path` (a prefix) for which `when` holds."""
        gate = Gate(method, path, when, count)
        with self._lock:
            self._gates.append(gate)
        return gate

    def release_all(self) -> None:
        with self._lock:
            for gate in self._gates:
                gate.open()
            self._gates.clear()

    def items(self) -> list[LoggedRequest]:
        with self._lock:
            return list(self._items)

    def wait_until(self, condition: Callable[[list[LoggedRequest]], bool], timeout: float) -> bool:
        """Wait until `condition(items)` is true (re-checked on every arrival and answer)."""
        with self._lock:
            return self._lock.wait_for(lambda: condition(list(self._items)), timeout)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
