"""The sandbox's events reach HubSync: signed webhook deliveries (with retries, duplicates and
reordering) and the Webhooks Journal read from its stored offset."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from hubsync_core.config import Secret
from hubsync_core.hubspot.journal import JournalClient
from hubsync_core.sandbox import Sandbox, SandboxConfig
from hubsync_core.store import inbox, runs
from hubsync_core.store.database import Database
from hubsync_core.webhooks.events import BadEvents
from hubsync_core.webhooks.journal import JOURNAL_OFFSET, poll_journal
from hubsync_core.webhooks.receiver import InboxUnavailable, WebhookReceiver, WebhookRefused


class Receiver:
    """A bare HTTP front for `WebhookReceiver` (the API route does the same with FastAPI);
    `fail_next` answers that many deliveries 500 to exercise HubSpot's retries."""

    def __init__(self, db: Database, secret: str) -> None:
        self.fail_next = 0
        self.statuses: list[int] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status = 200
                if outer.fail_next > 0:
                    outer.fail_next -= 1
                    status = 500
                else:
                    try:
                        outer.receiver.receive("POST", "", body, dict(self.headers))
                    except WebhookRefused:
                        status = 401
                    except BadEvents:
                        status = 400
                    except InboxUnavailable:
                        status = 503
                outer.statuses.append(status)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = (
            f"http://127.0.0.1:{self.server.server_address[1]}/api/integrations/hubspot/webhooks"
        )
        self.receiver = WebhookReceiver(db, Secret(secret), self.url)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(SandboxConfig(contacts=50, seed=3, rate_limit=0, search_rate_limit=0)) as sb:
        yield sb


@pytest.fixture
def receiver(sandbox: Sandbox, sqlite_db: Database) -> Iterator[Receiver]:
    front = Receiver(sqlite_db, sandbox.config.client_secret)
    yield front
    front.close()


def inbox_count(db: Database) -> int:
    with db.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(inbox.INBOX)).scalar_one())


def configure(sandbox: Sandbox, **body: object) -> None:
    requests.post(f"{sandbox.base_url}/_sandbox/webhooks", json=body, timeout=5).raise_for_status()


def test_a_low_duplicate_rate_still_resends_the_first_delivery(
    sandbox: Sandbox, receiver: Receiver, sqlite_db: Database
) -> None:
    """Tests with few batches rely on seeing a duplicate at a 10 % rate."""
    configure(sandbox, url=receiver.url, duplicateRate=0.1)
    sandbox.portal.update_contact(sandbox.portal.live_ids()[0], {"jobtitle": "CTO"})
    assert sandbox.freshness.emitter.wait_idle(10)
    assert sandbox.freshness.emitter.stats.duplicates == 1
    assert receiver.statuses == [200, 200]  # the one batch, twice
    assert inbox_count(sqlite_db) == 1  # stored once


def test_every_mutation_arrives_signed_and_deduplicated(
    sandbox: Sandbox, receiver: Receiver, sqlite_db: Database
) -> None:
    configure(sandbox, url=receiver.url, duplicateRate=1.0, reorder=True)
    ids = sandbox.portal.live_ids()
    new_id = sandbox.portal.create_contact({"email": "new@x.io", "firstname": "New"})
    sandbox.portal.update_contact(ids[0], {"jobtitle": "CTO", "phone": "123"})
    sandbox.portal.archive_contact(ids[1])
    sandbox.portal.restore_contact(ids[1])
    sandbox.portal.merge_contacts(ids[2], ids[3])
    sandbox.portal.privacy_delete(ids[4])
    assert sandbox.freshness.emitter.wait_idle(10)
    kinds = sorted(e.subscription_type for e in inbox.pending(sqlite_db, 100))
    assert kinds == sorted(
        ["contact.creation"]
        + ["contact.propertyChange"] * 2  # email, firstname of the new contact
        + ["contact.propertyChange"] * 2  # jobtitle, phone
        + ["contact.deletion", "contact.restore", "contact.merge", "contact.privacyDeletion"]
    )
    assert sandbox.freshness.emitter.stats.duplicates >= 1
    assert set(receiver.statuses) == {200}
    merge = next(e for e in inbox.pending(sqlite_db, 100) if e.subscription_type == "contact.merge")
    assert merge.payload["mergedObjectIds"] == [int(ids[3])]
    assert new_id in {e.object_id for e in inbox.pending(sqlite_db, 100)}


