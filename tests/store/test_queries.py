"""The read side of the store: filters, pages, sorting, counts, facets, one contact, SDK rows.

Every test runs on SQLite and PostgreSQL (the shared `db` fixture). The data helpers at the
top (`add_people` and friends) are shared with test_export.py and test_insights.py.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import date, datetime, timedelta, timezone
from enum import StrEnum
from typing import Any

import pytest
import sqlalchemy as sa

from hubsync_core.segments import SegmentDef, rule_from_dict
from hubsync_core.store import queries, segment_store
from hubsync_core.store.database import Database
from hubsync_core.store.models import (
    Contact,
    ContactSegmentRow,
    HubSpotList,
    ListMembership,
    SyncRun,
)
from hubsync_core.store.queries import (
    DEFAULT_COLUMNS,
    FACETS,
    MAX_SEARCH_LENGTH,
    NO_STAGE,
    QUERY_PARAM_KEYS,
    ContactFilter,
    count_contacts,
    explore,
    facet_counts,
    format_count,
    get_contact,
    hubspot_record_url,
    iso_z,
    known_segments,
    last_run,
    overview,
    parse_query_params,
    query_contacts,
    sdk_contacts,
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


# -- fixtures ---------------------------------------------------------------------------------


@pytest.fixture
def people(db: Database) -> Database:
    add_people(db)
    return db


@pytest.fixture(params=["default", "no-narrowing", "no-cubes", "short-windows"])
def plans(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run a test with the default plans and with each alternative forced, so every way of
    computing pages, totals and facets is held to the same answers: without carried search
    ids ("narrow" plans), without grouped passes (one statement per count), and with page
    windows so small that most come up short and fall back to the whole filter."""
    if request.param == "no-narrowing":
        monkeypatch.setattr(queries._Plan, "NARROW_LIMIT", 0)
    elif request.param == "no-cubes":
        monkeypatch.setattr(queries._Plan, "CUBES", False)
    elif request.param == "short-windows":
        monkeypatch.setattr(queries._Plan, "WINDOW_MIN", 1)
    return str(request.param)


@pytest.fixture(params=["default", "no-narrowing", "no-cubes"])
def count_plans(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """`plans` for tests of counts alone (page windows do not change a count)."""
    if request.param == "no-narrowing":
        monkeypatch.setattr(queries._Plan, "NARROW_LIMIT", 0)
    elif request.param == "no-cubes":
        monkeypatch.setattr(queries._Plan, "CUBES", False)
    return str(request.param)


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


# -- filters ----------------------------------------------------------------------------------


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


def test_filter_normalises_lists_and_rejects_bad_modes() -> None:
    flt = ContactFilter(segments=["b", "a", "b", ""], lifecycle_stages="lead")  # type: ignore[arg-type]
    assert flt.segments == ("b", "a")
    assert flt.lifecycle_stages == ("lead",)
    assert flt == ContactFilter(segments=("b", "a"), lifecycle_stages=("lead",))
    assert hash(flt) == hash(ContactFilter(segments=("b", "a"), lifecycle_stages=("lead",)))
    with pytest.raises(ValueError, match="segment_match"):
        ContactFilter(segment_match="some")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="archived"):
        ContactFilter(archived="yes")  # type: ignore[arg-type]
    assert ContactFilter(created_from=datetime(2026, 1, 2, 3, 4)).created_from == date(2026, 1, 2)


# -- pages and sorting ------------------------------------------------------------------------


def test_sort_by_id_is_numeric_in_both_directions(people: Database) -> None:
    flt = ContactFilter(archived="include")
    assert ids(people, flt) == [*LIVE_IDS, "100"]
    assert ids(people, flt, descending=True) == ["100", *reversed(LIVE_IDS)]


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        # Case-insensitive; empty and missing values last; ties broken by id.
        ("email", ["1", "2", "10", "11", "9", "13", "3", "12"]),
        ("lastname", ["10", "1", "11", "13", "9", "2", "3", "12"]),
        ("company", ["3", "1", "11", "2", "10", "9", "12", "13"]),
        ("lifecyclestage", ["2", "1", "11", "10", "12", "9", "3", "13"]),
        ("created_at", ["9", "10", "1", "2", "3", "11", "12", "13"]),
        ("updated_at", ["9", "10", "2", "13", "1", "11", "3", "12"]),
        ("phone", ["1", "2", "3", "9", "10", "11", "12", "13"]),
        ("jobtitle", ["1", "2", "3", "9", "10", "11", "12", "13"]),
    ],
)
def test_sort_orders_by_the_column_then_by_id(
    people: Database, plans: str, sort: str, expected: list[str]
) -> None:
    assert ids(people, ContactFilter(), sort=sort) == expected


