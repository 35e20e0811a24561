"""The Segments page: list with counts, create-edit-delete with live preview, validation shown
inline, nested groups, the JSON editor, built-in windows, export and import."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from hubsync_core import cli
from hubsync_core import segments as rules
from hubsync_core.config import Settings
from hubsync_core.segments import Condition, Group, SegmentDef
from hubsync_core.store import contacts as contact_store
from hubsync_core.store import explorer, segment_store
from hubsync_core.store.database import Database
from hubsync_core.store.explorer import ContactFilter

NOW = datetime.now(UTC).replace(tzinfo=None).replace(microsecond=0)
COUNTRIES = ("Germany", "France", "Canada", "Spain")
STAGES = ("lead", "customer", "subscriber", "lead", "opportunity")
EU_LEADS = Group(
    "all",
    [
        Condition("properties.country", "in", ["Germany", "France", "Spain"]),
        Condition("lifecyclestage", "eq", "lead"),
    ],
)


def seed(db: Database) -> None:
    """60 live contacts with a country property; segments recomputed."""
    rows = [
        {
            "hubspot_id": str(i),
            "email": f"person{i}@example.com",
            "firstname": f"Person{i}",
            "lastname": "Example",
            "company": "Chainge AG" if i % 4 == 0 else "Other Ltd",
            "phone": None,
            "jobtitle": None,
            "lifecyclestage": STAGES[i % 5],
            "properties": {"country": COUNTRIES[i % 4]},
            "created_at": NOW - timedelta(days=200),
            "updated_at": NOW - timedelta(days=i * 2),
            "synced_at": NOW,
            "archived": False,
            "archived_at": None,
            "archived_reason": None,
        }
        for i in range(1, 61)
    ]
    with db.transaction() as conn:
        contact_store.upsert_contacts(conn, rows)
    settings = Settings.load({}, dotenv_path=None, secrets_path=None)
    segment_store.recompute(db, segment_store.list_definitions(db, settings), NOW)


@pytest.fixture
def seeded(harness: Any) -> Any:
    seed(harness.db)
    return harness


def open_segments(harness: Any) -> AppTest:
    at = harness.app("segments")
    assert not at.exception, [e.value for e in at.exception]
    return at


def shown(elements: Any) -> list[str]:
    """What alerts say, as read on screen (the page escapes Markdown in them)."""
    return [re.sub(r"\\(.)", r"\1", e.value) for e in elements]


def ok(at: AppTest) -> AppTest:
    assert not at.exception, [e.value for e in at.exception]
    return at


def rows_of(at: AppTest) -> list[tuple[str, str, str, str]]:
    """The editor's condition rows: (field key, op key, value key, value2 key)."""
    fields = [s.key for s in at.selectbox if s.key and s.key.endswith("_field")]
    return [(k, k[:-5] + "op", k[:-5] + "v", k[:-5] + "v2") for k in fields]


def set_row(at: AppTest, row: tuple[str, str, str, str], field: str, op: str, value: str) -> None:
    at.selectbox(key=row[0]).set_value(field)
    at.selectbox(key=row[1]).set_value(op)
    ok(at.run())
    if value:
        at.text_input(key=row[2]).input(value)


def preview_count(at: AppTest) -> int:
    line = next(m.value for m in at.markdown if m.value.startswith("**Preview:**"))
    return int(line.split("**Preview:** ")[1].split(" ")[0].replace(",", ""))


def stored_segment(db: Database, name: str) -> SegmentDef | None:
    settings = Settings.load({}, dotenv_path=None, secrets_path=None)
    return segment_store.get_definition(db, name, settings)


def create_eu_leads(at: AppTest) -> AppTest:
    at.text_input(key="sg_name").input("EU leads")
    first = rows_of(at)[0]
    set_row(at, first, "properties.country", "in", "Germany, France, Spain")
    ok(at.run())
    at.button(key=next(b.key for b in at.button if b.key.startswith("sg_addc_"))).click()
    ok(at.run())
    set_row(at, rows_of(at)[1], "lifecyclestage", "eq", "lead")
    return ok(at.run())


# --- the list -----------------------------------------------------------------------------


