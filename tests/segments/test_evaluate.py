"""Evaluation in Python: each operator, groups, and segment membership."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import pytest

from hubsync_core.segments import (
    Condition,
    Group,
    SegmentDef,
    builtin_segments,
    matches,
    segments_for,
)

from .helpers import REF, one


def test_eq_and_neq_ignore_ascii_case_and_neq_holds_for_empty_values() -> None:
    assert matches(one("company", "eq", "acme"), {"company": "ACME"}, REF)
    assert not matches(one("company", "eq", "acme"), {"company": "acme inc"}, REF)
    assert matches(one("company", "neq", "acme"), {"company": None}, REF)
    assert matches(one("company", "neq", "acme"), {}, REF)
    assert not matches(one("company", "neq", "acme"), {"company": "Acme"}, REF)


def test_case_folding_is_ascii_only() -> None:
    assert matches(one("company", "eq", "ÄPFEL"), {"company": "Äpfel"}, REF)
    assert not matches(one("company", "eq", "äpfel"), {"company": "Äpfel"}, REF)


def test_contains_and_starts_with_treat_wildcards_literally() -> None:
    assert matches(one("company", "contains", "100%"), {"company": "Acme 100% real"}, REF)
    assert not matches(one("company", "contains", "%"), {"company": "Acme"}, REF)
    assert matches(one("company", "starts_with", "ac"), {"company": "ACME"}, REF)
    assert not matches(one("company", "starts_with", "_cme"), {"company": "ACME"}, REF)


def test_in_matches_any_listed_value() -> None:
    rule = one("properties.country", "in", ["DE", "FR"])
    assert matches(rule, {"properties": {"country": "fr"}}, REF)
    assert not matches(rule, {"properties": {"country": "US"}}, REF)
    assert not matches(rule, {"properties": {}}, REF)


def test_is_empty_covers_missing_null_and_empty_text() -> None:
    rule = one("properties.country", "is_empty")
    for props in ({}, {"country": None}, {"country": ""}):
        assert matches(rule, {"properties": props}, REF)
        assert not matches(one("properties.country", "is_not_empty"), {"properties": props}, REF)
    assert not matches(rule, {"properties": {"country": "DE"}}, REF)


@pytest.mark.parametrize(
    ("stored", "expected"),
    [("50", True), ("41", False), ("abc", False), ("", False), (None, False), (42.5, True)],
)
def test_gt_compares_numerically_and_skips_non_numbers(stored: Any, expected: bool) -> None:
    rule = one("properties.employees", "gt", 42)
    assert matches(rule, {"properties": {"employees": stored}}, REF) is expected


def test_lt_and_between_on_numbers_are_inclusive_where_documented() -> None:
    assert matches(one("properties.n", "lt", 0), {"properties": {"n": "-3"}}, REF)
    between = one("properties.n", "between", 10, 20)
    assert matches(between, {"properties": {"n": "10"}}, REF)
    assert matches(between, {"properties": {"n": "20.0"}}, REF)
    assert not matches(between, {"properties": {"n": "20.5"}}, REF)


def test_numeric_eq_compares_values_not_text() -> None:
    assert matches(one("properties.n", "eq", 7), {"properties": {"n": "007"}}, REF)
    assert not matches(one("properties.n", "eq", "7"), {"properties": {"n": "007"}}, REF)


def test_date_ops_on_columns() -> None:
    at = datetime(2025, 6, 1, 23, 59, 59)
    contact = {"created_at": at}
    assert matches(one("created_at", "eq", "2025-06-01"), contact, REF)
    assert not matches(one("created_at", "eq", "2025-06-02"), contact, REF)
    assert matches(one("created_at", "between", "2025-05-01", "2025-06-01"), contact, REF)
    assert not matches(
        one("created_at", "between", "2025-05-01", "2025-06-01T12:00:00"), contact, REF
    )
    assert matches(one("created_at", "gt", "2025-06-01T12:00:00"), contact, REF)
    assert matches(one("created_at", "lt", "2025-06-02"), contact, REF)
    assert matches(one("created_at", "is_empty"), {"created_at": None}, REF)
    assert matches(one("created_at", "neq", "2025-06-02"), {"created_at": None}, REF)


def test_timezone_offsets_in_values_are_converted_to_utc() -> None:
    contact = {"created_at": datetime(2025, 6, 1, 10, 0)}
    assert matches(one("created_at", "eq", "2025-06-01T12:00:00+02:00"), contact, REF)


def test_date_windows_on_properties() -> None:
    within = one("properties.renewal", "within_last_days", 30)
    assert matches(within, {"properties": {"renewal": "2026-01-30T12:00:00.000Z"}}, REF)
    assert not matches(within, {"properties": {"renewal": "2026-01-30T11:59:59Z"}}, REF)
    assert matches(within, {"properties": {"renewal": "2026-02-20"}}, REF)
    assert not matches(within, {"properties": {"renewal": "soon"}}, REF)
    ago = one("properties.renewal", "more_than_days_ago", 365)
    assert matches(ago, {"properties": {"renewal": "2025-01-01 08:30:00"}}, REF)


def test_in_list_uses_the_contacts_list_ids() -> None:
    rule = one("list", "in_list", "42")
    assert matches(rule, {}, REF, {"42", "7"})
    assert not matches(rule, {}, REF, set())


def test_groups_nest_with_all_and_any() -> None:
    rule = Group(
        "any",
        [
            Group(
                "all",
                [
                    Condition("company", "contains", "acme"),
                    Condition("lifecyclestage", "eq", "lead"),
                ],
            ),
            Condition("email", "starts_with", "vip"),
        ],
    )
    assert matches(rule, {"company": "Acme", "lifecyclestage": "Lead"}, REF)
    assert not matches(rule, {"company": "Acme", "lifecyclestage": "customer"}, REF)
    assert matches(rule, {"email": "VIP@x.test"}, REF)


def test_properties_may_arrive_as_json_text() -> None:
    assert matches(one("properties.a", "eq", "b"), {"properties": json.dumps({"a": "B"})}, REF)


def test_segments_for_returns_keys_in_definition_order() -> None:
    user = SegmentDef("EU leads", "#123456", one("properties.country", "in", ["DE", "FR"]))
    contact = {
        "company": "Chainge",
        "lifecyclestage": "customer",
        "updated_at": REF - timedelta(days=1),
        "properties": {"country": "de"},
    }
    assert segments_for(contact, [*builtin_segments(), user], REF) == [
        "chainge",
        "engaged",
        "high_value",
        "eu_leads",
    ]