def test_a_failed_delivery_is_retried_with_its_attempt_number(
    sandbox: Sandbox, receiver: Receiver, sqlite_db: Database
) -> None:
    configure(sandbox, url=receiver.url, retryBaseSeconds=0.01)
    receiver.fail_next = 2
    sandbox.portal.update_contact(sandbox.portal.live_ids()[0], {"jobtitle": "Founder"})
    assert sandbox.freshness.emitter.wait_idle(10)
    assert receiver.statuses == [500, 500, 200]
    (event,) = inbox.pending(sqlite_db, 10)
    assert event.payload["attemptNumber"] == 2


def test_a_delivery_signed_with_another_secret_is_refused(
    sandbox: Sandbox, sqlite_db: Database
) -> None:
    front = Receiver(sqlite_db, "another-secret")
    try:
        configure(sandbox, url=front.url, retryBaseSeconds=30)
        sandbox.portal.update_contact(sandbox.portal.live_ids()[0], {"jobtitle": "CTO"})
        deadline = threading.Event()
        for _ in range(200):
            if front.statuses:
                break
            deadline.wait(0.05)
        assert front.statuses[:1] == [401]
        assert inbox_count(sqlite_db) == 0
    finally:
        front.close()


def test_the_journal_is_read_from_the_stored_offset_into_the_inbox(
    sandbox: Sandbox, sqlite_db: Database
) -> None:
    journal = JournalClient(
        sandbox.base_url, sandbox.config.client_id, Secret(sandbox.config.client_secret)
    )
    ids = sandbox.portal.live_ids()
    sandbox.portal.update_contact(ids[0], {"jobtitle": "CTO"})
    sandbox.portal.archive_contact(ids[1])
    sandbox.freshness.emitter.flush()
    first = poll_journal(sqlite_db, journal)
    assert first.stored == 2 and first.entries >= 1
    offset = runs.get_state(sqlite_db, JOURNAL_OFFSET)
    assert offset is not None
    again = poll_journal(sqlite_db, journal)
    assert again.entries == 0 and runs.get_state(sqlite_db, JOURNAL_OFFSET) == offset
    sandbox.portal.privacy_delete(ids[2])
    sandbox.freshness.emitter.flush()
    later = poll_journal(sqlite_db, journal)
    assert (later.entries, later.stored) == (1, 1)
    assert inbox_count(sqlite_db) == 3


def test_the_offset_does_not_move_when_the_events_cannot_be_stored(
    sandbox: Sandbox, sqlite_db: Database
) -> None:
    journal = JournalClient(
        sandbox.base_url, sandbox.config.client_id, Secret(sandbox.config.client_secret)
    )
    sandbox.portal.update_contact(sandbox.portal.live_ids()[0], {"jobtitle": "CTO"})
    sandbox.freshness.emitter.flush()
    with sqlite_db.engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE event_inbox")
    with pytest.raises(SQLAlchemyError):
        poll_journal(sqlite_db, journal)
    assert runs.get_state(sqlite_db, JOURNAL_OFFSET) is None


def test_the_journal_refuses_wrong_client_credentials(sandbox: Sandbox) -> None:
    from hubsync_core.hubspot.journal import JournalError

    journal = JournalClient(sandbox.base_url, sandbox.config.client_id, Secret("wrong"))
    with pytest.raises(JournalError):
        journal.fetch(None)