def test_firstname_sort_ignores_case(people: Database) -> None:
    add_contact(people, "14", email="zed@x.io", firstname="bea")
    flt = ContactFilter(has_email=True)  # no Émile: where accents sort depends on collation
    assert ids(people, flt, sort="firstname") == ["1", "14", "2", "10", "11", "9", "13"]


def test_descending_sort_reverses_values_and_ties_but_keeps_missing_last(people: Database) -> None:
    # lastname: Díaz, Lee (1), Lee (11), Nguyen, O'Hara, Stone, Zola, then Eve (none) last.
    assert ids(people, ContactFilter(), sort="lastname", descending=True) == [
        "3",
        "2",
        "9",
        "13",
        "11",
        "1",
        "10",
        "12",
    ]
    assert ids(people, ContactFilter(), sort="updated_at", descending=True)[-1] == "12"


def test_unknown_sort_or_column_is_refused(people: Database) -> None:
    with pytest.raises(ValueError, match="sort"):
        query_contacts(people, ContactFilter(), sort="properties")
    with pytest.raises(ValueError, match="sort"):
        query_contacts(people, ContactFilter(), sort="email; DROP TABLE contacts")
    with pytest.raises(ValueError, match="column"):
        query_contacts(people, ContactFilter(), columns=["email", "bad name!"])


@pytest.mark.parametrize(
    ("limit", "offset", "expected", "has_next"),
    [
        (3, 0, ["1", "2", "3"], True),
        (3, 3, ["9", "10", "11"], True),
        (3, 6, ["12", "13"], False),  # the last, partial page
        (3, 8, [], False),  # just past the end
        (3, 100, [], False),  # far past the end
        (1, 0, ["1"], True),
        (1, 7, ["13"], False),
        (0, 0, [], True),
        (8, 0, LIVE_IDS, False),
        (50, 0, LIVE_IDS, False),
    ],
)
def test_pages_cut_the_sorted_result_and_always_give_the_total(
    people: Database, plans: str, limit: int, offset: int, expected: list[str], has_next: bool
) -> None:
    page = query_contacts(
        people, ContactFilter(), sort="hubspot_id", descending=False, limit=limit, offset=offset
    )
    assert [row["hubspot_id"] for row in page.rows] == expected
    assert page.total == 8
    assert (page.limit, page.offset, page.sort, page.descending) == (
        limit,
        offset,
        "hubspot_id",
        False,
    )
    assert page.has_next is has_next


def test_page_numbers_follow_limit_and_offset(people: Database) -> None:
    page = query_contacts(people, ContactFilter(), limit=3, offset=6)
    assert (page.page_number, page.page_count) == (3, 3)
    assert query_contacts(people, ContactFilter(search="zzz"), limit=3).page_count == 1


def test_negative_limit_or_offset_is_refused(people: Database) -> None:
    with pytest.raises(ValueError, match="limit"):
        query_contacts(people, ContactFilter(), limit=-1)
    with pytest.raises(ValueError, match="offset"):
        query_contacts(people, ContactFilter(), offset=-5)


def test_rows_carry_fields_segments_and_list_names(people: Database) -> None:
    page = query_contacts(people, ContactFilter(segments=("chainge",)), sort="hubspot_id")
    bob = next(row for row in page.rows if row["hubspot_id"] == "2")
    assert list(bob) == list(DEFAULT_COLUMNS)
    assert bob["email"] == "bob@chainge.io"
    assert bob["company"] == "Chainge Labs"
    assert bob["segments"] == ["chainge", "cold", "high_value"]
    assert bob["list_memberships"] == ["Newsletter", "Webinar"]
    assert bob["created_at"] == datetime(2025, 2, 1)
    assert bob["updated_at"] == datetime(2026, 6, 1, 8)
    assert bob["archived"] is False
    dave = next(row for row in page.rows if row["hubspot_id"] == "11")
    assert dave["list_memberships"] == []


