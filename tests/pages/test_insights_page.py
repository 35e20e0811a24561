"""The Insights page: every chart drawn from the database (checked against the core's reads),
the Streamlit theme used, and an empty state for each chart."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from hubsync_core.config import Settings
from hubsync_core.segments import Condition, Group, SegmentDef
from hubsync_core.store import contacts as contact_store
from hubsync_core.store import explorer, insights, segment_store
from hubsync_core.store.database import Database
from hubsync_core.store.explorer import ContactFilter

NOW = datetime.now(UTC).replace(tzinfo=None).replace(microsecond=0)
STAGES = ("lead", "customer", "subscriber", "lead", None)
CHART_KEYS = ("chart_segments", "chart_funnel", "chart_history", "chart_trend", "chart_created")


def seed_contacts(db: Database) -> None:
    rows = [
        {
            "hubspot_id": str(i),
            "email": f"c{i}@example.com",
            "firstname": "C",
            "lastname": str(i),
            "company": "Chainge" if i % 2 else "Other",
            "phone": None,
            "jobtitle": None,
            "lifecyclestage": STAGES[i % 5],
            "properties": {"country": "Germany" if i % 3 else "Canada"},
            "created_at": NOW - timedelta(days=20 * i),
            "updated_at": NOW - timedelta(days=5 * i),
            "synced_at": NOW,
            "archived": False,
            "archived_at": None,
            "archived_reason": None,
        }
        for i in range(1, 41)
    ]
    with db.transaction() as conn:
        contact_store.upsert_contacts(conn, rows)
    segment_store.save_definition(
        db,
        SegmentDef(
            "EU leads",
            "#AA00FF",
            Group(
                "all",
                [
                    Condition("properties.country", "in", ["Germany"]),
                    Condition("lifecyclestage", "eq", "lead"),
                ],
            ),
        ),
        known_properties=None,
    )
    settings = Settings.load({}, dotenv_path=None, secrets_path=None)
    segment_store.recompute(db, segment_store.list_definitions(db, settings), NOW)


@pytest.fixture
def seeded(harness: Any) -> Any:
    seed_contacts(harness.db)
    harness.finished_run("succeeded", contacts=40, pages=1, by_segment={"engaged": 6, "cold": 20})
    harness.finished_run("failed", contacts=10, pages=1)
    harness.finished_run("succeeded", contacts=40, pages=1, by_segment={"engaged": 5, "cold": 22})
    return harness


def open_insights(harness: Any) -> AppTest:
    at = harness.app("insights")
    assert not at.exception, [e.value for e in at.exception]
    return at


def charts(at: AppTest) -> dict[str, dict[str, Any]]:
    """Each drawn chart's plotly figure (as JSON), by the chart's element key."""
    found = {}
    for element in at.get("plotly_chart"):
        figure = json.loads(element.proto.spec)
        found[element.proto.id] = figure
        assert element.proto.theme == "streamlit"
    return {
        key: next(fig for element_id, fig in found.items() if key in element_id)
        for key in CHART_KEYS
        if any(key in element_id for element_id in found)
    }


def test_empty_database_has_no_charts_and_explains_each_one(harness: Any) -> None:
    at = open_insights(harness)
    assert not at.get("plotly_chart")
    shown = " ".join(box.value for box in at.info)
    for phrase in (
        "Nothing to chart yet",
        "split into segments",
        "lifecycle funnel",
        "history appears after the first sync",
        "segment counts",
        "creation date",
    ):
        assert phrase in shown


def test_synced_database_draws_every_chart_with_the_streamlit_theme(seeded: Any) -> None:
    at = open_insights(seeded)
    assert set(charts(at)) == set(CHART_KEYS)


def test_real_sync_renders_charts(synced_harness: Any) -> None:
    at = open_insights(synced_harness)
    drawn = charts(at)
    assert {"chart_segments", "chart_funnel", "chart_history", "chart_created"} <= set(drawn)


def test_segment_chart_counts_and_shares_include_user_segments(seeded: Any) -> None:
    bars = charts(open_insights(seeded))["chart_segments"]["data"][0]
    counts = dict(zip(bars["y"], bars["x"], strict=True))
    assert list(counts) == ["chainge", "engaged", "cold", "high_value", "EU leads"]
    for key, name in (("chainge", "chainge"), ("eu_leads", "EU leads"), ("cold", "cold")):
        assert counts[name] == explorer.count_contacts(seeded.db, ContactFilter(segments=(key,)))
    live = explorer.count_contacts(seeded.db)
    assert bars["text"][0] == f"{counts['chainge']:,} ({counts['chainge'] / live:.0%})"
    assert bars["marker"]["color"][-1] == "#AA00FF"


def test_lifecycle_funnel_is_in_funnel_order_with_live_counts(seeded: Any) -> None:
    funnel = charts(open_insights(seeded))["chart_funnel"]["data"][0]
    stages = insights.lifecycle_funnel(seeded.db)
    assert funnel["type"] == "funnel"
    assert funnel["y"] == [s.label for s in stages]
    assert funnel["x"] == [s.count for s in stages]
    assert funnel["y"][:2] == ["subscriber", "lead"]
    facet = {f.value: f.count for f in explorer.facet_counts(seeded.db, None, "lifecycle")}
    assert dict(zip(funnel["y"], funnel["x"], strict=True))["lead"] == facet["lead"]


def test_sync_history_plots_each_run_coloured_by_status(seeded: Any) -> None:
    history = charts(open_insights(seeded))["chart_history"]
    traces = {t.get("name"): t for t in history["data"]}
    assert "✅ succeeded" in traces and "❌ failed" in traces
    assert traces["✅ succeeded"]["y"] == [40, 40]
    assert traces["❌ failed"]["y"] == [10]
    assert traces["errors"]["y"] == [0, 1, 0]
    assert traces["429s"]["y"] == [0, 0, 0]
    assert traces["duration"]["y"] == [12.5, 12.5, 12.5]


def test_engaged_vs_cold_trend_reads_each_syncs_segment_counts(seeded: Any) -> None:
    trend = charts(open_insights(seeded))["chart_trend"]
    lines = {t["name"]: t["y"] for t in trend["data"]}
    assert lines == {"engaged": [6, 5], "cold": [20, 22]}


def test_contacts_created_per_month_match_the_stored_dates(seeded: Any) -> None:
    bars = charts(open_insights(seeded))["chart_created"]["data"][0]
    expected = insights.created_per_month(seeded.db)
    assert bars["x"] == [month.isoformat() for month, _ in expected]
    assert bars["y"] == [count for _, count in expected]
    assert sum(bars["y"]) == explorer.count_contacts(seeded.db)  # every seeded one has a date
    first = min(NOW - timedelta(days=20 * i) for i in range(1, 41))
    assert bars["x"][0] == date(first.year, first.month, 1).isoformat()
