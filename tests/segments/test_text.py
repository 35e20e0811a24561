"""Rules as text for people."""

from __future__ import annotations

from hubsync_core.segments import describe_rule

from .helpers import builtin


def test_describe_rule_reads_like_the_rule() -> None:
    text = describe_rule(builtin("chainge", chainge_list_id="5").rule)
    assert text == "company contains 'chainge' OR in list 5"
    assert describe_rule(builtin("cold").rule) == "updated_at 90 or more days ago"


def test_describe_rule_shows_option_labels_and_leaves_other_values() -> None:
    from hubsync_core.segments import Condition, Group

    rule = Group(
        "any",
        [
            Condition("lifecyclestage", "in", ["1088421376", "lead", "gone"]),
            Condition("lifecyclestage", "eq", "1088421376"),
            Condition("company", "contains", "1088421376"),
        ],
    )
    labels = {"lifecyclestage": {"1088421376": "Former customer", "lead": "Lead"}}

    assert describe_rule(rule, labels) == (
        "lifecyclestage in ['Former customer', 'Lead', 'gone'] OR "
        "lifecyclestage eq 'Former customer' OR company contains '1088421376'"
    )
    assert "1088421376" in describe_rule(rule).split(" OR ")[1]  # without labels: values
