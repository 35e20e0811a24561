"""Insights: the shape of the portal and of its syncs, as plotly charts.

Every chart reads the database through hubsync_core and has an empty state. Charts use
`theme="streamlit"`, so they follow the app's light or dark theme; only segment and status
colours are set explicitly.
"""

from __future__ import annotations

import html
import json
from datetime import date, datetime
from typing import Any

import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

from hubsync_core.store import explorer, insights, runs, segment_store
from hubsync_core.store.database import Database
from hubsync_core.store.explorer import ContactFilter
from hubsync_core.store.insights import EngagementPoint, RunPoint, SegmentShare, StageCount
from pages import shared

CACHE_TTL = 60  # seconds; the key also carries the data version
HISTORY_RUNS = 100


# -- cached reads (all chart data comes from hubsync_core.store.insights) ----------------------


def _data_version(db: Database, settings: Any) -> tuple[Any, ...]:
    """A cheap token that changes whenever a sync writes, contacts are cleared or a segment is
    saved (also from the CLI): part of every cache key below."""
    run = runs.latest_run(db)
    stored = explorer.count_contacts(db, ContactFilter(archived="include"))
    rules = tuple(
        (d.key, d.name, d.colour, json.dumps(d.rule.to_dict(), sort_keys=True))
        for d in segment_store.list_definitions(db, settings)
    )
    return ((run.id, run.status, run.contacts, run.pages) if run else None, stored, rules)


@st.cache_data(ttl=CACHE_TTL, show_spinner=False)
def _segments(
    _db: Database, db_url: str, version: tuple[Any, ...], _settings: Any
) -> list[SegmentShare]:
    return insights.segment_distribution(_db, _settings)


@st.cache_data(ttl=CACHE_TTL, show_spinner=False)
def _history(_db: Database, db_url: str, version: tuple[Any, ...]) -> list[RunPoint]:
    return insights.sync_history(_db, HISTORY_RUNS)


@st.cache_data(ttl=CACHE_TTL, show_spinner=False)
def _trend(_db: Database, db_url: str, version: tuple[Any, ...]) -> list[EngagementPoint]:
    return insights.engagement_trend(_db, HISTORY_RUNS)


@st.cache_data(ttl=CACHE_TTL, show_spinner=False)
def _funnel(_db: Database, db_url: str, version: tuple[Any, ...]) -> list[StageCount]:
    return insights.lifecycle_funnel(_db)


@st.cache_data(ttl=CACHE_TTL, show_spinner=False)
def _created(_db: Database, db_url: str, version: tuple[Any, ...]) -> list[tuple[date, int]]:
    return insights.created_per_month(_db)


# -- charts ------------------------------------------------------------------------------------


def _show(fig: go.Figure, key: str) -> None:
    fig.update_layout(margin={"l": 10, "r": 10, "t": 40, "b": 10})
    st.plotly_chart(fig, theme="streamlit", key=key, width="stretch")


def _segment_chart(shares: list[SegmentShare], total: int) -> None:
    st.subheader("Segments")
    if total == 0:
        st.info("No live contacts yet: sync to see how they split into segments.")
        return
    fig = go.Figure(
        go.Bar(
            x=[s.count for s in shares],
            y=[html.escape(s.name) for s in shares],
            orientation="h",
            marker_color=[s.colour for s in shares],
            text=[f"{s.count:,} ({s.share:.0%})" for s in shares],
            textposition="auto",
            customdata=[f"{s.share:.1%}" for s in shares],
            hovertemplate="%{y}: %{x:,} contacts (%{customdata} of live contacts)<extra></extra>",
        )
    )
    fig.update_layout(
        title=f"Contacts per segment (share of {total:,} live contacts)",
        yaxis={"autorange": "reversed"},
        xaxis_title="contacts",
        height=120 + 40 * len(shares),
    )
    _show(fig, "chart_segments")
    st.caption("A contact can be in several segments, so shares need not add up to 100%.")


def _run_label(run_id: int, started_at: datetime) -> str:
    return f"#{run_id} · {started_at:%b %d %H:%M}"


