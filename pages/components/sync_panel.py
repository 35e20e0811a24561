"""The sync panel's pieces: live progress of a running sync, the outcome of the last one, and
the history table (presentation only: every number comes from `hubsync_core`)."""

from __future__ import annotations

from typing import Any

import streamlit as st

from hubsync_core.run_status import RunStatus
from hubsync_core.service import SyncRun
from hubsync_core.sync.model import SyncProgress, SyncStats
from pages.components.formatting import (
    daily_budget,
    duration,
    headroom,
    number,
    status_label,
)


def render_progress(progress: SyncProgress | None) -> None:
    """Live numbers of a running sync."""
    if progress is None:
        st.write("⏳ Starting the sync…")
        return
    total = progress.expected_total
    if total:
        st.progress(
            progress.fraction or 0.0,
            text=f"{progress.contacts:,} of {total:,} contacts",
        )
    phase = f" · phase **{progress.phase_label}**" if progress.phase else ""
    st.markdown(f"🔄 **{progress.mode}** sync, run #{progress.run_id}{phase}")
    row1 = st.columns(5)
    row1[0].metric("Pages fetched", number(progress.pages))
    row1[1].metric("Contacts stored", number(progress.contacts))
    row1[2].metric("Contacts/s", f"{progress.contacts_per_second:,.1f}")
    row1[3].metric("Elapsed", duration(progress.elapsed_seconds))
    eta = progress.eta_seconds
    row1[4].metric("ETA", duration(eta) if eta is not None else "—")
    row2 = st.columns(5)
    row2[0].metric("API calls", number(progress.api_calls))
    row2[1].metric("Retries", number(progress.retries))
    row2[2].metric("429s", number(progress.rate_limited))
    row2[3].metric("Rate-limit headroom", headroom(progress))
    row2[4].metric("Errors", number(progress.errors))
    if budget := daily_budget(progress.daily_limit, progress.daily_remaining):
        st.caption(f"Daily API budget: {budget}")
    if progress.message:
        st.caption(progress.message)


def render_outcome(stats: SyncStats) -> None:
    """The end of a sync: "Sync complete" with its statistics, or what went wrong and what next."""
    if stats.ok:
        st.success(
            f"**Sync complete**: {stats.total_synced:,} contacts in {stats.total_pages:,} pages, "
            f"{duration(stats.duration_seconds)} ({stats.mode}).",
            icon="✅",
        )
    elif stats.status == RunStatus.CANCELLED:
        st.warning(f"**Sync cancelled.** {stats.message}", icon="⏹️")
    elif stats.status in (RunStatus.PARTIAL, RunStatus.INTERRUPTED):
        st.warning(f"**Sync {stats.status}.** {stats.message}", icon="⚠️")
    else:
        st.error(f"**Sync failed.** {stats.message}", icon="❌")
    if stats.correlation_id:
        st.caption(
            f"HubSpot correlation id: `{stats.correlation_id}` (quote it to HubSpot support)"
        )
    if stats.hint:
        st.markdown(f"**What to do next:** {stats.hint}")
    cols = st.columns(4)
    cols[0].metric("total_synced", number(stats.total_synced))
    cols[1].metric("total_pages", number(stats.total_pages))
    cols[2].metric("errors", number(stats.errors))
    cols[3].metric("duration", duration(stats.duration_seconds))
    if any(stats.by_segment.values()):
        st.caption("by_segment")
        st.dataframe(
            [{"segment": name, "contacts": count} for name, count in stats.by_segment.items()],
            hide_index=True,
        )
    details = [
        f"run #{stats.run_id}" if stats.run_id else None,
        f"{stats.api_calls:,} API calls",
        f"{stats.retries:,} retries",
        f"{stats.rate_limited:,} 429s",
        f"{stats.rejected:,} rejected" if stats.rejected else None,
        f"{stats.archived:,} archived" if stats.archived else None,
    ]
    st.caption(" · ".join(d for d in details if d))
    if budget := daily_budget(stats.daily_limit, stats.daily_remaining, stats.api_calls):
        st.caption(f"Daily API budget: {budget}")
    for warning in stats.warnings:
        st.caption(f"⚠️ {warning}")


def history_rows(history: list[SyncRun]) -> list[dict[str, Any]]:
    """The Sync history table's rows (newest first)."""
    return [
        {
            "run": run.id,
            "mode": run.mode,
            "status": status_label(run.status),
            "started (UTC)": run.started_at.strftime("%Y-%m-%d %H:%M:%S"),
            "duration": duration(run.duration_seconds),
            "contacts": run.contacts,
            "pages": run.pages,
            "API calls": run.api_calls,
            "retries": run.retries,
            "429s": run.rate_limited,
            "errors": run.errors,
        }
        for run in history
    ]