def test_empty_database_lists_the_four_built_ins_with_zero_members(harness: Any) -> None:
    at = open_segments(harness)
    listing = at.dataframe[0].value
    assert list(listing["Key"]) == ["chainge", "engaged", "cold", "high_value"]
    assert list(listing["Members"]) == [0, 0, 0, 0]
    assert set(listing["Kind"]) == {"built-in"}


def test_list_shows_each_segment_with_colour_and_member_count(seeded: Any) -> None:
    at = open_segments(seeded)
    listing = at.dataframe[0].value
    for key in ("chainge", "engaged", "cold", "high_value"):
        row = listing[listing["Key"] == key].iloc[0]
        assert row["Members"] == explorer.count_contacts(seeded.db, ContactFilter(segments=(key,)))
        assert row["Colour"].startswith("#")


# --- create, edit, delete -----------------------------------------------------------------


def test_create_eu_leads_shows_live_preview_and_saving_recomputes_membership(
    seeded: Any,
) -> None:
    at = create_eu_leads(open_segments(seeded))
    expected, _ = segment_store.preview(seeded.db, EU_LEADS, NOW)
    assert expected > 0
    assert preview_count(at) == expected
    sample = next(d.value for d in at.dataframe if "hubspot_id" in d.value.columns)
    assert 0 < len(sample) <= 10
    assert not at.error

    at.button(key="sg_save").click()
    ok(at.run())
    assert any("Saved “EU leads”" in text for text in shown(at.success))
    saved = stored_segment(seeded.db, "EU leads")
    assert saved is not None and saved.rule == EU_LEADS
    assert explorer.count_contacts(seeded.db, ContactFilter(segments=("eu_leads",))) == expected
    listing = at.dataframe[0].value
    assert listing[listing["Key"] == "eu_leads"].iloc[0]["Members"] == expected
    assert at.selectbox(key="sg_choice").value == "EU leads"


def test_editing_a_segment_changes_its_rule_and_members(seeded: Any) -> None:
    segment_store.save_definition(
        seeded.db, SegmentDef("EU leads", "#336699", EU_LEADS), known_properties=None, ref=NOW
    )
    at = open_segments(seeded)
    at.selectbox(key="sg_choice").set_value("EU leads")
    ok(at.run())
    assert at.text_input(key="sg_name").value == "EU leads"
    first = rows_of(at)[0]
    assert at.text_input(key=first[2]).value == "Germany, France, Spain"
    at.text_input(key=first[2]).input("Germany")
    ok(at.run())
    at.button(key="sg_save").click()
    ok(at.run())
    narrowed = Group(
        "all",
        [
            Condition("properties.country", "in", ["Germany"]),
            Condition("lifecyclestage", "eq", "lead"),
        ],
    )
    saved = stored_segment(seeded.db, "EU leads")
    assert saved is not None and saved.rule == narrowed
    expected, _ = segment_store.preview(seeded.db, narrowed, NOW)
    assert explorer.count_contacts(seeded.db, ContactFilter(segments=("eu_leads",))) == expected


def test_delete_asks_for_confirmation_then_removes_the_segment(seeded: Any) -> None:
    segment_store.save_definition(
        seeded.db, SegmentDef("EU leads", "#336699", EU_LEADS), known_properties=None, ref=NOW
    )
    at = open_segments(seeded)
    at.selectbox(key="sg_choice").set_value("EU leads")
    ok(at.run())
    at.button(key="sg_delete").click()
    ok(at.run())
    assert stored_segment(seeded.db, "EU leads") is not None  # not yet
    assert any("cannot be undone" in text for text in shown(at.warning))
    at.button(key="sg_delete_yes").click()
    ok(at.run())
    assert stored_segment(seeded.db, "EU leads") is None
    assert explorer.count_contacts(seeded.db, ContactFilter(segments=("eu_leads",))) == 0
    assert "eu_leads" not in list(at.dataframe[0].value["Key"])
    assert at.selectbox(key="sg_choice").value == "__new__"