def test_chosen_columns_include_properties_by_name(people: Database) -> None:
    page = query_contacts(
        people,
        ContactFilter(list_ids=("101",)),
        sort="hubspot_id",
        descending=False,
        columns=["email", "country", "segments", "properties"],
    )
    assert page.rows[0] == {
        "email": "ann@acme.io",
        "country": "DE",
        "segments": ["engaged"],
        "properties": page.rows[0]["properties"],
    }
    assert page.rows[0]["properties"]["country"] == "DE"
    assert [row["country"] for row in page.rows] == ["DE", "FR"]


def test_a_list_without_a_stored_name_shows_its_id(people: Database) -> None:
    add_contact(people, "500", email="x@y.z", lists=["777"])
    assert get_contact(people, "500")["list_memberships"] == ["777"]  # type: ignore[index]


def test_capped_count_stops_after_the_cap(people: Database) -> None:
    assert count_contacts(people, ContactFilter(), cap=3) == 4
    assert count_contacts(people, ContactFilter(), cap=8) == 8
    assert count_contacts(people, ContactFilter(), cap=100) == 8
    assert format_count(4, 3) == ">3"
    assert format_count(1234) == "1,234"
    page = query_contacts(people, ContactFilter(), limit=2, count_cap=5)
    assert (page.total, page.total_capped) == (6, True)
    page = query_contacts(people, ContactFilter(), limit=2, count_cap=50)
    assert (page.total, page.total_capped) == (8, False)


# -- facets -----------------------------------------------------------------------------------


def facet(db: Database, flt: ContactFilter, name: str) -> dict[str, int]:
    return {f.value: f.count for f in facet_counts(db, flt, name)}  # type: ignore[arg-type]


def test_segment_facet_counts_live_members_of_every_known_segment(people: Database) -> None:
    found = facet_counts(people, ContactFilter(), "segment")
    assert [(f.value, f.count, f.selected) for f in found] == [
        ("chainge", 2, False),
        ("engaged", 3, False),
        ("cold", 3, False),
        ("high_value", 2, False),
    ]


def test_segment_facet_ignores_the_segment_selection_and_marks_it(people: Database) -> None:
    flt = ContactFilter(segments=("chainge", "cold"), segment_match="all")
    found = facet_counts(people, flt, "segment")
    assert {f.value: f.count for f in found} == facet(people, ContactFilter(), "segment")
    assert [f.value for f in found if f.selected] == ["chainge", "cold"]


def test_segment_facet_follows_the_rest_of_the_filter(people: Database, count_plans: str) -> None:
    assert facet(people, ContactFilter(search="lee"), "segment") == {
        "chainge": 1,
        "engaged": 2,
        "cold": 0,
        "high_value": 0,
    }
    assert facet(people, ContactFilter(archived="only"), "segment")["high_value"] == 1
    assert facet(people, ContactFilter(archived="include"), "segment")["high_value"] == 3


def test_segment_facet_lists_stored_keys_and_user_segment_names(people: Database) -> None:
    rule = rule_from_dict(
        {"match": "all", "items": [{"field": "lifecyclestage", "op": "eq", "value": "lead"}]}
    )
    segment_store.save_definition(
        people, SegmentDef(name="EU leads", colour="#123456", rule=rule), known_properties=None
    )
    add_members(people, "eu_leads", ["1"])
    add_members(people, "zz_left_over", ["2", "100"])
    found = facet_counts(people, ContactFilter(), "segment")
    assert [(f.value, f.label, f.count) for f in found][4:] == [
        ("eu_leads", "EU leads", 1),
        ("zz_left_over", "zz_left_over", 1),
    ]
    assert known_segments(people)[4:] == [
        ("eu_leads", "EU leads"),
        ("zz_left_over", "zz_left_over"),
    ]


def test_a_selected_unknown_segment_still_shows_with_zero(people: Database) -> None:
    found = facet_counts(people, ContactFilter(segments=("ghost",)), "segment")
    assert (found[-1].value, found[-1].count, found[-1].selected) == ("ghost", 0, True)


