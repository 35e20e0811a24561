"""Overview: how many contacts are stored, in which segments, and how the last sync went."""

from __future__ import annotations

import streamlit as st

from hubsync_core.run_status import RunStatus
from pages.components import formatting as fmt
from pages.components.audit_badge import render_audit
from pages.components.resources import get_service

service = get_service()
st.title("🏠 Overview")

overview = service.overview()

if overview.is_empty:
    st.info(
        "No contacts are stored yet. Run a sync to fetch every contact from HubSpot.", icon="👋"
    )
    st.page_link("pages/sync.py", label="Go to Sync and click **Sync now**", icon="🔄")
else:
    cols = st.columns(4)
    cols[0].metric("Contacts", fmt.number(overview.total))
    cols[1].metric("Archived", fmt.number(overview.archived))
    cols[2].metric("Without email", fmt.number(overview.without_email))
    cols[3].metric("HubSpot lists", fmt.number(overview.lists))
    st.subheader("Segments")
    if overview.by_segment:
        seg_cols = st.columns(min(len(overview.by_segment), 6))
        for index, (name, count) in enumerate(overview.by_segment.items()):
            seg_cols[index % len(seg_cols)].metric(name, fmt.number(count))
    else:
        st.caption("No segments computed yet.")

if not overview.is_empty:
    st.subheader("Copy complete?")
    render_audit(service.last_audit(), key="overview_audit_chart")

st.subheader("Last sync")
last = overview.last_run
if last is None:
    st.caption("Never synced.")
else:
    cols = st.columns(4)
    cols[0].metric("Started", f"{last.started_at:%Y-%m-%d %H:%M} UTC")
    cols[1].metric("Took", fmt.duration(last.duration_seconds))
    cols[2].metric("Outcome", fmt.status_label(last.status))
    cols[3].metric("Contacts synced", fmt.number(last.contacts))
    st.caption(f"{last.mode} sync · {fmt.when(last.started_at)} · {last.pages:,} pages")
    if last.error_message and last.status != RunStatus.RUNNING:
        st.warning(last.error_message)
        if last.error_hint:
            st.caption(f"What to do next: {last.error_hint}")
    success = overview.last_success
    if last.status != RunStatus.SUCCEEDED and success is not None:
        st.caption(f"Last successful sync: {fmt.when(success.finished_at or success.started_at)}")
    st.page_link("pages/sync.py", label="Sync page: history, progress, Sync now", icon="🔄")
