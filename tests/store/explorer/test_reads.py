"""One contact with everything stored about it.

Every test runs on SQLite and PostgreSQL (the shared `db` fixture).
"""

from __future__ import annotations

from datetime import datetime

from hubsync_core.store.database import Database
from hubsync_core.store.explorer import (
    get_contact,
)

from ..contact_data import (
    SYNCED,
)


def test_get_contact_returns_everything_stored_about_one_contact(people: Database) -> None:
    bob = get_contact(people, "2")
    assert bob is not None
    assert bob["hubspot_id"] == "2"
    assert bob["company"] == "Chainge Labs"
    assert bob["properties"] == {
        "email": "bob@chainge.io",
        "firstname": "Bob",
        "lastname": "Stone",
        "company": "Chainge Labs",
        "lifecyclestage": "customer",
        "country": "FR",
    }
    assert bob["segments"] == ["chainge", "cold", "high_value"]
    assert bob["list_memberships"] == ["Newsletter", "Webinar"]
    assert bob["lists"] == [
        {"list_id": "101", "name": "Newsletter"},
        {"list_id": "102", "name": "Webinar"},
    ]
    assert (bob["archived"], bob["archived_at"], bob["archived_reason"]) == (False, None, None)
    assert bob["synced_at"] == SYNCED


def test_get_contact_finds_archived_contacts_and_accepts_int_ids(people: Database) -> None:
    frank = get_contact(people, 100)
    assert frank is not None
    assert frank["archived"] is True
    assert frank["archived_reason"] == "archived"
    assert frank["archived_at"] == datetime(2026, 1, 1)
    assert frank["list_memberships"] == ["Webinar"]
    assert get_contact(people, "404") is None
    assert get_contact(people, "1' OR '1'='1") is None