def test_lifecycle_facet_in_funnel_order_then_custom_then_none(people: Database) -> None:
    found = facet_counts(people, ContactFilter(lifecycle_stages=("lead",)), "lifecycle")
    assert [(f.value, f.count, f.selected) for f in found] == [
        ("subscriber", 1, False),
        ("lead", 2, True),
        ("opportunity", 1, False),
        ("customer", 1, False),
        ("partner", 1, False),
        (NO_STAGE, 2, False),
    ]
    assert found[-1].label == "No stage"


def test_list_facet_counts_members_by_list_name(people: Database) -> None:
    found = facet_counts(people, ContactFilter(list_ids=("102",)), "list")
    assert [(f.value, f.label, f.count, f.selected) for f in found] == [
        ("101", "Newsletter", 2, False),
        ("102", "Webinar", 1, True),
    ]


def test_unknown_facet_is_refused(people: Database) -> None:
    with pytest.raises(ValueError, match="facet"):
        facet_counts(people, ContactFilter(), "colour")  # type: ignore[arg-type]


FACET_FILTERS = [
    ContactFilter(),
    ContactFilter(archived="include"),
    ContactFilter(archived="only"),
    ContactFilter(segments=("engaged",)),
    ContactFilter(segments=("cold", "high_value"), segment_match="all"),
    ContactFilter(search="e"),
    ContactFilter(search="lee", segments=("chainge",)),
    ContactFilter(has_email=True),
    ContactFilter(has_email=True, lifecycle_stages=("lead", "customer")),
    ContactFilter(lifecycle_stages=(NO_STAGE,), archived="include"),
    ContactFilter(list_ids=("101", "102"), archived="include"),
    ContactFilter(created_from=date(2025, 1, 1), modified_to=date(2026, 11, 21)),
    # Combinations: each facet ignores its own selection and keeps every other one.
    ContactFilter(segments=("chainge", "cold"), list_ids=("101",)),
    ContactFilter(segments=("cold", "high_value"), segment_match="all", list_ids=("102",)),
    ContactFilter(segments=("engaged", "cold"), lifecycle_stages=("lead", NO_STAGE)),
    ContactFilter(list_ids=("101",), lifecycle_stages=("customer",), archived="include"),
    ContactFilter(search="a", segments=("high_value",), list_ids=("101", "102")),
    ContactFilter(search="a", lifecycle_stages=("lead", "opportunity"), has_email=True),
    ContactFilter(created_from=date(2025, 1, 1), lifecycle_stages=("lead",)),
    ContactFilter(has_email=False, lifecycle_stages=(NO_STAGE, "partner")),
    ContactFilter(modified_from=date(2026, 1, 1), segments=("engaged",), list_ids=("101",)),
    ContactFilter(segments=("high_value",), archived="only", list_ids=("102",)),
]


@pytest.mark.parametrize("flt", FACET_FILTERS, ids=[f.describe() for f in FACET_FILTERS])
def test_each_facet_count_equals_the_total_of_picking_that_option(
    people: Database, count_plans: str, flt: ContactFilter
) -> None:
    for f in facet_counts(people, flt, "segment"):
        picked = replace(flt, segments=(f.value,), segment_match="any")
        assert f.count == count_contacts(people, picked), f.value
    for f in facet_counts(people, flt, "lifecycle"):
        assert f.count == count_contacts(people, replace(flt, lifecycle_stages=(f.value,)))
    for f in facet_counts(people, flt, "list"):
        assert f.count == count_contacts(people, replace(flt, list_ids=(f.value,)))


@pytest.mark.parametrize("flt", FACET_FILTERS, ids=[f.describe() for f in FACET_FILTERS])
def test_explore_gives_the_page_total_and_facets_of_the_separate_calls(
    people: Database, plans: str, flt: ContactFilter
) -> None:
    found = explore(people, flt, sort="email", limit=3, offset=1, facets=FACETS)
    assert found.page == query_contacts(people, flt, sort="email", limit=3, offset=1)
    for name in FACETS:
        assert found.facets[name] == facet_counts(people, flt, name)  # type: ignore[arg-type]


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


def test_facets_on_an_empty_database_show_the_built_ins_with_zero(db: Database) -> None:
    assert facet(db, ContactFilter(), "segment") == {
        "chainge": 0,
        "engaged": 0,
        "cold": 0,
        "high_value": 0,
    }
    assert facet_counts(db, ContactFilter(), "lifecycle") == []
    assert facet_counts(db, ContactFilter(), "list") == []
    assert query_contacts(db, ContactFilter()).total == 0


