"""Bulk operations on the dashboard, shared by the Contacts page and the Changes page:
draw a preview, ask for confirmation (typed where the core asks for it), start the job in
the background worker, and show its live progress with a Cancel button.

Presentation only: every decision (what is refused, skipped, what must be typed) comes from
the preview `hubsync_core.bulk` computed.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from hubsync_core.bulk.facade import ConfirmationRequired
from hubsync_core.bulk.plan import Preview
from pages.components import formatting
from pages.components.resources import AppResources

state = st.session_state
#: Session keys: the preview waiting for confirmation, and the message after a start.
PREVIEW_KEY = "bulk_preview"
STARTED_KEY = "bulk_started"


def actor() -> str:
    """Who the audit log records: the signed-in user, else the dashboard without sign-in."""
    user = st.user if getattr(st.user, "is_logged_in", False) else None
    email = getattr(user, "email", None) if user is not None else None
    return f"user:{email}" if email else "dashboard (no sign-in configured)"


def keep(preview: Preview, origin: str) -> None:
    """Hold a preview (computed on a click) until it is confirmed or dropped."""
    state[PREVIEW_KEY] = (origin, preview)
    state.pop(STARTED_KEY, None)


def held(origin: str) -> Preview | None:
    """The preview held for `origin` ("contacts", "changes"), if any."""
    found = state.get(PREVIEW_KEY)
    return found[1] if found and found[0] == origin else None


def drop() -> None:
    state.pop(PREVIEW_KEY, None)


def render_preview(preview: Preview) -> None:
    """Counts, refusals, skips, a before → after sample, cost, and notices."""
    if preview.refused:
        for reason in preview.refusals:
            st.error(reason, icon="⛔")
        st.caption("Nothing was sent to HubSpot.")
        return
    skipped = preview.skipped_counts()
    cols = st.columns(4)
    cols[0].metric("Contacts to change", formatting.number(len(preview.items)))
    cols[1].metric("Skipped", formatting.number(sum(skipped.values())))
    cols[2].metric("Write calls", formatting.number(preview.write_calls))
    cols[3].metric("Time at the rate limit", formatting.duration(preview.seconds))
    if skipped:
        st.caption(
            "Skipped: " + "; ".join(f"{n:,} {reason}" for reason, n in sorted(skipped.items()))
        )
    if preview.sample:
        st.dataframe(
            [
                {"ID": s.hubspot_id, "Email": s.email or "", "Before": s.before, "After": s.after}
                for s in preview.sample
            ],
            hide_index=True,
        )
    refused_rows = [r for r in preview.rows if r.outcome != "matched"]
    if preview.rows:
        st.caption(
            f"{len(preview.rows) - len(refused_rows):,} of {len(preview.rows):,} rows matched a contact."
        )
    if refused_rows:
        st.dataframe(
            [{"Line": r.line, "Key": r.key, "Why not": r.detail} for r in refused_rows],
            hide_index=True,
        )
    for text in preview.warnings:
        st.warning(text, icon="⚠️")
    for text in preview.notices:
        st.warning(text, icon="🗄️")


def render_confirm(app: AppResources, preview: Preview, key: str) -> None:
    """The confirmation (typed when the preview asks for it) and the Send button."""
    if preview.refused or not preview.items:
        if not preview.refused:
            st.info("Nothing to change.", icon="✅")
        st.button("Close", key=f"{key}_close", on_click=drop)
        return
    expected = preview.confirmation
    if expected:
        typed = st.text_input(
            f"Type {expected} to confirm",
            key=f"{key}_typed",
            help="Archive, and any change to more than 1,000 contacts, needs a typed confirmation.",
        )
        ready = typed.strip() == expected
    else:
        ready = st.checkbox(
            f"Yes, change {len(preview.items):,} contact(s) in HubSpot", key=f"{key}_ok"
        )
        typed = ""
    cols = st.columns([1, 1, 4])
    cols[0].button(
        "Send to HubSpot",
        type="primary",
        key=f"{key}_send",
        disabled=not ready,
        on_click=start,
        args=(app, preview, typed),
    )
    cols[1].button("Cancel", key=f"{key}_drop", on_click=drop)


def start(app: AppResources, preview: Preview, confirmation: str) -> None:
    """Record the operation and run it in the background worker (a button callback)."""
    try:
        op_id = app.service.save_bulk(preview, actor=actor(), confirmation=confirmation)
    except (ConfirmationRequired, ValueError) as exc:
        st.error(str(exc), icon="⛔")
        return
    refused = app.jobs.start_bulk(op_id)
    drop()
    state[STARTED_KEY] = (op_id, refused)


def resume(app: AppResources, operation_id: int) -> None:
    """Resume an unfinished operation in the background worker."""
    state[STARTED_KEY] = (operation_id, app.jobs.start_bulk(operation_id))


def render_started() -> None:
    """What the last Send did (started, or recorded but the database was busy)."""
    started = state.get(STARTED_KEY)
    if not started:
        return
    op_id, refused = started
    if refused:
        st.warning(
            f"Operation #{op_id} is recorded but could not start: {refused} "
            "Resume it on the Changes page once the database is free.",
            icon="⏳",
        )
    else:
        st.success(f"Operation #{op_id} started; follow it here or on the Changes page.", icon="🚀")


def render_progress(app: AppResources) -> None:
    """The live bulk job of this process: a progress bar, counts, and Cancel."""
    polling = app.jobs.bulk_status().running

    @st.fragment(run_every=1.0 if polling else None)
    def live() -> None:
        status = app.jobs.bulk_status()
        if not status.running:
            if polling:
                st.rerun()  # it just ended: redraw the page with the outcome
            if status.error:
                st.error(status.error, icon="❌")
            return
        progress: Any = status.progress
        if progress is not None:
            st.progress(
                progress.fraction,
                text=f"Operation #{progress.operation_id}: batch {progress.batches_done:,} of "
                f"{progress.batches_total:,} · {progress.written:,} written · "
                f"{progress.failed:,} failed",
            )
        st.button(
            "Cancel",
            key="bulk_cancel",
            on_click=app.jobs.cancel,
            help="Stops after the current batch; resume later.",
        )

    live()
