"""The webhook receiver's logic without HTTP: signature v3, replay window, durable inbox."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import func, select

from hubsync_core.config import Secret
from hubsync_core.store import inbox
from hubsync_core.store.database import Database
from hubsync_core.webhooks.events import BadEvents
from hubsync_core.webhooks.receiver import InboxUnavailable, WebhookReceiver, WebhookRefused
from hubsync_core.webhooks.signature import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    normalize_uri,
    sign_v3,
)

SECRET = "client-secret-0123456789"
URL = "https://hubsync.example.com/api/integrations/hubspot/webhooks"
NOW_MS = 1_780_000_000_000


def event(event_id: int, object_id: int = 101, **extra: Any) -> dict[str, Any]:
    return {
        "eventId": event_id,
        "subscriptionId": 7,
        "portalId": 24681357,
        "appId": 99,
        "occurredAt": NOW_MS - 1000 + event_id,
        "subscriptionType": "contact.propertyChange",
        "attemptNumber": 0,
        "objectId": object_id,
        "changeSource": "CRM",
        "propertyName": "firstname",
        "propertyValue": "Ada",
        **extra,
    }


def signed(body: bytes, *, at: int = NOW_MS, uri: str = URL) -> dict[str, str]:
    return {
        SIGNATURE_HEADER: sign_v3(SECRET, "POST", uri, body, at),
        TIMESTAMP_HEADER: str(at),
        "Content-Type": "application/json",
    }


@pytest.fixture
def receiver(sqlite_db: Database) -> WebhookReceiver:
    return WebhookReceiver(sqlite_db, Secret(SECRET), URL, now_ms=lambda: NOW_MS)


def stored_events(db: Database) -> int:
    with db.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(inbox.INBOX)).scalar_one())


def test_signed_delivery_is_stored_before_it_is_acknowledged(receiver: WebhookReceiver) -> None:
    body = json.dumps([event(1), event(2, 102)]).encode()
    receipt = receiver.receive("POST", "", body, signed(body))
    assert (receipt.stored, receipt.duplicates) == (2, 0)
    pending = inbox.pending(receiver.db, 10)
    assert [(e.event_id, e.object_id) for e in pending] == [("1", "101"), ("2", "102")]


def test_a_duplicate_delivery_stores_nothing_new(receiver: WebhookReceiver) -> None:
    body = json.dumps([event(1), event(2)]).encode()
    receiver.receive("POST", "", body, signed(body))
    again = json.dumps([event(2), event(3)]).encode()
    receipt = receiver.receive("POST", "", again, signed(again))
    assert (receipt.stored, receipt.duplicates) == (1, 1)
    assert stored_events(receiver.db) == 3


@pytest.mark.parametrize("case", ["forged", "replayed", "altered", "missing"])
def test_refused_deliveries_store_nothing(receiver: WebhookReceiver, case: str) -> None:
    body = json.dumps([event(1)]).encode()
    headers = signed(body)
    if case == "forged":
        headers[SIGNATURE_HEADER] = sign_v3("not-the-secret", "POST", URL, body, NOW_MS)
    elif case == "replayed":
        headers = signed(body, at=NOW_MS - 5 * 60 * 1000 - 1)
    elif case == "altered":
        body = body.replace(b"Ada", b"Eve")
    else:
        del headers[SIGNATURE_HEADER]
    with pytest.raises(WebhookRefused):
        receiver.receive("POST", "", body, headers)
    assert stored_events(receiver.db) == 0


def test_signature_covers_the_public_url_not_the_one_the_server_sees(
    receiver: WebhookReceiver,
) -> None:
    body = json.dumps([event(1)]).encode()
    internal = "http://127.0.0.1:8000/api/integrations/hubspot/webhooks"
    with pytest.raises(WebhookRefused):
        receiver.receive("POST", "", body, signed(body, uri=internal))
    assert receiver.receive("POST", "", body, signed(body)).stored == 1


def test_hubspot_decodes_some_escapes_before_signing() -> None:
    assert normalize_uri("https://x.io/hook?a=b%3Ac%2Cd") == "https://x.io/hook?a=b:c,d"


def test_without_a_client_secret_every_delivery_is_refused(sqlite_db: Database) -> None:
    body = json.dumps([event(1)]).encode()
    receiver = WebhookReceiver(sqlite_db, None, URL, now_ms=lambda: NOW_MS)
    with pytest.raises(WebhookRefused):
        receiver.receive("POST", "", body, signed(body))


def test_a_body_that_is_not_events_is_refused_without_storing(receiver: WebhookReceiver) -> None:
    body = json.dumps({"eventId": 1}).encode()
    with pytest.raises(BadEvents):
        receiver.receive("POST", "", body, signed(body))
    assert stored_events(receiver.db) == 0


def test_an_inbox_that_cannot_be_written_is_reported_for_a_retry(
    receiver: WebhookReceiver,
) -> None:
    with receiver.db.engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE event_inbox")
    body = json.dumps([event(1)]).encode()
    with pytest.raises(InboxUnavailable):
        receiver.receive("POST", "", body, signed(body))
