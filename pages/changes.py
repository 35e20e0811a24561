"""Changes (URL /changelog): every bulk operation HubSync sent to HubSpot (who, when, what, on which contacts,
how it went), with undo, "retry the failed ones" and resume.

Operations run in the process-wide job worker (see pages/components/resources.py); this page only reads the
audit log through the facade and starts previewed operations.
"""

from __future__ import annotations

import streamlit as st

from hubsync_core.bulk.plan import ARCHIVE_NOTICE
from hubsync_core.bulk.status import RESUMABLE
from pages.components import bulk_preview
from pages.components.resources import resources

app = resources()
service = app.service
ORIGIN = "changes"
ITEMS_SHOWN = 500

st.title("📝 Changes")
st.caption(
    "Bulk operations sent to HubSpot from the Contacts page, `hubsync bulk` and the HTTP API. "
    "Each keeps every contact's previous values, so property changes and list changes can be "
    "undone (skipping contacts changed in HubSpot since)."
)

bulk_preview.render_started()
bulk_preview.render_progress(app)

log = service.bulk_log(200)
if not log:
    st.info(
        "No bulk operation yet. Select contacts on the Contacts page to change them.", icon="👋"
    )
    st.stop()

st.dataframe(
    [
        {
            "#": op.id,
            "When (UTC)": op.created_at.strftime("%Y-%m-%d %H:%M"),
            "Who": op.actor,
            "What": op.describe(),
            "Contacts": op.source,
            "Status": op.status,
            "Written": op.written,
            "Failed": op.failed,
            "Skipped": op.skipped,
            "Calls": op.calls,
        }
        for op in log
    ],
    hide_index=True,
)

chosen = st.selectbox(
    "Operation",
    [op.id for op in log],
    format_func=lambda i: next(
        f"#{op.id} {op.describe()} ({op.status})" for op in log if op.id == i
    ),
    key="changes_op",
)
op = service.bulk_operation(int(chosen))
if op is None:
    st.stop()

with st.container(border=True):
    st.subheader(f"#{op.id}: {op.describe()}")
    st.write(
        f"By **{op.actor}** on {op.created_at:%Y-%m-%d %H:%M} UTC · {op.source} · "
        f"{op.written:,} written, {op.failed:,} failed, {op.skipped:,} skipped, {op.calls:,} calls"
    )
    if op.undo_of:
        st.caption(f"Undoes operation #{op.undo_of}.")
    if op.retry_of:
        st.caption(f"Retries the failed contacts of operation #{op.retry_of}.")
    if op.message:
        st.info(op.message, icon="ℹ️")
    if op.kind == "archive":
        st.warning(ARCHIVE_NOTICE, icon="🗄️")

    running = app.jobs.bulk_status().running
    cols = st.columns(3)
    if cols[0].button("Preview undo", key="changes_undo", disabled=running or not op.undoable):
        bulk_preview.keep(service.preview_bulk_undo(op.id), ORIGIN)
    if cols[1].button(
        "Retry the failed ones", key="changes_retry", disabled=running or not op.failed
    ):
        bulk_preview.keep(service.preview_bulk_retry(op.id), ORIGIN)
    if op.status in RESUMABLE and cols[2].button(
        "Resume", key="changes_resume", disabled=running, help="No finished batch is sent again."
    ):
        refused = app.jobs.start_bulk(op.id)
        st.session_state[bulk_preview.STARTED_KEY] = (op.id, refused)
        st.rerun()

    pending = bulk_preview.held(ORIGIN)
    if pending is not None:
        st.markdown(f"**Preview: {pending.source}**")
        bulk_preview.render_preview(pending)
        bulk_preview.render_confirm(app, pending, key="changes_confirm")

    items = service.bulk_items(op.id, limit=ITEMS_SHOWN)
    st.dataframe(
        [
            {
                "ID": item.hubspot_id,
                "Status": item.status,
                "Before": ", ".join(f"{k}: {item.before.get(k)}" for k in item.after) or "",
                "After": ", ".join(f"{k}: {v}" for k, v in item.after.items()),
                "Why": item.reason or "",
            }
            for item in items
        ],
        hide_index=True,
    )
    if op.total + op.skipped > ITEMS_SHOWN:
        st.caption(
            f"First {ITEMS_SHOWN:,} contacts shown; `hubsync bulk log {op.id}` lists them all."
        )
