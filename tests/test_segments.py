"""The segment rule model: built-ins, Python evaluation, validation, SQL compilation, files."""

from __future__ import annotations

import json
import tomllib
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.dialects import postgresql, sqlite

from hubsync_core.config import Settings
from hubsync_core.segments import (
    BUILTIN_KEYS,
    BuiltinParams,
    Condition,
    ContactSegment,
    Group,
    SegmentDef,
    SegmentError,
    builtin_segments,
    compile_rule,
    definition_from_dict,
    describe_rule,
    dump_definitions,
    load_definitions,
    matches,
    segment_key,
    segments_for,
    validate_definition,
    validate_rule,
)
from hubsync_core.store.models import Contact

REF = datetime(2026, 3, 1, 12, 0, 0)


def one(field: str, op: str, value: Any = None, value2: Any = None) -> Group:
    return Group("all", [Condition(field, op, value, value2)])


def builtin(name: str, **params: Any) -> SegmentDef:
    return next(s for s in builtin_segments(BuiltinParams(**params)) if s.name == name)


# -- built-in segments ----------------------------------------------------------------------


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


# -- evaluation of each operator in Python ----------------------------------------------------


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


# -- validation -------------------------------------------------------------------------------


def seg(name: str = "EU leads", rule: Group | None = None, **kw: Any) -> SegmentDef:
    return SegmentDef(name, kw.pop("colour", "#4C78A8"), rule or one("company", "eq", "x"), **kw)


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


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("EU leads", "eu_leads"),
        ("Top-10 accounts", "top_10_accounts"),
        ("a  _- b", "a_b"),
        ("Kunden München", "kunden_münchen"),
        ("cold", "cold"),
    ],
)
def test_segment_key_is_a_stable_slug(name: str, key: str) -> None:
    assert segment_key(name) == key
    assert seg(name).key == key


# -- SQL compilation --------------------------------------------------------------------------

HOSTILE = ["'; DROP TABLE contacts;--", "x' OR '1'='1", '" OR 1=1 --', "100%_\\"]


@pytest.mark.parametrize("dialect", [sqlite.dialect(), postgresql.dialect()], ids=["sqlite", "pg"])
@pytest.mark.parametrize("value", HOSTILE)
def test_compiled_sql_binds_every_value(dialect: Any, value: str) -> None:
    rule = Group(
        "any",
        [
            Condition("company", "eq", value),
            Condition("company", "contains", value),
            Condition("properties.note", "starts_with", value),
            Condition("email", "in", [value, "a"]),
        ],
    )
    compiled = compile_rule(rule, REF, Contact.__table__, dialect.name).compile(dialect=dialect)
    sql = str(compiled)
    assert "DROP" not in sql and "OR '1'" not in sql and "1=1" not in sql and "100" not in sql
    params = [str(v) for v in compiled.params.values()]
    assert any(value.lower().split("%")[0] in p for p in params)


def test_like_wildcards_are_escaped_in_bound_values() -> None:
    compiled = compile_rule(
        one("company", "contains", "100%_x"), REF, Contact.__table__, "sqlite"
    ).compile(dialect=sqlite.dialect())
    assert "ESCAPE" in str(compiled)
    assert "100/%/_x" in compiled.params.values()


def test_compile_rule_refuses_invalid_rules_and_dialects() -> None:
    with pytest.raises(SegmentError, match="not a property name"):
        compile_rule(one("properties.x'); --", "eq", "a"), REF, Contact.__table__, "sqlite")
    with pytest.raises(SegmentError, match="not 'mysql'"):
        compile_rule(one("email", "eq", "a"), REF, Contact.__table__, "mysql")


# -- files: TOML and JSON ---------------------------------------------------------------------


def sample_definitions() -> list[SegmentDef]:
    tricky = 'quote " backslash \\ tab \t newline \n bell \x07 del \x7f ünï 😀'
    deep = Group("all", [Condition("email", "is_not_empty")])
    for match in ("any", "all", "any", "all"):
        deep = Group(match, [Condition("company", "contains", "x"), deep])  # type: ignore[arg-type]
    return [
        *builtin_segments(BuiltinParams(engaged_days=14, chainge_list_id="987")),
        SegmentDef(
            "EU leads",
            "#AABBCC",
            Group(
                "all",
                [
                    Condition("properties.country", "in", ["DE", "FR", tricky]),
                    Condition("lifecyclestage", "eq", "lead"),
                    Group(
                        "any",
                        [
                            Condition("properties.score", "between", 1.5, 10),
                            Condition("properties.employees", "gt", -3),
                            Condition("created_at", "between", "2025-01-01", "2025-12-31T23:00:00"),
                            Condition("company", "is_empty"),
                        ],
                    ),
                ],
            ),
            description=tricky,
        ),
        SegmentDef("Deep", "#000000", deep, description=""),
    ]


@pytest.mark.parametrize("fmt", ["toml", "json"])
def test_definitions_round_trip_exactly(fmt: str) -> None:
    defs = sample_definitions()
    text = dump_definitions(defs, fmt)
    assert load_definitions(text, fmt) == defs
    assert dump_definitions(load_definitions(text, fmt), fmt) == text


def test_toml_export_is_readable_and_standard() -> None:
    text = dump_definitions(sample_definitions(), "toml")
    assert '[[segments]]\nname = "EU leads"' in text
    assert "[[segments.rule.items]]" in text
    assert 'value = ["DE", "FR", ' in text
    doc = tomllib.loads(text)
    assert doc["format"] == 1
    assert doc["segments"][4]["rule"]["items"][2]["items"][0]["value"] == 1.5


@pytest.mark.parametrize(
    ("text", "fmt", "message"),
    [
        ("segments = [", "toml", "Not valid TOML"),
        ("{", "json", "Not valid JSON"),
        ('{"format": 2, "segments": []}', "json", "Unsupported segment file format 2"),
        ('{"segments": {}}', "json", "list 'segments'"),
        ('[{"name": "A", "rule": {"match": "all", "items": []}}]', "json", "The rule is empty"),
        ('[{"name": "A", "colour": "#000000"}]', "json", "has no 'rule'"),
        ('[{"name": "A", "rulez": 1}]', "json", "unknown key(s) rulez"),
        (
            '[{"name": "A", "rule": {"match": "all", "items": [{"field": "email", "op": "eq"}]}},'
            ' {"name": "a", "rule": {"match": "all", "items": [{"field": "email", "op": "eq"}]}}]',
            "json",
            "non-empty text",
        ),
        ("", "yaml", "Unknown format 'yaml'"),
    ],
)
def test_loading_bad_files_fails_clearly(text: str, fmt: str, message: str) -> None:
    with pytest.raises(SegmentError) as info:
        load_definitions(text, fmt)
    assert message in str(info.value)


def test_loading_duplicate_names_fails() -> None:
    defs = [seg("EU leads"), seg("eu-leads")]
    text = json.dumps([d.to_dict() for d in defs])
    with pytest.raises(SegmentError, match="already exists"):
        load_definitions(text, "json")


def test_definition_from_dict_defaults_colour_and_description() -> None:
    loaded = definition_from_dict({"name": "A", "rule": one("email", "is_empty").to_dict()})
    assert loaded == SegmentDef("A", "#4C78A8", one("email", "is_empty"))


def test_describe_rule_reads_like_the_rule() -> None:
    text = describe_rule(builtin("chainge", chainge_list_id="5").rule)
    assert text == "company contains 'chainge' OR in list 5"
    assert describe_rule(builtin("cold").rule) == "updated_at 90 or more days ago"