# -- one contact, SDK, overview ---------------------------------------------------------------


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


def test_hubspot_record_url_points_at_the_contact() -> None:
    assert hubspot_record_url(123, "45") == "https://app.hubspot.com/contacts/123/record/0-1/45"


class Segment(StrEnum):
    CHAINGE = "chainge"


def test_sdk_contacts_has_the_original_specs_shape(people: Database) -> None:
    result = sdk_contacts(people, segment=Segment.CHAINGE, limit=1, offset=1)
    assert set(result) == {"contacts", "total", "limit", "offset", "segment"}
    assert (result["total"], result["limit"], result["offset"], result["segment"]) == (
        2,
        1,
        1,
        "chainge",
    )
    (dave,) = result["contacts"]
    assert dave == {
        "email": "dave@chainge.io",
        "firstname": "Dave",
        "lastname": "Lee",
        "company": "CHAINGE",
        "phone": None,
        "jobtitle": None,
        "hubspot_id": "11",
        "list_memberships": [],
        "segments": ["chainge", "engaged"],
        "properties": dave["properties"],
        "created_at": "2026-03-05T10:00:00Z",
        "updated_at": "2026-11-25T09:30:00Z",
        "synced_at": "2026-11-28T12:00:00Z",
        "lifecyclestage": "lead",
        "archived": False,
    }
    assert dave["properties"]["company"] == "CHAINGE"


def test_sdk_contacts_pages_live_contacts_by_id_and_searches(people: Database) -> None:
    result = sdk_contacts(people)
    assert [c["hubspot_id"] for c in result["contacts"]] == LIVE_IDS
    assert (result["total"], result["segment"]) == (8, None)
    assert [c["hubspot_id"] for c in sdk_contacts(people, search="acme")["contacts"]] == ["1"]
    assert sdk_contacts(people, segment="cold", limit=0) == {
        "contacts": [],
        "total": 3,
        "limit": 0,
        "offset": 0,
        "segment": "cold",
    }
    assert sdk_contacts(people, offset=50)["contacts"] == []
    assert sdk_contacts(people)["contacts"][2]["email"] is None  # kept without an email
    with pytest.raises(ValueError):
        sdk_contacts(people, limit=-1)


def test_iso_z_writes_utc_with_a_z() -> None:
    assert iso_z(datetime(2024, 1, 23, 10, 0)) == "2024-01-23T10:00:00Z"
    assert iso_z(datetime(2024, 1, 23, 10, 0, 0, 123456)) == "2024-01-23T10:00:00.123Z"
    assert iso_z(datetime(2024, 1, 23, 11, 0, tzinfo=timezone(timedelta(hours=1)))) == (
        "2024-01-23T10:00:00Z"
    )
    assert iso_z(None) is None


def test_overview_counts_live_archived_and_emailless_contacts(people: Database) -> None:
    add_run(people, status="failed", started_at=d("2026-11-27T10:00:00"))
    good = add_run(people, status="succeeded", started_at=d("2026-11-28T09:00:00"), contacts=9)
    latest = add_run(people, status="partial", started_at=d("2026-11-28T11:00:00"), errors=2)
    found = overview(people)
    assert (found.total, found.archived, found.without_email, found.lists) == (8, 1, 2, 2)
    assert found.by_segment == {"chainge": 2, "engaged": 3, "cold": 3, "high_value": 2}
    assert found.segment_names["high_value"] == "high_value"
    assert found.last_synced_at == SYNCED
    assert found.last_run is not None and found.last_run.id == latest
    assert (found.last_run.status, found.last_run.errors) == ("partial", 2)
    assert found.last_success is not None and found.last_success.id == good
    assert found.last_success.contacts == 9
    assert found.is_empty is False
    assert last_run(people, statuses=["failed"]).started_at == d("2026-11-27T10:00:00")  # type: ignore[union-attr]


def test_overview_of_an_empty_database(db: Database) -> None:
    found = overview(db)
    assert found.is_empty
    assert (found.total, found.archived, found.without_email, found.lists) == (0, 0, 0, 0)
    assert found.last_run is None and found.last_success is None
    assert found.last_synced_at is None
    assert last_run(db) is None


# -- URL parameters, labels, slugs ------------------------------------------------------------

