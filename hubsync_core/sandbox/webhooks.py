"""The sandbox's webhook side: HubSpot-shaped contact events for every portal mutation,
recorded in the journal and delivered, batched and v3-signed, to a target URL.

Delivery follows HubSpot: up to 100 events per POST, a few requests in flight, and a delivery
that fails to connect, takes over 5 s or gets any non-2xx answer is retried (the events'
`attemptNumber` counts up) up to 10 times with growing pauses. Optional chaos for tests:
`duplicate_rate` re-sends deliveries, `reorder` shuffles events across batches.

Independent of HubSync's client and store: the signature is computed here from HubSpot's
documented recipe, not imported.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import logging
import queue
import random
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger("hubsync.sandbox.webhooks")

#: Subscription ids per event type (what HubSpot assigns when an app subscribes).
SUBSCRIPTIONS = {
    "contact.creation": 1001,
    "contact.propertyChange": 1002,
    "contact.deletion": 1003,
    "contact.merge": 1004,
    "contact.restore": 1005,
    "contact.privacyDeletion": 1006,
}
APP_ID = 4_242_424
MAX_BATCH = 100
MAX_ATTEMPTS = 10
DELIVERY_TIMEOUT_S = 5.0


def sign_v3(secret: str, method: str, uri: str, body: bytes, timestamp_ms: int) -> str:
    """HubSpot's v3 signature: base64(HMAC-SHA256(secret, method + uri + body + timestamp))."""
    message = method.encode() + uri.encode() + body + str(timestamp_ms).encode()
    return base64.b64encode(hmac.new(secret.encode(), message, hashlib.sha256).digest()).decode()


@dataclass
class DeliveryOptions:
    """How deliveries behave (tests make them chaotic and fast)."""

    url: str | None = None
    #: Share of deliveries sent a second time (HubSpot delivers at least once): the first
    #: successful delivery and then one in every `1 / duplicate_rate`, so even a short run
    #: sees a duplicate, however its events happened to be batched.
    duplicate_rate: float = 0.0
    #: Shuffle the events waiting to be sent, so batches arrive out of order.
    reorder: bool = False
    #: Seconds before retry n is `retry_base * 2**(n-1)` (HubSpot spreads 10 over 24 h).
    retry_base: float = 1.0
    #: Seconds events wait to fill a batch.
    linger: float = 0.05
    concurrency: int = 4
    seed: int = 1


@dataclass
class DeliveryStats:
    batches: int = 0
    events: int = 0
    attempts: int = 0
    failures: int = 0
    duplicates: int = 0
    gave_up: int = 0
    statuses: dict[int, int] = field(default_factory=dict)