def _history_chart(points: list[RunPoint]) -> None:
    st.subheader("Sync history")
    if not points:
        st.info("No sync has run yet: the history appears after the first sync.")
        return
    x = [_run_label(p.id, p.started_at) for p in points]
    fig = make_subplots(
        rows=3,
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.08,
        subplot_titles=("Contacts per run", "Duration (s)", "Errors and 429s per run"),
    )
    for status in dict.fromkeys(p.status for p in points):
        mine = [p for p in points if p.status == status]
        fig.add_trace(
            go.Bar(
                x=[_run_label(p.id, p.started_at) for p in mine],
                y=[p.contacts for p in mine],
                name=shared.status_label(status),
                marker_color=mine[0].colour,
                customdata=[[p.id, p.mode] for p in mine],
                hovertemplate="run #%{customdata[0]} (%{customdata[1]}): %{y:,} contacts"
                "<extra></extra>",
                legendgroup="status",
            ),
            row=1,
            col=1,
        )
    fig.add_trace(
        go.Scatter(
            x=x,
            y=[p.duration_seconds for p in points],
            mode="lines+markers",
            name="duration",
            marker_color=[p.colour for p in points],
            showlegend=False,
        ),
        row=2,
        col=1,
    )
    fig.add_trace(
        go.Bar(x=x, y=[p.errors for p in points], name="errors", marker_color="#E45756"),
        row=3,
        col=1,
    )
    fig.add_trace(
        go.Bar(x=x, y=[p.rate_limited for p in points], name="429s", marker_color="#F58518"),
        row=3,
        col=1,
    )
    # Runs as categories in start order: evenly spaced, however far apart in time.
    fig.update_xaxes(type="category", categoryorder="array", categoryarray=x)
    fig.update_yaxes(rangemode="tozero")
    fig.update_layout(height=620, barmode="group", legend_title_text="")
    _show(fig, "chart_history")


def _trend_chart(points: list[EngagementPoint], names: dict[str, str]) -> None:
    st.subheader("Engaged vs cold across syncs")
    if not points:
        st.info("No finished sync has recorded segment counts yet.")
        return
    x = [_run_label(p.run_id, p.started_at) for p in points]
    fig = go.Figure()
    for key, colour in (("engaged", "#54A24B"), ("cold", "#4C78A8")):
        fig.add_trace(
            go.Scatter(
                x=x,
                y=[getattr(p, key) for p in points],
                mode="lines+markers",
                name=html.escape(names.get(key, key)),
                line_color=colour,
            )
        )
    fig.update_xaxes(type="category")
    fig.update_layout(title="Contacts per segment after each sync", yaxis_title="contacts")
    _show(fig, "chart_trend")


def _funnel_chart(stages: list[StageCount]) -> None:
    st.subheader("Lifecycle stages")
    if not any(stage.count for stage in stages):
        st.info("No live contacts yet: the lifecycle funnel appears after a sync.")
        return
    fig = go.Figure(
        go.Funnel(
            # Stage names come from HubSpot: escaped, as plotly reads some HTML in labels.
            y=[html.escape(stage.label) for stage in stages],
            x=[stage.count for stage in stages],
            textinfo="value+percent total",
        )
    )
    fig.update_layout(title="Live contacts by lifecycle stage (funnel order)")
    _show(fig, "chart_funnel")


def _created_chart(points: list[tuple[date, int]]) -> None:
    st.subheader("Contacts created per month")
    if not any(count for _, count in points):
        st.info("No live contact has a creation date yet.")
        return
    fig = go.Figure(
        go.Bar(
            x=[month for month, _ in points],
            y=[count for _, count in points],
            hovertemplate="%{x|%b %Y}: %{y:,} contacts<extra></extra>",
        )
    )
    fig.update_layout(
        title="Created in HubSpot, per month", xaxis_tickformat="%b %Y", yaxis_title="contacts"
    )
    _show(fig, "chart_created")


# -- the page ----------------------------------------------------------------------------------


def main() -> None:
    # First: it reruns through app.py (sign-in gate, frame) when this page was opened directly.
    service = shared.get_service()
    st.title("📊 Insights")
    db = service.db
    version = _data_version(db, service.settings)
    if version[1] == 0 and version[0] is None:
        st.info("Nothing to chart yet: no contacts are stored and no sync has run.")
        try:
            st.page_link("pages/sync.py", label="Go to the Sync page", icon="🔄")
        except st.errors.StreamlitAPIException:  # page not registered (page run on its own)
            st.write("Run a sync from the Sync page.")

    shares = _segments(db, db.url, version, service.settings)
    total = explorer.count_contacts(db)
    left, right = st.columns(2)
    with left:
        _segment_chart(shares, total)
    with right:
        _funnel_chart(_funnel(db, db.url, version))
    _history_chart(_history(db, db.url, version))
    left, right = st.columns(2)
    with left:
        _trend_chart(_trend(db, db.url, version), {s.key: s.name for s in shares})
    with right:
        _created_chart(_created(db, db.url, version))


main()
