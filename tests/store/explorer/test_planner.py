"""Every plan gives the brute-force answers on a seeded crowd of contacts.

Every test runs on SQLite and PostgreSQL (the shared `db` fixture).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from hubsync_core.store.database import Database
from hubsync_core.store.explorer import (
    FACETS,
    NO_STAGE,
    ContactFilter,
    explore,
    query_contacts,
)

from ..contact_data import (
    CONTACTS,
    MEMBERS,
    SEGMENTS,
    SYNCED,
    add_list,
)


def _brute_force(flt: ContactFilter, people: list[dict[str, Any]]) -> list[str]:
    """The ids `flt` keeps among `people` (rows with segments and lists), worked out in Python."""

    def keep(p: dict[str, Any]) -> bool:
        if p["archived"] and flt.archived == "hide":
            return False
        if not p["archived"] and flt.archived == "only":
            return False
        if flt.search:
            fields = [p.get(k) or "" for k in ("email", "company", "firstname", "lastname")]
            fields.append(f"{p.get('firstname') or ''} {p.get('lastname') or ''}")
            if not any(flt.search.casefold() in f.casefold() for f in fields):
                return False
        if flt.lifecycle_stages:
            stage = p.get("lifecyclestage") or NO_STAGE
            if stage not in flt.lifecycle_stages:
                return False
        if flt.has_email is not None and bool(p.get("email")) != flt.has_email:
            return False
        for column, start, end in (
            ("created_at", flt.created_from, flt.created_to),
            ("updated_at", flt.modified_from, flt.modified_to),
        ):
            when = p.get(column)
            if (start or end) and when is None:
                return False
            if (start and when.date() < start) or (end and when.date() > end):
                return False
        if flt.list_ids and not set(flt.list_ids) & set(p["lists"]):
            return False
        if flt.segments:
            held = set(p["segments"])
            wanted = set(flt.segments)
            if not (wanted <= held if flt.segment_match == "all" else wanted & held):
                return False
        return True

    return sorted((p["hubspot_id"] for p in people if keep(p)), key=lambda i: (len(i), i))


def _crowd(db: Database, count: int = 300) -> list[dict[str, Any]]:
    """`count` contacts with varied fields, segments and lists (seeded, deterministic)."""
    import random

    rng = random.Random(11)
    add_list(db, "201", "Alpha")
    add_list(db, "202", "Beta")
    stages = ["lead", "customer", "", None, "subscriber", "partner"]
    names = ["Ann", "Émile", "MÜLLER", "Müller", "Zoë", "bob", "O'Hara", "Lee"]
    people: list[dict[str, Any]] = []
    for i in range(1, count + 1):
        created = datetime(2024, 1, 1) + timedelta(days=rng.randint(0, 900))
        person: dict[str, Any] = {
            "hubspot_id": str(i * 7),
            "email": rng.choice([None, "", f"p{i}@ex{i % 5}.io", f"x{i}@müller.de"]),
            "firstname": rng.choice(names),
            "lastname": rng.choice([*names, None]),
            "company": rng.choice(["Acme", "Chainge", None, "müller & Co", "A_B%C"]),
            "lifecyclestage": rng.choice(stages),
            "created_at": created,
            "updated_at": rng.choice([None, created + timedelta(days=rng.randint(0, 300))]),
            "archived": rng.random() < 0.1,
            "segments": [k for k in ("chainge", "engaged", "cold", "vip") if rng.random() < 0.3],
            "lists": [k for k in ("201", "202") if rng.random() < 0.25],
        }
        people.append(person)
    with db.transaction() as conn:
        conn.execute(
            sa.insert(CONTACTS),
            [
                {
                    **{k: v for k, v in p.items() if k not in ("segments", "lists")},
                    "phone": None,
                    "jobtitle": None,
                    "properties": {},
                    "synced_at": SYNCED,
                    "archived_at": None,
                    "archived_reason": None,
                }
                for p in people
            ],
        )
        members = [(s, p["hubspot_id"]) for p in people for s in p["segments"]]
        conn.execute(sa.insert(SEGMENTS), [{"segment": s, "hubspot_id": i} for s, i in members])
        lists = [(k, p["hubspot_id"]) for p in people for k in p["lists"]]
        conn.execute(sa.insert(MEMBERS), [{"list_id": k, "hubspot_id": i} for k, i in lists])
    return people


CROWD_FILTERS = [
    ContactFilter(),
    ContactFilter(archived="only"),
    ContactFilter(segments=("cold",)),
    ContactFilter(segments=("engaged", "vip"), archived="only"),
    ContactFilter(segments=("cold", "vip"), segment_match="all", archived="include"),
    ContactFilter(segments=("engaged", "chainge"), list_ids=("201",)),
    ContactFilter(list_ids=("202",), lifecycle_stages=(NO_STAGE, "lead")),
    ContactFilter(search="müller"),
    ContactFilter(search="MÜLLER", segments=("vip",), lifecycle_stages=("customer",)),
    ContactFilter(search="a_b%"),
    ContactFilter(search="ex1.io", list_ids=("201", "202")),
    ContactFilter(has_email=False, segments=("engaged",)),
    ContactFilter(created_from=date(2024, 6, 1), created_to=date(2025, 1, 31)),
    ContactFilter(modified_from=date(2024, 3, 1), lifecycle_stages=("partner", "subscriber")),
]


@pytest.mark.parametrize("flt", CROWD_FILTERS, ids=[f.describe() for f in CROWD_FILTERS])
def test_pages_totals_and_facets_match_a_brute_force_count(
    db: Database, plans: str, flt: ContactFilter
) -> None:
    people = _crowd(db)
    expected = _brute_force(flt, people)
    found = explore(db, flt, sort="hubspot_id", descending=False, limit=40, offset=5, facets=FACETS)
    assert found.page.total == len(expected)
    assert [r["hubspot_id"] for r in found.page.rows] == expected[5:45]
    by_date = explore(db, flt, sort="updated_at", limit=30, offset=2, facets=())
    assert by_date.page.total == len(expected)
    assert by_date.page.rows == query_contacts(db, flt, sort="updated_at", limit=30, offset=2).rows
    for f in found.facets["segment"]:
        picked = replace(flt, segments=(f.value,), segment_match="any")
        assert f.count == len(_brute_force(picked, people)), f.value
    for f in found.facets["lifecycle"]:
        assert f.count == len(_brute_force(replace(flt, lifecycle_stages=(f.value,)), people))
    for f in found.facets["list"]:
        assert f.count == len(_brute_force(replace(flt, list_ids=(f.value,)), people)), f.value
