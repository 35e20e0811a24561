"""Facet counts: every option's count is what picking it would give.

Every test runs on SQLite and PostgreSQL (the shared `db` fixture).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from hubsync_core.segments import SegmentDef, rule_from_dict
from hubsync_core.store import segment_store
from hubsync_core.store.database import Database
from hubsync_core.store.explorer import (
    FACETS,
    NO_STAGE,
    ContactFilter,
    count_contacts,
    explore,
    facet_counts,
    known_segments,
    query_contacts,
)

from ..contact_data import (
    add_members,
)


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
