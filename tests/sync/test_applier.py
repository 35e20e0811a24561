"""The event applier against an in-memory portal: coalescing, merges, erasure, convergence."""

from __future__ import annotations

import itertools
import random
from collections.abc import Sequence
from typing import Any

import pytest
from sqlalchemy import select
from store.contact_data import stored_rows

from hubsync_core.config import Settings
from hubsync_core.hubspot.models import ContactRecord
from hubsync_core.store import contacts as contact_store
from hubsync_core.store import inbox
from hubsync_core.store.database import Database
from hubsync_core.sync.applier import EventApplier
from hubsync_core.webhooks.receiver import store

_ids = itertools.count(1)


class FakePortal:
    """Live records by id, merged-away ids pointing at their survivor, and read counts."""

    def __init__(self) -> None:
        self.live: dict[str, dict[str, Any]] = {}
        self.merged: dict[str, str] = {}
        self.reads: list[int] = []
        self.clock_ms = 1_780_000_000_000

    def tick(self) -> int:
        self.clock_ms += 1000
        return self.clock_ms

    def put(self, contact_id: str, **props: str | None) -> None:
        stamp = f"2026-12-05T12:{(self.tick() // 1000) % 60:02d}:00.000Z"
        current = self.live.setdefault(contact_id, {"hs_object_id": contact_id})
        current.update(props, lastmodifieddate=stamp, createdate="2026-01-01T00:00:00.000Z")

    def read(self, ids: Sequence[str], properties: Sequence[str]) -> list[ContactRecord]:
        assert len(ids) <= 100
        self.reads.append(len(ids))
        out: dict[str, ContactRecord] = {}
        for i in ids:
            target = self.merged.get(i, i)
            if target in self.live:
                props = {p: self.live[target].get(p) for p in properties}
                out[target] = ContactRecord(id=target, properties=props)
        return list(out.values())


def event(kind: str, object_id: str, at_ms: int, **extra: Any) -> dict[str, Any]:
    return {
        "eventId": next(_ids),
        "subscriptionType": f"contact.{kind}",
        "objectId": int(object_id),
        "occurredAt": at_ms,
        "attemptNumber": 0,
        **extra,
    }


PROPS = ["email", "firstname", "lastmodifieddate", "createdate", "hs_merged_object_ids"]


@pytest.fixture
def portal() -> FakePortal:
    return FakePortal()


@pytest.fixture
def applier(sqlite_db: Database, portal: FakePortal) -> EventApplier:
    settings = Settings.load({}, dotenv_path=None, secrets_path=None)
    return EventApplier(settings, sqlite_db, portal.read, lambda: PROPS)


def test_changes_become_batch_reads_of_100_and_upserts(
    applier: EventApplier, portal: FakePortal
) -> None:
    events = []
    for n in range(250):
        portal.put(str(1000 + n), email=f"p{n}@x.io", firstname="A")
        events.append(event("creation", str(1000 + n), portal.clock_ms))
        events.append(event("propertyChange", str(1000 + n), portal.clock_ms, propertyName="email"))
    store(applier.db, events, "webhook")
    result = applier.drain()
    assert result.events == 500
    assert portal.reads == [100, 100, 50]
    stored = stored_rows(applier.db)
    assert len(stored) == 250 and stored["1042"]["email"] == "p42@x.io"
    assert inbox.pending(applier.db, 10) == []


def test_deletion_archives_and_restore_revives(applier: EventApplier, portal: FakePortal) -> None:
    portal.put("7", email="a@x.io")
    store(applier.db, [event("creation", "7", portal.clock_ms)], "webhook")
    applier.drain()
    archived_copy = portal.live.pop("7")
    store(applier.db, [event("deletion", "7", portal.tick())], "webhook")
    applier.drain()
    assert stored_rows(applier.db)["7"]["archived"] is True
    portal.live["7"] = archived_copy
    portal.put("7")
    store(applier.db, [event("restore", "7", portal.clock_ms)], "webhook")
    applier.drain()
    assert stored_rows(applier.db)["7"]["archived"] is False


def test_merge_reads_the_new_record_and_drops_the_old_ids(
    applier: EventApplier, portal: FakePortal
) -> None:
    for i in ("1", "2"):
        portal.put(i, email=f"{i}@x.io")
    store(applier.db, [event("creation", i, portal.clock_ms) for i in ("1", "2")], "webhook")
    applier.drain()
    # HubSpot merges 1 (primary) and 2 into a NEW record 3.
    portal.live.pop("1"), portal.live.pop("2")
    portal.merged.update({"1": "3", "2": "3"})
    portal.put("3", email="1@x.io", hs_merged_object_ids="1;2")
    merge = event(
        "merge", "1", portal.clock_ms, primaryObjectId=1, mergedObjectIds=[2], newObjectId=3
    )
    store(applier.db, [merge], "webhook")
    applier.drain()
    stored = stored_rows(applier.db)
    assert stored["3"]["archived"] is False and stored["3"]["email"] == "1@x.io"
    assert stored["1"]["archived_reason"] == "merged into 3"
    assert stored["2"]["archived_reason"] == "merged into 3"


def test_privacy_deletion_erases_every_trace_and_audits_without_personal_data(
    applier: EventApplier, portal: FakePortal
) -> None:
    portal.put("9", email="gdpr@x.io", firstname="Private")
    store(
        applier.db,
        [event("propertyChange", "9", portal.clock_ms, propertyValue="Private")],
        "webhook",
    )
    applier.drain()
    with applier.db.transaction() as conn:
        conn.execute(contact_store.SEGMENTS.insert().values(segment="vip", hubspot_id="9"))
        conn.execute(contact_store.MEMBERS.insert().values(list_id="5", hubspot_id="9"))
    portal.live.pop("9")
    store(applier.db, [event("privacyDeletion", "9", portal.tick())], "webhook")
    applier.drain()
    from tests.sync_helpers import dump_database_text

    text = dump_database_text(applier.db)
    assert "gdpr@x.io" not in text and "Private" not in text
    assert "9" not in stored_rows(applier.db)
    with applier.db.connect() as conn:
        audit = conn.execute(select(inbox.PRIVACY)).mappings().all()
    assert [a["hubspot_id"] for a in audit] == ["9"]


def test_duplicates_reordering_and_retries_converge(
    applier: EventApplier, portal: FakePortal, sqlite_db: Database
) -> None:
    rng = random.Random(5)
    events = []
    for n in range(120):
        cid = str(500 + n)
        portal.put(cid, email=f"v1-{n}@x.io")
        events.append(event("creation", cid, portal.clock_ms))
        if n % 3 == 0:
            portal.put(cid, email=f"v2-{n}@x.io")
            events.append(event("propertyChange", cid, portal.clock_ms, propertyName="email"))
        if n % 10 == 0:
            portal.live.pop(cid)
            events.append(event("deletion", cid, portal.tick()))
    deliveries = events + rng.sample(events, len(events) // 10)  # 10 % delivered twice
    rng.shuffle(deliveries)
    for start in range(0, len(deliveries), 37):
        store(applier.db, deliveries[start : start + 37], "webhook")
        if start % 74 == 0:
            applier.apply_once()  # apply between deliveries: late, older events follow
    applier.drain()
    stored = stored_rows(sqlite_db)
    live = {k for k, v in stored.items() if not v["archived"]}
    assert live == set(portal.live)
    for cid, props in portal.live.items():
        assert stored[cid]["email"] == props["email"]
