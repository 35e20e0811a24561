"""The built-in segments: their rules, windows from settings, and the CHAINge list."""

from __future__ import annotations

from datetime import timedelta

import pytest

from hubsync_core.config import Settings
from hubsync_core.segments import (
    BUILTIN_KEYS,
    BuiltinParams,
    Condition,
    ContactSegment,
    SegmentError,
    builtin_segments,
    matches,
    segments_for,
)

from .helpers import REF, builtin


def test_contact_segment_enum_values_are_the_builtin_keys() -> None:
    assert [s.value for s in ContactSegment] == ["chainge", "engaged", "cold", "high_value"]
    assert ContactSegment.CHAINGE == "chainge"
    assert [s.name for s in builtin_segments()] == list(BUILTIN_KEYS)
    assert all(s.builtin and s.key == s.name for s in builtin_segments())


def test_engaged_includes_exactly_30_days_ago_and_excludes_a_moment_earlier() -> None:
    engaged = builtin("engaged").rule
    assert matches(engaged, {"updated_at": REF - timedelta(days=30)}, REF)
    assert not matches(engaged, {"updated_at": REF - timedelta(days=30, microseconds=1)}, REF)
    assert matches(engaged, {"updated_at": REF}, REF)
    assert matches(engaged, {"updated_at": REF + timedelta(hours=1)}, REF)  # clock skew


def test_cold_includes_exactly_90_days_ago_but_not_89_days_23_hours() -> None:
    cold = builtin("cold").rule
    assert matches(cold, {"updated_at": REF - timedelta(days=90)}, REF)
    assert matches(cold, {"updated_at": REF - timedelta(days=400)}, REF)
    assert not matches(cold, {"updated_at": REF - timedelta(days=89, hours=23)}, REF)


def test_contact_without_updated_at_is_neither_engaged_nor_cold() -> None:
    defs = builtin_segments()
    assert segments_for({"updated_at": None}, defs, REF) == []
    assert segments_for({}, defs, REF) == []


def test_windows_come_from_settings() -> None:
    defs = builtin_segments(Settings(engaged_days=7, cold_days=60))
    engaged, cold = defs[1], defs[2]
    assert engaged.rule.items == [Condition("updated_at", "within_last_days", 7)]
    assert cold.rule.items == [Condition("updated_at", "more_than_days_ago", 60)]
    assert not matches(engaged.rule, {"updated_at": REF - timedelta(days=8)}, REF)
    assert matches(cold.rule, {"updated_at": REF - timedelta(days=60)}, REF)
    assert builtin_segments({"engaged_days": 14})[1].rule.items[0].value == 14


def test_windows_must_be_positive_whole_days() -> None:
    with pytest.raises(SegmentError, match="engaged_days must be a whole number of days"):
        builtin_segments(BuiltinParams(engaged_days=0))


@pytest.mark.parametrize("company", ["Chainge", "CHAINGE Ltd", "the chAinGe group", "xchaingex"])
def test_chainge_matches_company_in_any_case(company: str) -> None:
    assert matches(builtin("chainge").rule, {"company": company}, REF)


def test_chainge_does_not_match_other_companies_or_none() -> None:
    rule = builtin("chainge").rule
    assert not matches(rule, {"company": "Change Inc"}, REF)
    assert not matches(rule, {"company": None}, REF)


def test_chainge_includes_the_chainge_list_only_when_configured() -> None:
    contact = {"company": "Acme"}
    assert not matches(builtin("chainge").rule, contact, REF, {"555"})
    with_list = builtin("chainge", chainge_list_id="555").rule
    assert matches(with_list, contact, REF, {"555"})
    assert not matches(with_list, contact, REF, {"556"})
    assert builtin_segments(Settings(chainge_list_id="555"))[0].rule == with_list


def test_high_value_is_customer_evangelist_or_opportunity_in_any_case() -> None:
    rule = builtin("high_value").rule
    for stage in ("customer", "Evangelist", "OPPORTUNITY"):
        assert matches(rule, {"lifecyclestage": stage}, REF)
    for stage in ("lead", "subscriber", None, ""):
        assert not matches(rule, {"lifecyclestage": stage}, REF)