def test_built_ins_cannot_be_deleted_but_their_window_can_be_edited_and_reset(
    seeded: Any,
) -> None:
    at = open_segments(seeded)
    at.selectbox(key="sg_choice").set_value("engaged")
    ok(at.run())
    assert at.text_input(key="sg_name").disabled
    assert not [b for b in at.button if b.key == "sg_delete"]
    row = rows_of(at)[0]
    assert at.selectbox(key=row[1]).value == "within_last_days"
    assert at.text_input(key=row[2]).value == "30"
    at.text_input(key=row[2]).input("7")
    ok(at.run())
    at.button(key="sg_save").click()
    ok(at.run())
    engaged = stored_segment(seeded.db, "engaged")
    assert engaged is not None
    assert engaged.rule == Group("all", [Condition("updated_at", "within_last_days", 7)])
    members = explorer.count_contacts(seeded.db, ContactFilter(segments=("engaged",)))
    assert members == 3  # updated 2, 4 and 6 days ago

    at.button(key="sg_reset").click()
    ok(at.run())
    engaged = stored_segment(seeded.db, "engaged")
    assert engaged is not None
    assert engaged.rule == Group("all", [Condition("updated_at", "within_last_days", 30)])
    assert at.text_input(key=rows_of(at)[0][2]).value == "30"


# --- validation ---------------------------------------------------------------------------


def test_empty_name_is_reported_inline_and_save_is_disabled(seeded: Any) -> None:
    at = open_segments(seeded)
    set_row(at, rows_of(at)[0], "lifecyclestage", "eq", "lead")
    ok(at.run())
    assert shown(at.error) == ["The segment name is empty."]
    assert at.button(key="sg_save").disabled
    assert preview_count(at) == explorer.count_contacts(
        seeded.db, ContactFilter(lifecycle_stages=("lead",))
    )


@pytest.mark.parametrize(
    ("name", "field", "op", "value", "message"),
    [
        ("chainge", "lifecyclestage", "eq", "lead", "reserved for the built-in"),
        ("Bad date", "created_at", "gt", "2026-13-45", "bad date"),
        ("No value", "company", "contains", "", "non-empty text"),
        ("Window", "updated_at", "within_last_days", "soon", "must be a whole number"),
    ],
)
def test_core_validation_errors_are_shown_inline(
    seeded: Any, name: str, field: str, op: str, value: str, message: str
) -> None:
    at = open_segments(seeded)
    at.text_input(key="sg_name").input(name)
    set_row(at, rows_of(at)[0], field, op, value)
    ok(at.run())
    errors = " ".join(shown(at.error))
    assert message in errors
    assert at.button(key="sg_save").disabled


def test_unknown_property_is_refused_by_name(seeded: Any) -> None:
    at = open_segments(seeded)
    at.text_input(key="sg_name").input("Typo")
    at.toggle(key="sg_json_mode").set_value(True)
    ok(at.run())
    at.text_area(key="sg_json").input(
        '{"match": "all", "items": [{"field": "properties.countyr", "op": "eq", "value": "x"}]}'
    )
    ok(at.run())
    errors = " ".join(shown(at.error))
    assert "unknown property 'countyr'" in errors and "properties.country" in errors


