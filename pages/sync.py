"""Sync: start a sync, watch it live, cancel or resume it, and see every past run.

The sync runs in the process-wide `SyncJobs` (see pages/components/resources.py), never in this
script, so
its progress survives reruns, page switches, closed tabs and reloads: the live panel polls
`jobs.status()`, which also sees a sync running in another process through the database.
"""

from __future__ import annotations

import streamlit as st

from hubsync_core.jobs import running_message
from hubsync_core.sync.model import MODES, SyncOptions
from pages.components.audit_badge import render_audit
from pages.components.freshness import render_schedule_panel
from pages.components.resources import OWNER, resources
from pages.components.sync_panel import history_rows, render_outcome, render_progress

app = resources()
service, jobs = app.service, app.jobs
state = st.session_state

MODE_HELP = (
    "auto: a full sync the first time, incremental (only what changed) afterwards. "
    "An unfinished run is always resumed first."
)


def start(options: SyncOptions) -> None:
    """Start a background sync; a refusal ("already running …") is kept to show this visitor."""
    refused = jobs.start(options)
    state["sync_refused"] = refused
    state["sync_started_here"] = refused is None
    state["sync_cancelling"] = False


def sync_now() -> None:
    cap = state.get("sync_cap")
    start(
        SyncOptions(
            mode=state.get("sync_mode", "auto"),
            chainge_only=bool(state.get("sync_chainge")),
            max_contacts=int(cap) if cap else None,
            owner=OWNER,
        )
    )


def cancel() -> None:
    state["sync_cancelling"] = jobs.cancel()


st.title("🔄 Sync")
status = jobs.status()

with st.container(border=True):
    cols = st.columns([3, 2, 2])
    cols[0].radio("Mode", MODES, horizontal=True, key="sync_mode", help=MODE_HELP)
    cols[1].checkbox(
        "CHAINge only", key="sync_chainge", help="Only contacts of the CHAINge segment."
    )
    cols[2].number_input(
        "Contact cap",
        min_value=1,
        value=None,
        step=100,
        key="sync_cap",
        placeholder="all contacts",
        help="Stop after this many contacts (a quick trial). Empty: every contact.",
    )
    st.button(
        "Sync now", type="primary", key="sync_now", on_click=sync_now, disabled=status.running
    )

polling = status.running


@st.fragment(run_every=1.0 if polling else None)
def live_panel() -> None:
    current = jobs.status()
    if not current.running:
        if polling:  # the sync just ended: redraw the whole page with its outcome and history
            state.pop("sync_started_here", None)
            st.rerun()
        return
    if state.get("sync_refused"):
        st.warning(state["sync_refused"], icon="⏳")
    elif not state.get("sync_started_here"):
        st.info(running_message(current.run), icon="⏳")
    render_progress(current.progress)
    if current.local:
        if state.get("sync_cancelling"):
            st.caption("⏹️ Stopping after the current page…")
        else:
            st.button("Cancel", key="sync_cancel", on_click=cancel)
    else:
        st.caption("This sync runs in another process (CLI or another app); stop it there.")


live_panel()
render_schedule_panel(app)

if not status.running:
    refused = state.get("sync_refused")
    if refused:  # kept until this visitor's next start: a refused click is never forgotten
        st.warning(f"Your last **Sync now** did not start a sync: {refused}.", icon="⏳")
    if status.error:
        st.error(status.error, icon="❌")
    outcome = service.latest_outcome(status.result)
    if outcome is None:
        st.info("No sync yet: choose the options above and click **Sync now**.", icon="👋")
    else:
        st.subheader("Last sync")
        render_outcome(outcome)
        # None for a run that cannot be resumed (it succeeded, or never started).
        resume = service.resume_options(outcome)
        if resume is not None:
            st.button(
                "Resume",
                key="sync_resume",
                on_click=start,
                args=(resume,),
                help="Start a sync in the same mode: it continues from where this run stopped.",
            )

st.subheader("Audit")
render_audit(service.last_audit(), key="sync_audit_chart")

st.subheader("Sync history")
history, _ = service.sync_runs(limit=50)
if history:
    st.dataframe(history_rows(history), hide_index=True)
else:
    st.caption("No sync has run yet.")
