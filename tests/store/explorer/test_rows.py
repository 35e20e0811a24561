"""Pages and rows: sorting, paging, columns, memberships and capped totals.

Every test runs on SQLite and PostgreSQL (the shared `db` fixture).
"""

from __future__ import annotations

from datetime import datetime

import pytest

from hubsync_core.columns import NAMES
from hubsync_core.store.database import Database
from hubsync_core.store.explorer import (
    ContactFilter,
    count_contacts,
    format_count,
    get_contact,
    query_contacts,
)
from hubsync_core.store.property_options import replace_options

from ..contact_data import (
    LIVE_IDS,
    add_contact,
    ids,
)


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


def test_lifecycle_stage_sorts_in_hubspots_option_order(people: Database, plans: str) -> None:
    # HubSpot's pipeline order, as the properties API lists it; "partner" is not among the
    # options (a retired one, say): after every known stage, before empty values.
    stages = ["subscriber", "lead", "marketingqualifiedlead", "opportunity", "customer"]
    with people.transaction() as conn:
        replace_options(conn, [("lifecyclestage", v, v.title(), n) for n, v in enumerate(stages)])
    assert ids(people, ContactFilter(), sort="lifecyclestage") == [
        "9",  # subscriber
        "1",  # lead
        "11",  # lead
        "10",  # opportunity
        "2",  # customer
        "12",  # partner
        "3",  # none
        "13",  # ""
    ]
    assert ids(people, ContactFilter(), sort="lifecyclestage", descending=True) == [
        "2",
        "10",
        "11",
        "1",
        "9",
        "12",
        "13",
        "3",
    ]
    page = query_contacts(
        people, ContactFilter(), sort="lifecyclestage", descending=False, limit=2, offset=1
    )
    assert [row["hubspot_id"] for row in page.rows] == ["1", "11"]


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
    assert list(bob) == list(NAMES)
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