def test_a_rule_the_cli_accepts_is_accepted_by_the_dashboard(
    harness: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # A property the portal is configured to sync, which no stored contact has yet: the CLI
    # and the dashboard know the same fields (HubSyncService.known_properties).
    harness.environ["HUBSYNC_PROPERTIES"] = "hs_analytics_source"
    monkeypatch.setenv("HUBSYNC_PROPERTIES", "hs_analytics_source")
    monkeypatch.chdir(harness.environ["HUBSYNC_DATA_DIR"])  # no stray .env
    condition = "properties.hs_analytics_source eq PAID_SEARCH"
    assert cli.main(["segments", "add", "Paid search", "--where", condition]) == 0
    capsys.readouterr()

    at = open_segments(harness)
    at.text_input(key="sg_name").input("Paid search again")
    set_row(at, rows_of(at)[0], "properties.hs_analytics_source", "eq", "PAID_SEARCH")
    ok(at.run())
    assert not at.error
    at.button(key="sg_save").click()
    ok(at.run())
    assert any("Saved “Paid search again”" in text for text in shown(at.success))
    cli_rule = stored_segment(harness.db, "Paid search")
    dashboard_rule = stored_segment(harness.db, "Paid search again")
    assert cli_rule is not None and dashboard_rule is not None
    assert dashboard_rule.rule == cli_rule.rule


def test_duplicate_name_is_refused(seeded: Any) -> None:
    segment_store.save_definition(
        seeded.db, SegmentDef("EU leads", "#336699", EU_LEADS), known_properties=None, ref=NOW
    )
    at = open_segments(seeded)
    at.text_input(key="sg_name").input("eu-leads")
    set_row(at, rows_of(at)[0], "lifecyclestage", "eq", "lead")
    ok(at.run())
    assert "already exists" in " ".join(shown(at.error))


# --- nesting ------------------------------------------------------------------------------


def test_a_nested_or_group_is_built_with_rows_and_saved(seeded: Any) -> None:
    at = open_segments(seeded)
    at.text_input(key="sg_name").input("Leads in DE or FR")
    set_row(at, rows_of(at)[0], "lifecyclestage", "eq", "lead")
    ok(at.run())
    top = next(b.key for b in at.button if b.key.startswith("sg_addg_"))
    at.button(key=top).click()
    ok(at.run())
    group_rows = rows_of(at)[1:]
    assert len(group_rows) == 1
    set_row(at, group_rows[0], "properties.country", "eq", "Germany")
    ok(at.run())
    group_id = at.session_state["sg_tree"]["items"][1]["id"]
    at.button(key=f"sg_addc_{group_id}").click()
    ok(at.run())
    set_row(at, rows_of(at)[2], "properties.country", "eq", "France")
    ok(at.run())
    assert not at.error, shown(at.error)
    at.button(key="sg_save").click()
    ok(at.run())
    expected = Group(
        "all",
        [
            Condition("lifecyclestage", "eq", "lead"),
            Group(
                "any",
                [
                    Condition("properties.country", "eq", "Germany"),
                    Condition("properties.country", "eq", "France"),
                ],
            ),
        ],
    )
    saved = stored_segment(seeded.db, "Leads in DE or FR")
    assert saved is not None and saved.rule == expected


def test_json_editor_saves_deeper_nesting_and_rows_round_trip(seeded: Any) -> None:
    deep = Group(
        "any",
        [
            Condition("company", "contains", "chainge"),
            Group(
                "all",
                [
                    Condition("lifecyclestage", "eq", "lead"),
                    Group("any", [Condition("properties.country", "eq", "Spain")]),
                ],
            ),
        ],
    )
    at = open_segments(seeded)
    at.text_input(key="sg_name").input("Deep")
    at.toggle(key="sg_json_mode").set_value(True)
    ok(at.run())
    at.text_area(key="sg_json").input(json.dumps(deep.to_dict()))
    ok(at.run())
    assert preview_count(at) == segment_store.preview(seeded.db, deep, NOW)[0]
    at.button(key="sg_save").click()
    ok(at.run())
    saved = stored_segment(seeded.db, "Deep")
    assert saved is not None and saved.rule == deep
    # Too deep for rows: switching back keeps the JSON editor and says why.
    at.toggle(key="sg_json_mode").set_value(False)
    ok(at.run())
    assert at.toggle(key="sg_json_mode").value is True
    assert any("too deeply" in text for text in shown(at.error))


# --- portability --------------------------------------------------------------------------


def test_export_buttons_offer_toml_and_json(seeded: Any) -> None:
    at = open_segments(seeded)
    labels = [b.proto.label for b in at.get("download_button")]
    assert any("TOML" in label for label in labels) and any("JSON" in label for label in labels)


def test_import_of_a_toml_file_adds_segments_and_computes_them(seeded: Any) -> None:
    text = rules.dump_definitions([SegmentDef("EU leads", "#336699", EU_LEADS)], "toml")
    at = open_segments(seeded)
    at.file_uploader[0].upload("segments.toml", text.encode(), "application/toml")
    ok(at.run())
    assert any("EU leads" in t.value for t in at.text)
    at.button(key="sg_import").click()
    ok(at.run())
    assert any("added: EU leads" in text for text in shown(at.success))
    expected, _ = segment_store.preview(seeded.db, EU_LEADS, NOW)
    assert explorer.count_contacts(seeded.db, ContactFilter(segments=("eu_leads",))) == expected
    assert "eu_leads" in list(at.dataframe[0].value["Key"])


def test_import_of_a_broken_file_says_what_is_wrong(seeded: Any) -> None:
    at = open_segments(seeded)
    at.file_uploader[0].upload("segments.json", b'{"segments": [{"name": ""}]}', "application/json")
    ok(at.run())
    assert any("segments.json" in text for text in shown(at.error))
