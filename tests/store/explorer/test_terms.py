"""Filters keep exactly the matching contacts: each WHERE term, search, and combinations.

Every test runs on SQLite and PostgreSQL (the shared `db` fixture).
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
import sqlalchemy as sa

from hubsync_core.store.database import Database
from hubsync_core.store.explorer import (
    FACETS,
    NO_STAGE,
    ContactFilter,
    count_contacts,
    explore,
)

from ..contact_data import (
    LIVE_IDS,
    add_contact,
    add_people,
    ids,
)


@pytest.mark.parametrize(
    ("flt", "expected"),
    [
        (ContactFilter(), LIVE_IDS),
        (ContactFilter(archived="include"), [*LIVE_IDS, "100"]),
        (ContactFilter(archived="only"), ["100"]),
        (ContactFilter(segments=("chainge",)), ["2", "11"]),
        (ContactFilter(segments=("chainge", "engaged")), ["1", "2", "3", "11"]),
        (ContactFilter(segments=("chainge", "engaged"), segment_match="all"), ["11"]),
        (ContactFilter(segments=("high_value", "cold"), segment_match="all"), ["2", "10"]),
        (ContactFilter(segments=("high_value",), archived="include"), ["2", "10", "100"]),
        (ContactFilter(segments=("high_value",), archived="only"), ["100"]),
        (ContactFilter(segments=("no_such_segment",)), []),
        (ContactFilter(search="acme"), ["1"]),
        (ContactFilter(search="ACME", archived="include"), ["1", "100"]),
        (ContactFilter(search="lee"), ["1", "11"]),
        (ContactFilter(search="ann lee"), ["1"]),
        (ContactFilter(search="Dave Lee"), ["11"]),
        (ContactFilter(search="chainge"), ["2", "11"]),
        (ContactFilter(search="globex.com"), ["10"]),
        (ContactFilter(search="émile"), ["3"]),
        (ContactFilter(search="DÍAZ"), ["10"]),
        (ContactFilter(search="o'hara"), ["9"]),
        (ContactFilter(lifecycle_stages=("lead",)), ["1", "11"]),
        (ContactFilter(lifecycle_stages=("lead", "customer")), ["1", "2", "11"]),
        (ContactFilter(lifecycle_stages=(NO_STAGE,)), ["3", "13"]),
        (ContactFilter(lifecycle_stages=("partner", NO_STAGE)), ["3", "12", "13"]),
        (ContactFilter(created_from=date(2025, 2, 1), created_to=date(2025, 2, 28)), ["2", "3"]),
        (ContactFilter(created_to=date(2024, 12, 31)), ["9", "10"]),
        (ContactFilter(created_from=date(2026, 1, 1)), ["11", "12", "13"]),
        (ContactFilter(modified_from=date(2026, 11, 20)), ["1", "3", "11"]),
        (ContactFilter(modified_to=date(2024, 1, 1)), ["9"]),
        (ContactFilter(modified_from=date(2026, 11, 21), modified_to=date(2026, 11, 26)), ["11"]),
        (ContactFilter(has_email=True), ["1", "2", "9", "10", "11", "13"]),
        (ContactFilter(has_email=False), ["3", "12"]),
        (ContactFilter(list_ids=("101",)), ["1", "2"]),
        (ContactFilter(list_ids=("101", "102"), archived="include"), ["1", "2", "100"]),
        (ContactFilter(list_ids=("999",)), []),
    ],
    ids=lambda value: value.describe() if isinstance(value, ContactFilter) else None,
)
def test_each_filter_keeps_exactly_the_matching_contacts(
    people: Database, plans: str, flt: ContactFilter, expected: list[str]
) -> None:
    assert ids(people, flt) == expected


@pytest.mark.parametrize(
    ("flt", "expected"),
    [
        (ContactFilter(segments=("chainge",), search="dave"), ["11"]),
        (ContactFilter(segments=("engaged",), lifecycle_stages=("lead",)), ["1", "11"]),
        (ContactFilter(segments=("engaged",), has_email=False), ["3"]),
        (
            ContactFilter(
                segments=("chainge", "cold"), segment_match="all", list_ids=("101", "102")
            ),
            ["2"],
        ),
        (ContactFilter(search="lee", modified_from=date(2026, 11, 21)), ["11"]),
        (
            ContactFilter(search="a", lifecycle_stages=("lead",), created_to=date(2025, 12, 31)),
            ["1"],
        ),
        (ContactFilter(search="acme", archived="only", list_ids=("102",)), ["100"]),
        (
            ContactFilter(
                segments=("engaged", "cold"),
                lifecycle_stages=("lead", NO_STAGE),
                has_email=True,
                created_from=date(2025, 1, 1),
            ),
            ["1", "11"],
        ),
    ],
    ids=lambda value: value.describe() if isinstance(value, ContactFilter) else None,
)
def test_filters_combine_with_and(
    people: Database, plans: str, flt: ContactFilter, expected: list[str]
) -> None:
    assert ids(people, flt) == expected


@pytest.mark.parametrize(
    "term",
    [
        "'; DROP TABLE contacts; --",
        '" OR 1=1 --',
        "') OR ('1'='1",
        "\\",
        "%%",
        "a%b",
        "[a-z]*",
    ],
)
def test_injection_strings_in_search_match_literally_and_change_nothing(
    people: Database, term: str
) -> None:
    assert ids(people, ContactFilter(search=term)) == []
    assert count_contacts(people, ContactFilter(archived="include")) == 9


def test_like_wildcards_in_search_are_literal(people: Database) -> None:
    # Only "100% Natural_Foods" holds a "%" or an "_".
    assert ids(people, ContactFilter(search="%")) == ["3"]
    assert ids(people, ContactFilter(search="_")) == ["3"]
    assert ids(people, ContactFilter(search="0% n")) == ["3"]
    assert ids(people, ContactFilter(search="l_f")) == ["3"]  # "l_F" in "Natural_Foods"


def test_search_never_matches_across_two_fields(people: Database, plans: str) -> None:
    # Bob: email "bob@chainge.io", company "Chainge Labs", name "Bob Stone".
    assert ids(people, ContactFilter(search="io chainge")) == []
    assert ids(people, ContactFilter(search="chainge.iochainge")) == []
    assert ids(people, ContactFilter(search="labsbob")) == []
    assert ids(people, ContactFilter(search="bob stone")) == ["2"]  # the full name is a field
    # The character joining the fields in the search index, typed in a search.
    add_contact(people, "501", email="x@ab", company="cd", firstname="E")
    assert ids(people, ContactFilter(search="ab\x1fcd")) == []
    add_contact(people, "502", company="ab\x1fcd")
    assert ids(people, ContactFilter(search="ab\x1fcd")) == ["502"]


def test_non_ascii_search_finds_either_case(people: Database) -> None:
    add_contact(people, "503", lastname="MÜLLER")
    add_contact(people, "504", company="Müller GmbH")
    add_contact(people, "505", email="x@müller.de")
    for term in ("müller", "MÜLLER", "Müller", "mÜller"):
        assert ids(people, ContactFilter(search=term)) == ["503", "504", "505"], term


def test_sqlite_search_reads_the_search_index(sqlite_db: Database) -> None:
    add_people(sqlite_db)
    stmts: list[tuple[str, Any]] = []

    def record(conn: Any, cursor: Any, statement: str, parameters: Any, *args: Any) -> None:
        stmts.append((statement, parameters))

    sa.event.listen(sqlite_db.engine, "before_cursor_execute", record)
    try:
        explore(sqlite_db, ContactFilter(search="acme"), facets=FACETS)
    finally:
        sa.event.remove(sqlite_db.engine, "before_cursor_execute", record)
    scans = [(sql, params) for sql, params in stmts if "INDEXED BY ix_contacts_search" in sql]
    assert len(scans) == 1  # one scan, its hits carried to every other statement
    with sqlite_db.connect() as conn:
        plan = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + scans[0][0], scans[0][1]).all()
    assert "ix_contacts_search" in " ".join(str(row) for row in plan)


def test_search_is_trimmed_and_blank_search_filters_nothing(people: Database) -> None:
    assert ContactFilter(search="  acme ").search == "acme"
    assert ContactFilter(search="   ").search is None
    assert ids(people, ContactFilter(search=" \t")) == LIVE_IDS
