"""The webhook receiver's logic, free of HTTP: verify, parse, store, then acknowledge.

The HTTP route (`api/webhooks.py`) hands over the method, the query string, the raw body and
the headers, and turns the outcome into a status: `WebhookRefused` → 401 (nothing stored),
`BadEvents` → 400, `InboxUnavailable` → 503 (HubSpot retries), a `Receipt` → 200. The events
are committed to the inbox before `receive` returns, so an acknowledged event is durable.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.exc import SQLAlchemyError

from hubsync_core.config import Secret
from hubsync_core.store import inbox
from hubsync_core.store.database import Database
from hubsync_core.webhooks.events import parse_delivery
from hubsync_core.webhooks.signature import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    SignatureRejected,
    verify_v3,
)

log = logging.getLogger("hubsync.webhooks")

#: The receiver's path on the API server.
WEBHOOK_PATH = "/api/integrations/hubspot/webhooks"


class WebhookRefused(Exception):
    """Not provably from HubSpot (bad, missing or stale signature, or no secret set)."""


class InboxUnavailable(Exception):
    """The events could not be stored; the caller must answer 5xx so HubSpot retries."""


@dataclass(frozen=True)
class Receipt:
    """An acknowledged delivery: events newly stored, and duplicates already stored."""

    stored: int
    duplicates: int


@dataclass(frozen=True)
class WebhookReceiver:
    """Verifies and stores webhook deliveries for one database.

    `public_url` is the receiver's URL exactly as configured in HubSpot; `now_ms` is the
    clock (epoch milliseconds), injectable for tests.
    """

    db: Database
    secret: Secret | None
    public_url: str | None
    now_ms: Callable[[], int] = lambda: int(time.time() * 1000)

    def signed_uri(self, query: str = "") -> str:
        """The URI HubSpot signed: the configured public URL, plus the request's query."""
        if not self.public_url:
            raise WebhookRefused("HUBSYNC_WEBHOOK_PUBLIC_URL is not set")
        return f"{self.public_url}?{query}" if query else self.public_url

    def receive(self, method: str, query: str, body: bytes, headers: Mapping[str, str]) -> Receipt:
        """Verify one delivery and store its events durably; see the module docstring."""
        if not self.secret:
            raise WebhookRefused("HUBSPOT_CLIENT_SECRET is not set")
        lower = {k.lower(): v for k, v in headers.items()}
        try:
            verify_v3(
                self.secret.reveal(),
                method,
                self.signed_uri(query),
                body,
                lower.get(SIGNATURE_HEADER.lower()),
                lower.get(TIMESTAMP_HEADER.lower()),
                self.now_ms(),
            )
        except SignatureRejected as exc:
            raise WebhookRefused(str(exc)) from None
        events = parse_delivery(body)
        return store(self.db, events, "webhook")


def store(db: Database, events: list[dict], source: str, now: datetime | None = None) -> Receipt:
    """Commit validated events to the inbox; raises `InboxUnavailable` when it cannot."""
    try:
        with db.transaction() as conn:
            result = inbox.store_events(conn, events, source, now)
    except SQLAlchemyError as exc:
        log.error("could not store %d %s events: %s", len(events), source, type(exc).__name__)
        raise InboxUnavailable("the event inbox could not be written") from exc
    return Receipt(stored=result.stored, duplicates=result.duplicates)
