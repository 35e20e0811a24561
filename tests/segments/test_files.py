"""Definition files in TOML and JSON: exact round trips and clear failures."""

from __future__ import annotations

import json
import tomllib

import pytest

from hubsync_core.segments import (
    BuiltinParams,
    Condition,
    Group,
    SegmentDef,
    SegmentError,
    builtin_segments,
    dump_definitions,
    load_definitions,
)

from .helpers import seg


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
