"""Keeping data fresh on the dashboard: the Sync page's schedule control and live-update
counts, and the sidebar's "next sync in N min" line. Everything goes through the facade."""

from __future__ import annotations

import streamlit as st

from pages.components.resources import AppResources

#: Periods offered on the Sync page (`hubsync schedule set` takes any of at least 5 minutes).
PERIODS = ("off", "5m", "15m", "30m", "1h", "6h", "24h")
SCHEDULE_HELP = (
    "Scheduled syncs run while this dashboard (or `hubsync api`, or `hubsync sync --every`) "
    "is up; each is an auto sync, and only one sync runs at a time. See README, "
    "'Keeping data fresh', for webhooks and the Webhooks Journal."
)


def _period_of(every_minutes: int | None) -> str:
    if every_minutes is None:
        return "off"
    if every_minutes % 60 == 0:
        return f"{every_minutes // 60}h"
    return f"{every_minutes}m"


def render_sidebar_schedule(app: AppResources) -> None:
    """The schedule and its next run, refreshed every 30 s (nothing when it is off)."""

    @st.fragment(run_every=30.0)
    def schedule_line() -> None:
        if app.service.schedule().enabled:
            st.caption(f"⏱️ Scheduled sync: {app.service.schedule_summary()}")

    schedule_line()


def save_period() -> None:
    st.session_state["schedule_saved"] = st.session_state["schedule_period"]


def render_schedule_panel(app: AppResources) -> None:
    """The schedule control and the live-update counts (webhooks, journal)."""
    saved = st.session_state.pop("schedule_saved", None)
    if saved is not None:
        app.service.set_schedule_period(saved)
    current = _period_of(app.service.schedule().every_minutes)
    options = PERIODS if current in PERIODS else (*PERIODS, current)
    with st.container(border=True):
        st.markdown("**Keeping data fresh**")
        cols = st.columns([2, 5])
        cols[0].selectbox(
            "Sync automatically every",
            options,
            index=options.index(current),
            key="schedule_period",
            on_change=save_period,
            help=SCHEDULE_HELP,
        )
        cols[1].caption(f"Schedule: {app.service.schedule_summary()}")
        nightly = app.service.nightly_audit_summary()
        if nightly is not None:
            cols[1].caption(f"Nightly audit: {nightly}")
        cols[1].caption(app.service.live_updates_summary())
