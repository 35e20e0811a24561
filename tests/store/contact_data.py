"""Contacts, lists, memberships and runs written straight into the tables for store tests.

Shared by the explorer's tests, test_export.py, test_insights.py, test_overview.py and the
SDK tests (`add_people` is the standard cast every expectation there is written against).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from hubsync_core.store.database import Database
from hubsync_core.store.explorer import ContactFilter, count_contacts, query_contacts
from hubsync_core.store.models import (
    Contact,
    ContactSegmentRow,
    HubSpotList,
    ListMembership,
    SyncRun,
)

CONTACTS: sa.Table = Contact.__table__  # type: ignore[attr-defined]
SEGMENTS: sa.Table = ContactSegmentRow.__table__  # type: ignore[attr-defined]
LISTS: sa.Table = HubSpotList.__table__  # type: ignore[attr-defined]
MEMBERS: sa.Table = ListMembership.__table__  # type: ignore[attr-defined]
RUNS: sa.Table = SyncRun.__table__  # type: ignore[attr-defined]

SYNCED = datetime(2026, 11, 28, 12, 0, 0)
_FIELDS = ("email", "firstname", "lastname", "company", "phone", "jobtitle", "lifecyclestage")


def add_contact(db: Database, hubspot_id: str, **fields: Any) -> None:
    """One contact; `segments` and `lists` (list ids) in `fields` add memberships too."""
    segments = fields.pop("segments", ())
    lists = fields.pop("lists", ())
    row: dict[str, Any] = {name: fields.pop(name, None) for name in _FIELDS}
    props = {k: v for k, v in row.items() if v is not None}
    props.update(fields.pop("properties", {}))
    row.update(
        hubspot_id=hubspot_id,
        properties=props,
        created_at=fields.pop("created_at", None),
        updated_at=fields.pop("updated_at", None),
        synced_at=fields.pop("synced_at", SYNCED),
        archived=fields.pop("archived", False),
        archived_at=fields.pop("archived_at", None),
        archived_reason=fields.pop("archived_reason", None),
    )
    assert not fields, f"unknown fields {fields}"
    with db.transaction() as conn:
        conn.execute(sa.insert(CONTACTS), [row])
        for segment in segments:
            conn.execute(sa.insert(SEGMENTS), [{"segment": segment, "hubspot_id": hubspot_id}])
        for list_id in lists:
            conn.execute(sa.insert(MEMBERS), [{"list_id": list_id, "hubspot_id": hubspot_id}])


def add_list(db: Database, list_id: str, name: str) -> None:
    with db.transaction() as conn:
        conn.execute(sa.insert(LISTS), [{"list_id": list_id, "name": name, "synced_at": SYNCED}])


def add_members(db: Database, segment: str, ids: Iterable[str]) -> None:
    with db.transaction() as conn:
        conn.execute(sa.insert(SEGMENTS), [{"segment": segment, "hubspot_id": i} for i in ids])


def add_run(db: Database, **fields: Any) -> int:
    """A sync run row with sensible defaults; returns its id."""
    row: dict[str, Any] = {
        "mode": "full",
        "status": "succeeded",
        "started_at": SYNCED,
        "owner": "test",
        "options": {},
        "by_segment": {},
        "checkpoint": {},
    }
    row.update(fields)
    with db.transaction() as conn:
        return int(conn.execute(sa.insert(RUNS).returning(RUNS.c.id), [row]).scalar_one())


def d(text: str) -> datetime:
    """`datetime.fromisoformat`, short."""
    return datetime.fromisoformat(text)


def add_people(db: Database) -> None:
    """The standard cast: eight live contacts and one archived, ids of different lengths.

    id   email             name          company              stage        segments
    1    ann@acme.io       Ann Lee       Acme                 lead         engaged
    2    bob@chainge.io    Bob Stone     Chainge Labs         customer     chainge high_value cold
    3    -                 Émile Zola    100% Natural_Foods   -            engaged
    9    gina@initech.org  Gina O'Hara   Initech              subscriber   cold
    10   carol@globex.com  Carol Díaz    Globex               opportunity  high_value cold
    11   dave@chainge.io   Dave Lee      CHAINGE              lead         chainge engaged
    12   "" (empty)        Eve -         -                    partner      -
    13   hal@hal.dev       Hal Nguyen    -                    "" (empty)   -
    100  frank@acme.io     Frank -       Acme                 customer     high_value (archived)
    Lists: 101 "Newsletter" = {1, 2}; 102 "Webinar" = {2, 100}.
    """
    add_list(db, "101", "Newsletter")
    add_list(db, "102", "Webinar")
    people: list[tuple[str, dict[str, Any]]] = [
        (
            "1",
            {
                "email": "ann@acme.io",
                "firstname": "Ann",
                "lastname": "Lee",
                "company": "Acme",
                "phone": "+49 30 1234",
                "jobtitle": "CEO",
                "lifecyclestage": "lead",
                "created_at": d("2025-01-10T09:00:00"),
                "updated_at": d("2026-11-20T10:00:00"),
                "segments": ["engaged"],
                "lists": ["101"],
                "properties": {"country": "DE"},
            },
        ),
        (
            "2",
            {
                "email": "bob@chainge.io",
                "firstname": "Bob",
                "lastname": "Stone",
                "company": "Chainge Labs",
                "lifecyclestage": "customer",
                "created_at": d("2025-02-01T00:00:00"),
                "updated_at": d("2026-06-01T08:00:00"),
                "segments": ["chainge", "high_value", "cold"],
                "lists": ["101", "102"],
                "properties": {"country": "FR"},
            },
        ),
        (
            "3",
            {
                "firstname": "Émile",
                "lastname": "Zola",
                "company": "100% Natural_Foods",
                "created_at": d("2025-02-28T23:59:59"),
                "updated_at": d("2026-11-27T00:00:00"),
                "segments": ["engaged"],
            },
        ),
        (
            "9",
            {
                "email": "gina@initech.org",
                "firstname": "Gina",
                "lastname": "O'Hara",
                "company": "Initech",
                "lifecyclestage": "subscriber",
                "created_at": d("2023-07-07T07:07:07"),
                "updated_at": d("2024-01-01T00:00:00"),
                "segments": ["cold"],
            },
        ),
        (
            "10",
            {
                "email": "carol@globex.com",
                "firstname": "Carol",
                "lastname": "Díaz",
                "company": "Globex",
                "lifecyclestage": "opportunity",
                "created_at": d("2024-12-31T23:59:59"),
                "updated_at": d("2026-01-15T12:00:00"),
                "segments": ["high_value", "cold"],
            },
        ),
        (
            "11",
            {
                "email": "dave@chainge.io",
                "firstname": "Dave",
                "lastname": "Lee",
                "company": "CHAINGE",
                "lifecyclestage": "lead",
                "created_at": d("2026-03-05T10:00:00"),
                "updated_at": d("2026-11-25T09:30:00"),
                "segments": ["chainge", "engaged"],
            },
        ),
        (
            "12",
            {
                "email": "",
                "firstname": "Eve",
                "lifecyclestage": "partner",
                "created_at": d("2026-04-01T00:00:00"),
            },
        ),
        (
            "13",
            {
                "email": "hal@hal.dev",
                "firstname": "Hal",
                "lastname": "Nguyen",
                "lifecyclestage": "",
                "created_at": d("2026-11-01T00:00:00"),
                "updated_at": d("2026-11-02T00:00:00"),
            },
        ),
        (
            "100",
            {
                "email": "frank@acme.io",
                "firstname": "Frank",
                "company": "Acme",
                "lifecyclestage": "customer",
                "updated_at": d("2025-12-01T00:00:00"),
                "archived": True,
                "archived_at": d("2026-01-01T00:00:00"),
                "archived_reason": "archived",
                "segments": ["high_value"],
                "lists": ["102"],
            },
        ),
    ]
    for hubspot_id, fields in people:
        add_contact(db, hubspot_id, **fields)


LIVE_IDS = ["1", "2", "3", "9", "10", "11", "12", "13"]


def ids(db: Database, flt: ContactFilter, **kwargs: Any) -> list[str]:
    """Matching ids in numeric order (or the order `kwargs` ask for)."""
    kwargs.setdefault("sort", "hubspot_id")
    kwargs.setdefault("descending", False)
    page = query_contacts(db, flt, limit=1000, columns=["hubspot_id"], **kwargs)
    found = [row["hubspot_id"] for row in page.rows]
    assert page.total == len(found)
    assert count_contacts(db, flt) == len(found)
    # A date sort takes other plans (walking the date index): same contacts.
    by_date = query_contacts(db, flt, sort="updated_at", limit=1000, columns=["hubspot_id"])
    assert sorted(row["hubspot_id"] for row in by_date.rows) == sorted(found)
    return found


def contact_indexes(db: Database) -> set[str]:
    """The contacts table's secondary indexes, from the catalog (reflection skips
    expression indexes such as the search index)."""
    sql = (
        "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'contacts' "
        "AND sql IS NOT NULL"
        if db.is_sqlite
        else "SELECT indexname FROM pg_indexes WHERE tablename = 'contacts' "
        "AND indexname <> 'contacts_pkey'"
    )
    with db.connect() as conn:
        return {str(name) for (name,) in conn.execute(sa.text(sql))}


def stored_rows(db: Database) -> dict[str, dict[str, Any]]:
    """Every stored contact row (archived ones too), keyed by id."""
    with db.connect() as conn:
        rows = conn.execute(sa.select(Contact.__table__)).mappings().all()  # type: ignore[attr-defined]
    return {r["hubspot_id"]: dict(r) for r in rows}
