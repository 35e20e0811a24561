"""Insights: the shape of the portal and of its syncs, as plotly charts.

Every chart reads the database through hubsync_core and has an empty state. Charts use
`theme="streamlit"`, so they follow the app's light or dark theme; only segment and status
colours are set explicitly.
"""

from __future__ import annotations

import html
from datetime import date, datetime

import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

from hubsync_core.service import (
    DataVersion,
    EngagementPoint,
    HubSyncService,
    RunPoint,
    SegmentShare,
    StageCount,
)
from pages.components.formatting import status_label
from pages.components.resources import get_service

CACHE_TTL = 60  # seconds; the key also carries the data version
HISTORY_RUNS = 100


# -- cached reads: keyed by the database and its data version ----------------------------------


@st.cache_data(ttl=CACHE_TTL, show_spinner=False)
def _segments(_service: HubSyncService, db_url: str, version: DataVersion) -> list[SegmentShare]:
    return _service.segment_distribution()


@st.cache_data(ttl=CACHE_TTL, show_spinner=False)
def _history(_service: HubSyncService, db_url: str, version: DataVersion) -> list[RunPoint]:
    return _service.sync_history_points(HISTORY_RUNS)


@st.cache_data(ttl=CACHE_TTL, show_spinner=False)
def _trend(_service: HubSyncService, db_url: str, version: DataVersion) -> list[EngagementPoint]:
    return _service.engagement_trend(HISTORY_RUNS)


@st.cache_data(ttl=CACHE_TTL, show_spinner=False)
def _funnel(_service: HubSyncService, db_url: str, version: DataVersion) -> list[StageCount]:
    return _service.lifecycle_funnel()


@st.cache_data(ttl=CACHE_TTL, show_spinner=False)
def _created(_service: HubSyncService, db_url: str, version: DataVersion) -> list[tuple[date, int]]:
    return _service.created_per_month()


@st.cache_data(ttl=CACHE_TTL, show_spinner=False)
def _live_total(_service: HubSyncService, db_url: str, version: DataVersion) -> int:
    return _service.count_contacts()


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
                name=status_label(status),
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
    service = get_service()
    st.title("📊 Insights")
    key = (service, service.settings.database_url, service.data_version())
    if key[2].run is None and not service.has_contacts():
        st.info("Nothing to chart yet: no contacts are stored and no sync has run.")
        try:
            st.page_link("pages/sync.py", label="Go to the Sync page", icon="🔄")
        except st.errors.StreamlitAPIException:  # page not registered (page run on its own)
            st.write("Run a sync from the Sync page.")

    shares = _segments(*key)
    left, right = st.columns(2)
    with left:
        _segment_chart(shares, _live_total(*key))
    with right:
        _funnel_chart(_funnel(*key))
    _history_chart(_history(*key))
    left, right = st.columns(2)
    with left:
        _trend_chart(_trend(*key), {s.key: s.name for s in shares})
    with right:
        _created_chart(_created(*key))


main()
