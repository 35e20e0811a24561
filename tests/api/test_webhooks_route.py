"""`POST /api/integrations/hubspot/webhooks`: signed deliveries stored and applied, the four
refusals answered 401 with nothing changed, and no bearer token needed."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sync_helpers import fast_client, sandbox_settings

from api.conftest import BASE
from hubsync_core.api import create_app
from hubsync_core.sandbox import Sandbox
from hubsync_core.service import HubSyncService
from hubsync_core.store import inbox
from hubsync_core.webhooks.signature import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign_v3

SECRET = "webhook-secret-for-tests"
PUBLIC = "https://hubsync.example.com/api/integrations/hubspot/webhooks"


@pytest.fixture
def hook_service(portal: Sandbox, tmp_path: Path) -> Iterator[HubSyncService]:
    settings = sandbox_settings(
        portal,
        f"sqlite:///{tmp_path / 'hooks.db'}",
        HUBSYNC_DATA_DIR=str(tmp_path / "data"),
        HUBSPOT_CLIENT_SECRET=SECRET,
        HUBSYNC_WEBHOOK_PUBLIC_URL=PUBLIC,
    )
    with HubSyncService(settings, client=fast_client(portal), owner="api") as svc:
        yield svc


def delivery(contact_id: str, event_id: int) -> bytes:
    event: dict[str, Any] = {
        "eventId": event_id,
        "subscriptionId": 1,
        "portalId": 1,
        "appId": 1,
        "occurredAt": int(time.time() * 1000),
        "subscriptionType": "contact.propertyChange",
        "attemptNumber": 0,
        "objectId": int(contact_id),
        "changeSource": "CRM",
        "propertyName": "jobtitle",
        "propertyValue": "CTO",
    }
    return json.dumps([event]).encode()


def headers_for(body: bytes, *, at_ms: int | None = None, secret: str = SECRET) -> dict[str, str]:
    stamp = at_ms if at_ms is not None else int(time.time() * 1000)
    return {
        SIGNATURE_HEADER: sign_v3(secret, "POST", PUBLIC, body, stamp),
        TIMESTAMP_HEADER: str(stamp),
        "Content-Type": "application/json",
    }


def test_a_signed_delivery_is_stored_without_a_bearer_token(
    portal: Sandbox, hook_service: HubSyncService
) -> None:
    contact_id = portal.portal.live_ids()[5]
    body = delivery(contact_id, 1)
    with TestClient(create_app(hook_service, token="t" * 20, background=False)) as client:
        answer = client.post(f"{BASE}/webhooks", content=body, headers=headers_for(body))
        assert answer.status_code == 200, answer.text
        assert answer.json() == {"stored": 1, "duplicates": 0}
        again = client.post(f"{BASE}/webhooks", content=body, headers=headers_for(body))
        assert again.json() == {"stored": 0, "duplicates": 1}
    assert [e.object_id for e in inbox.pending(hook_service.db, 10)] == [contact_id]


@pytest.mark.parametrize("case", ["forged", "replayed", "altered", "missing"])
def test_refused_deliveries_answer_401_and_change_nothing(
    portal: Sandbox, hook_service: HubSyncService, case: str
) -> None:
    body = delivery(portal.portal.live_ids()[6], 2)
    headers = headers_for(body)
    if case == "forged":
        headers = headers_for(body, secret="guessed-secret")
    elif case == "replayed":
        headers = headers_for(body, at_ms=int(time.time() * 1000) - 6 * 60 * 1000)
    elif case == "altered":
        body = body.replace(b"CTO", b"CEO")
    else:
        headers.pop(SIGNATURE_HEADER)
    with TestClient(create_app(hook_service, token="t" * 20, background=False)) as client:
        answer = client.post(f"{BASE}/webhooks", content=body, headers=headers)
    assert answer.status_code == 401
    assert answer.json()["status"] == 401
    assert inbox.stats(hook_service.db).received_last_hour == 0
    assert hook_service.get_contact(portal.portal.live_ids()[6]) is None
