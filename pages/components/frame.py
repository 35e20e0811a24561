"""The frame around every page: the sidebar (which portal, the last sync, sign-out) and, on
the demo portal, the banner."""

from __future__ import annotations

import streamlit as st

from hubsync_core.connection import DEMO_EXPLANATION, DEMO_LABEL
from hubsync_core.run_status import RunStatus
from pages.components.formatting import status_label, when
from pages.components.freshness import render_sidebar_schedule
from pages.components.resources import AppResources
from pages.components.signin import render_signed_in_user


def render_frame(app: AppResources) -> None:
    """Sidebar (portal, last sync, sign-out) and, on the demo portal, the banner."""
    with st.sidebar:
        st.markdown("### 🔄 HubSync")
        if app.settings.demo:
            st.markdown(f"**Portal:** 🧪 {DEMO_LABEL}")
        else:
            st.markdown("**Portal:** 🟢 HubSpot portal connected")
        _sidebar_last_sync(app, polling=app.jobs.status().running)
        render_sidebar_schedule(app)
        render_signed_in_user()
    if app.settings.demo:
        demo_banner()


def _sidebar_last_sync(app: AppResources, *, polling: bool) -> None:
    # While a sync runs, every page's sidebar follows it (and says when it ended).
    @st.fragment(run_every=2.0 if polling else None)
    def last_sync() -> None:
        last = app.service.last_run()
        if last is None:
            st.caption("Last sync: never")
        elif last.status == RunStatus.RUNNING:
            st.caption(f"🔄 Sync running since {when(last.started_at)}")
        else:
            st.caption(f"Last sync: {when(last.finished_at or last.started_at)}")
            st.caption(f"Status: {status_label(last.status)}")

    last_sync()


def demo_banner() -> None:
    """On the demo portal, every page says so, with the one-line path to a real portal."""
    st.info(DEMO_EXPLANATION, icon="🧪")
