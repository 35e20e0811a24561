"""Labels, not internal values, on the dashboard: a contact whose lifecycle stage is a custom
option ("1088421376", labelled "Former customer" by HubSpot's properties API) reads as its
label in the Contacts table, its facet, its details, the segment editor's value picker and
the Insights funnel, while the URL, the filter and a saved rule keep the internal value."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from hubsync_core.config import Settings
from hubsync_core.segments import Condition, Group
from hubsync_core.store import contacts as contact_store
from hubsync_core.store import property_options, segment_store

NOW = datetime.now(UTC).replace(tzinfo=None).replace(microsecond=0)
CUSTOM, LABEL = "1088421376", "Former customer"
#: Contact id -> lifecycle stage: three former customers, the rest leads or customers.
STAGES = {str(i): (CUSTOM if i <= 3 else ("lead", "customer")[i % 2]) for i in range(1, 21)}
OPTIONS = [
    ("lifecyclestage", "lead", "Lead", 0),
    ("lifecyclestage", "customer", "Customer", 1),
    ("lifecyclestage", CUSTOM, LABEL, 2),
]


@pytest.fixture
def seeded(harness: Any) -> Any:
    """20 contacts (3 in the custom stage) and the options a sync stores."""
    rows = [
        {
            "hubspot_id": hubspot_id,
            "email": f"p{hubspot_id}@example.com",
            "firstname": f"P{hubspot_id}",
            "lastname": "Example",
            "company": "Acme",
            "phone": None,
            "jobtitle": None,
            "lifecyclestage": stage,
            "properties": {"lifecyclestage": stage, "country": "Germany"},
            "created_at": NOW - timedelta(days=30),
            "updated_at": NOW - timedelta(days=int(hubspot_id)),
            "synced_at": NOW,
            "archived": False,
            "archived_at": None,
            "archived_reason": None,
        }
        for hubspot_id, stage in STAGES.items()
    ]
    with harness.db.transaction() as conn:
        contact_store.upsert_contacts(conn, rows)
        property_options.replace_options(conn, OPTIONS)
    settings = Settings.load({}, dotenv_path=None, secrets_path=None)
    segment_store.recompute(harness.db, segment_store.list_definitions(harness.db, settings), NOW)
    return harness


def ok(at: AppTest) -> AppTest:
    assert not at.exception, [e.value for e in at.exception]
    return at


def open_page(harness: Any, page: str, **params: str) -> AppTest:
    at = harness.app()
    at.switch_page(f"pages/{page}.py")
    for key, value in params.items():
        at.query_params[key] = value
    return ok(at.run())


def test_the_explorer_shows_labels_in_cells_facets_and_details_and_filters_by_value(
    seeded: Any,
) -> None:
    at = open_page(seeded, "contacts", stage=CUSTOM, contact="2")
    assert at.query_params["stage"] == CUSTOM  # the URL keeps the internal value
    assert any(m.value == f"**3** contacts · Stage {LABEL}" for m in at.markdown)
    cells = at.dataframe[0].value
    assert sorted(cells["hubspot_id"]) == ["1", "2", "3"]
    assert set(cells["lifecyclestage"]) == {LABEL}

    stages = at.multiselect(key="c_stages")
    assert stages.value == [CUSTOM]  # the filter holds the value ...
    assert f"{LABEL} · 3" in stages.options  # ... people read its label and count
    assert "Lead · 9" in stages.options and "Customer · 8" in stages.options

    # Details: the label, and the value a rule or an import would use.
    frames = [d.value for d in at.dataframe]
    fields = next(f for f in frames if "Field" in f.columns)
    assert dict(zip(fields["Field"], fields["Value"], strict=True))["Lifecycle stage"] == (
        f"{LABEL} ({CUSTOM})"
    )
    props = next(f for f in frames if "Property" in f.columns)
    assert dict(zip(props["Property"], props["Value"], strict=True))["lifecyclestage"] == (
        f"{LABEL} ({CUSTOM})"
    )

    # Picking the label in the facet writes the value into the URL.
    ok(at.multiselect(key="c_stages").unselect(CUSTOM).select("lead").run())
    assert at.query_params["stage"] == "lead"
    assert set(at.dataframe[0].value["lifecyclestage"]) == {"Lead"}


def test_the_export_offers_internal_values_by_default_or_labels(seeded: Any) -> None:
    at = open_page(seeded, "contacts")
    choice = at.radio(key="c_export_values")
    assert choice.value == "internal"
    assert choice.options == [
        "internal values (re-import into HubSpot)",
        "labels (for reading)",
    ]


def test_the_segment_editor_offers_labels_and_saves_the_value(seeded: Any) -> None:
    at = ok(seeded.app("segments"))
    at.text_input(key="sg_name").input("Former customers")
    field = next(s.key for s in at.selectbox if s.key and s.key.endswith("_field"))
    row = field.removesuffix("_field")
    at.selectbox(key=field).set_value("lifecyclestage")
    at.selectbox(key=f"{row}_op").set_value("eq")
    ok(at.run())
    picker = at.selectbox(key=f"{row}_pick")
    assert f"{LABEL} ({CUSTOM})" in picker.options and "Lead" in picker.options
    ok(picker.set_value(CUSTOM).run())
    assert at.markdown and any("**Preview:** 3 live contacts" in m.value for m in at.markdown)
    sample = next(d.value for d in at.dataframe if "lifecyclestage" in d.value.columns)
    assert set(sample["lifecyclestage"]) == {LABEL}

    # "is one of" keeps the picked value and offers several.
    at.selectbox(key=f"{row}_op").set_value("in")
    ok(at.run())
    many = at.multiselect(key=f"{row}_pick")
    assert many.value == [CUSTOM]
    ok(many.select("customer").run())
    assert any("**Preview:** 11 live contacts" in m.value for m in at.markdown)

    ok(at.button(key="sg_save").click().run())
    saved = segment_store.get_definition(seeded.db, "Former customers")
    assert saved is not None
    assert saved.rule == Group("all", [Condition("lifecyclestage", "in", [CUSTOM, "customer"])])
    # The overview reads the rule with labels; the stored rule keeps the values.
    overview = next(d.value for d in at.dataframe if "Rule" in d.value.columns)
    shown = overview.set_index("Segment").loc["Former customers", "Rule"]
    assert LABEL in shown and CUSTOM not in shown


def test_the_insights_funnel_shows_the_label(seeded: Any) -> None:
    at = ok(seeded.app("insights"))
    funnel = next(
        json.loads(e.proto.spec) for e in at.get("plotly_chart") if "chart_funnel" in e.proto.id
    )["data"][0]
    assert dict(zip(funnel["y"], funnel["x"], strict=True))[LABEL] == 3
    assert CUSTOM not in funnel["y"]