FULL = ContactFilter(
    segments=("chainge", "eu_leads"),
    segment_match="all",
    search="Ann Lee & co",
    lifecycle_stages=("lead", NO_STAGE),
    created_from=date(2025, 1, 1),
    created_to=date(2025, 12, 31),
    modified_from=date(2026, 11, 1),
    modified_to=date(2026, 11, 28),
    has_email=False,
    archived="include",
    list_ids=("101", "102"),
)


@pytest.mark.parametrize(
    "flt",
    [
        ContactFilter(),
        FULL,
        ContactFilter(segments=("chainge",)),
        ContactFilter(has_email=True, archived="only"),
        ContactFilter(search="'; DROP TABLE contacts; --"),
    ],
)
def test_filters_survive_a_round_trip_through_url_parameters(flt: ContactFilter) -> None:
    params = flt.to_query_params()
    assert ContactFilter.from_query_params(params) == flt
    assert parse_query_params(params) == (flt, [])
    assert set(params) <= set(QUERY_PARAM_KEYS)
    for value in params.values():
        assert isinstance(value, str) or all(isinstance(v, str) for v in value)


def test_default_filter_has_no_url_parameters() -> None:
    assert ContactFilter().to_query_params() == {}
    assert ContactFilter(segments=("chainge",)).to_query_params() == {"segment": ["chainge"]}


def test_bad_url_values_are_ignored_with_a_warning() -> None:
    flt, warnings = parse_query_params(
        {
            "segment": "chainge",
            "match": "most",
            "created_from": "2026-13-01",
            "created_to": "yesterday",
            "has_email": "maybe",
            "archived": "sometimes",
            "q": "x" * 500,
            "page": "3",  # the page's own key: left alone, no warning
        }
    )
    assert flt == ContactFilter(segments=("chainge",), search="x" * MAX_SEARCH_LENGTH)
    assert len(warnings) == 6
    assert any("created_from" in w for w in warnings)


def test_url_values_are_read_from_lists_and_from_get_all() -> None:
    class QueryParams(dict):  # what st.query_params offers: [] gives the last, get_all all
        def __getitem__(self, key: str) -> str:
            return super().__getitem__(key)[-1]

        def get_all(self, key: str) -> list[str]:
            return list(super().__getitem__(key))

    params = QueryParams({"segment": ["chainge", "cold"], "stage": ["lead"], "q": ["a", "b"]})
    flt, warnings = parse_query_params(params)
    assert (flt.segments, flt.lifecycle_stages, flt.search, warnings) == (
        ("chainge", "cold"),
        ("lead",),
        "b",
        [],
    )
    assert parse_query_params({"has_email": ["no"], "archived": "ONLY"})[0] == ContactFilter(
        has_email=False, archived="only"
    )


def test_reversed_date_range_is_kept_and_flagged() -> None:
    flt, warnings = parse_query_params({"created_from": "2026-02-01", "created_to": "2026-01-01"})
    assert flt.created_from == date(2026, 2, 1) and flt.created_to == date(2026, 1, 1)
    assert warnings == ["created_from is after created_to: nothing can match."]


def test_describe_reads_like_a_label() -> None:
    assert ContactFilter().describe() == "All contacts"
    assert ContactFilter(archived="only").describe() == "Archived only"
    assert ContactFilter(segments=("chainge",), search="acme").describe() == (
        "Segment chainge · search “acme”"
    )
    assert FULL.describe() == (
        "Segments chainge and eu_leads · search “Ann Lee & co” · stages lead or (none) · "
        "created 2025-01-01 to 2025-12-31 · modified 2026-11-01 to 2026-11-28 · without email · "
        "in lists 101, 102 · archived included"
    )


def test_slug_is_short_ascii_for_file_names() -> None:
    assert ContactFilter().slug() == "all"
    assert ContactFilter(segments=("chainge",)).slug() == "chainge"
    assert ContactFilter(segments=("chainge", "engaged")).slug() == "chainge-engaged"
    assert ContactFilter(search="Émile Zola!").slug() == "search-emile-zola"
    assert ContactFilter(search="'; DROP TABLE x; --").slug() == "search-drop-table-x"
    assert ContactFilter(search="日本").slug() == "search"
    slug = FULL.slug()
    assert len(slug) <= 60 and slug.startswith("chainge-eu-leads-all-search-ann-lee")
    assert slug.replace("-", "").isalnum()