class WebhookEmitter:
    """Turns portal changes into events; keeps the journal; delivers to `options.url`."""

    def __init__(
        self,
        portal_id: int,
        secret: str,
        options: DeliveryOptions | None = None,
        *,
        journal: Callable[[list[dict[str, Any]]], None] | None = None,
    ) -> None:
        self.portal_id = portal_id
        self.secret = secret
        self.options = options or DeliveryOptions()
        self._journal = journal
        self._ids = itertools.count(int(time.time() * 1000) % 10**9 * 1000)
        self._lock = threading.Lock()
        self._pending: list[dict[str, Any]] = []
        self._queue: queue.Queue[tuple[list[dict[str, Any]], int, bool] | None] = queue.Queue()
        self._rng = random.Random(self.options.seed)
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._inflight = 0
        self._delivered = 0  # successful first deliveries, for the duplicate spread
        self._idle = threading.Condition(self._lock)
        self.stats = DeliveryStats()

    # ---- events -------------------------------------------------------------------------------
    def emit(self, kind: str, object_id: str, occurred_ms: int, **extra: Any) -> dict[str, Any]:
        """Record one `contact.<kind>` event (journal now, delivery soon)."""
        subscription = f"contact.{kind}"
        event = {
            "eventId": next(self._ids),
            "subscriptionId": SUBSCRIPTIONS[subscription],
            "portalId": self.portal_id,
            "appId": APP_ID,
            "occurredAt": occurred_ms,
            "subscriptionType": subscription,
            "attemptNumber": 0,
            "objectId": int(object_id),
            "changeSource": "CRM",
            **extra,
        }
        with self._lock:
            self._pending.append(event)
        return event

    def on_change(self, change: dict[str, Any]) -> None:
        """The portal's listener: one mutation becomes its HubSpot events."""
        kind, object_id, at = change["kind"], str(change["id"]), int(change["at"])
        if kind == "creation":
            self.emit("creation", object_id, at)
            kind = "propertyChange"
        if kind == "propertyChange":
            for name, value in (change.get("properties") or {}).items():
                self.emit(
                    "propertyChange", object_id, at, propertyName=name, propertyValue=value or ""
                )
        elif kind == "merge":
            self.emit(
                "merge",
                object_id,
                at,
                primaryObjectId=int(change["primary"]),
                mergedObjectIds=[int(i) for i in change["merged"]],
                newObjectId=int(change["new"]),
                numberOfPropertiesMoved=0,
            )
        elif kind in ("deletion", "restore", "privacyDeletion"):
            self.emit(kind, object_id, at)
        if not self._threads:
            self.flush()  # not started: no flusher thread, hand the events over now

    def flush(self) -> None:
        """Hand the events recorded so far to the journal and the delivery queue."""
        with self._lock:
            events, self._pending = self._pending, []
        if not events:
            return
        if self._journal is not None:
            self._journal(events)
        if self.options.url:
            if self.options.reorder:
                self._rng.shuffle(events)
            for start in range(0, len(events), MAX_BATCH):
                self._enqueue(events[start : start + MAX_BATCH], 0)

    # ---- delivery -----------------------------------------------------------------------------
    def start(self) -> None:
        if self._threads:
            return
        # Like HubSpot, events are gathered for a moment and sent in batches of up to 100.
        flusher = threading.Thread(
            target=self._flush_loop, name="sandbox-webhooks-flush", daemon=True
        )
        flusher.start()
        self._threads.append(flusher)
        for n in range(max(1, self.options.concurrency)):
            thread = threading.Thread(
                target=self._deliver_loop, name=f"sandbox-webhooks-{n}", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()
        self.flush()
        for _ in self._threads:
            self._queue.put(None)
        for thread in self._threads:
            thread.join(timeout=DELIVERY_TIMEOUT_S + 1)
        self._threads = []

    def wait_idle(self, timeout: float) -> bool:
        """Block until every delivery was answered or abandoned (for tests and benchmarks)."""
        deadline = time.monotonic() + timeout
        with self._idle:
            while self._inflight or self._pending:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._idle.wait(min(left, 0.05))
        return True

    def _flush_loop(self) -> None:
        while not self._stop.wait(self.options.linger):
            self.flush()

    def _enqueue(
        self, events: list[dict[str, Any]], attempt: int, counted: bool = False, copy: bool = False
    ) -> None:
        if not counted:
            with self._lock:
                self._inflight += 1
        self._queue.put((events, attempt, copy))

    def _done(self) -> None:
        with self._idle:
            self._inflight -= 1
            self._idle.notify_all()

    def _deliver_loop(self) -> None:
        while not self._stop.is_set():
            item = self._queue.get()
            if item is None:
                return
            events, attempt, copy = item
            try:
                self._deliver(events, attempt, copy)
            finally:
                self._done()

    def _deliver(self, events: list[dict[str, Any]], attempt: int, copy: bool) -> None:
        url = self.options.url
        if not url:
            return
        body = json.dumps([{**e, "attemptNumber": attempt} for e in events]).encode()
        status = self._post(url, body)
        with self._lock:
            self.stats.attempts += 1
            self.stats.statuses[status] = self.stats.statuses.get(status, 0) + 1
            if attempt == 0 and not copy:
                self.stats.batches += 1
                self.stats.events += len(events)
        if 200 <= status < 300:
            if not copy and self._duplicate_next():
                # The same delivery again (HubSpot delivers at least once).
                self._enqueue(events, attempt, copy=True)
            return
        with self._lock:
            self.stats.failures += 1
        if attempt + 1 >= MAX_ATTEMPTS or self._stop.is_set():
            with self._lock:
                self.stats.gave_up += 1
            log.warning("gave up delivering %d events after %d attempts", len(events), attempt + 1)
            return
        pause = self.options.retry_base * (2**attempt)
        with self._lock:
            self._inflight += 1  # the retry counts as in flight while it waits
        timer = threading.Timer(pause, self._enqueue, args=(events, attempt + 1, True, copy))
        timer.daemon = True
        timer.start()

    def _duplicate_next(self) -> bool:
        """Whether this successful delivery is sent again: spread evenly, not drawn at random,
        because the number of batches depends on timing and a draw could yield none."""
        rate = self.options.duplicate_rate
        with self._lock:
            n = self._delivered
            self._delivered += 1
            again = rate > 0 and (n == 0 or int(n * rate) < int((n + 1) * rate))
            if again:
                self.stats.duplicates += 1
        return again

    def _post(self, url: str, body: bytes) -> int:
        stamp = int(time.time() * 1000)
        request = urllib.request.Request(
            url,
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json",
                "X-HubSpot-Signature-v3": sign_v3(self.secret, "POST", url, body, stamp),
                "X-HubSpot-Request-Timestamp": str(stamp),
                "User-Agent": "HubSpot Connect 2.0 (sandbox)",
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=DELIVERY_TIMEOUT_S) as response:
                return int(response.status)
        except urllib.error.HTTPError as exc:
            return int(exc.code)
        except (urllib.error.URLError, OSError, TimeoutError):
            return 0  # no answer: connection refused, reset or over 5 s
