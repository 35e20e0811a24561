"""Validation of names, definitions and rules, with messages that name the place."""

from __future__ import annotations

import pytest

from hubsync_core.segments import (
    Condition,
    Group,
    SegmentDef,
    SegmentError,
    validate_definition,
    validate_rule,
)

from .helpers import one, seg


@pytest.mark.parametrize(
    ("definition", "message"),
    [
        (seg(""), "name is empty"),
        (seg("   "), "name is empty"),
        (seg(" EU"), "must not start or end with a space"),
        (seg("EU/leads"), "characters not allowed ('/')"),
        (seg("x" * 61), "longer than 60"),
        (seg("--"), "at least one letter or digit"),
        (seg("Cold"), "reserved for the built-in segment 'cold'"),
        (seg("High-Value"), "reserved for the built-in segment 'high_value'"),
        (seg("mine", builtin=True), "not a built-in segment"),
        (seg(colour="red"), 'colour must look like "#4C78A8"'),
        (seg(rule=Group("all", [])), "The rule is empty"),
        (seg(rule=Group("both", [Condition("email", "eq", "x")])), "match must be 'all' or 'any'"),
        (seg(rule=one("country", "eq", "DE")), "unknown field 'country'"),
        (seg(rule=one("properties.a b", "eq", "x")), "is not a property name"),
        (seg(rule=one("email", "like", "x")), "unknown op 'like'"),
        (seg(rule=one("email", "eq", "")), "non-empty text"),
        (seg(rule=one("email", "eq", ["a"])), "non-empty text"),
        (seg(rule=one("email", "in", "DE")), "non-empty list of texts"),
        (seg(rule=one("email", "in", [])), "non-empty list of texts"),
        (seg(rule=one("email", "is_empty", "x")), "takes no value"),
        (seg(rule=one("email", "eq", "x", "y")), "value2 is only used by 'between'"),
        (seg(rule=one("created_at", "gt", "yesterday")), "bad date 'yesterday'"),
        (seg(rule=one("created_at", "gt", "2025-02-30")), "bad date '2025-02-30': no such date"),
        (seg(rule=one("created_at", "contains", "2025")), "'contains' does not apply to a date"),
        (seg(rule=one("properties.n", "gt", True)), "must be a number or a date"),
        (seg(rule=one("properties.n", "between", 5, 1)), "between needs value <= value2"),
        (seg(rule=one("properties.n", "between", 1, "x")), "value2 must be a number"),
        (seg(rule=one("updated_at", "within_last_days", 0)), "whole number of days"),
        (seg(rule=one("updated_at", "within_last_days", 1.5)), "whole number of days"),
        (seg(rule=one("updated_at", "more_than_days_ago", "30")), "whole number of days"),
        (seg(rule=one("email", "within_last_days", 3)), "day windows apply to"),
        (seg(rule=one("list", "eq", "1")), "op 'in_list'"),
        (seg(rule=one("email", "in_list", "1")), "op 'in_list'"),
        (seg(rule=one("list", "in_list", "abc")), "HubSpot list id"),
    ],
)
def test_invalid_definitions_are_refused_with_clear_messages(
    definition: SegmentDef, message: str
) -> None:
    with pytest.raises(SegmentError) as info:
        validate_definition(definition)
    assert message in str(info.value)


def test_error_names_the_place_of_the_bad_condition() -> None:
    rule = Group("all", [Condition("email", "eq", "a"), Group("any", [Condition("x", "eq", "b")])])
    with pytest.raises(SegmentError, match=r"Condition 2\.1 \(x eq\): unknown field 'x'"):
        validate_rule(rule)


def test_unknown_property_is_refused_with_a_suggestion() -> None:
    known = {"email", "properties.country", "properties.industry"}
    with pytest.raises(SegmentError, match=r"unknown property 'contry'.*'properties\.country'"):
        validate_definition(seg(rule=one("properties.contry", "eq", "DE")), known_properties=known)
    validate_definition(seg(rule=one("properties.country", "eq", "DE")), known_properties=known)
    validate_definition(
        seg(rule=one("properties.country", "eq", "DE")), known_properties={"country"}
    )


def test_duplicate_names_are_compared_by_key() -> None:
    with pytest.raises(SegmentError, match="already exists"):
        validate_definition(seg("EU leads"), existing_names=["eu-leads"])
    validate_definition(seg("EU leads 2"), existing_names=["eu-leads"])


def test_nesting_deeper_than_five_is_refused() -> None:
    def nested(depth: int) -> Group:
        group = Group("all", [Condition("email", "is_empty")])
        for _ in range(depth - 1):
            group = Group("any", [group])
        return group

    validate_rule(nested(5))
    with pytest.raises(SegmentError, match="nested more than 5 deep"):
        validate_rule(nested(6))


def test_empty_nested_group_is_refused() -> None:
    with pytest.raises(SegmentError, match=r"Group 2 is empty"):
        validate_rule(Group("all", [Condition("email", "is_empty"), Group("any", [])]))
