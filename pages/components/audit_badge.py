"""The audit badge: is the copy proven equal to HubSpot (in sync / N differences / pending),
when that was last checked, and a chart of the differences per id range when there are some.
Presentation only: the report comes from `HubSyncService.last_audit()`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import plotly.graph_objects as go
import streamlit as st

from pages.components.formatting import number, when

_BADGES = {
    "in_sync": ("✅", "In sync"),
    "pending": ("⏳", "In sync, changes pending"),
    "drift": ("⚠️", "differences"),
}


def render_audit(report: dict[str, Any] | None, *, key: str) -> None:
    """The badge, its time, and (on drift) the per-range chart; `key` keeps charts apart."""
    if report is None:
        st.caption("🔍 Not audited yet: `hubsync audit` proves the copy equals HubSpot.")
        return
    icon, label = _BADGES.get(report["status"], ("❔", report["status"]))
    if report["status"] == "drift":
        label = f"{number(report['differences'])} {label}"
    checked = report.get("checkedAt")
    moment = datetime.fromisoformat(checked.removesuffix("Z")) if checked else None
    st.markdown(f"{icon} **{label}** · checked {when(moment)}")
    st.caption(report["verdict"])
    drift = report.get("rangeDrift") or []
    if report["status"] != "drift" or not drift:
        return
    labels = [f"{r['low']:,}–{r['high']:,}" if r["high"] else f"{r['low']:,}–" for r in drift]
    fig = go.Figure()
    for kind in ("missing", "extra", "stale"):
        fig.add_bar(name=kind, x=labels, y=[r[kind] for r in drift])
    fig.update_layout(
        barmode="stack",
        height=260,
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
        title="Differences per hs_object_id range",
        xaxis_title=None,
        yaxis_title="contacts",
    )
    st.plotly_chart(fig, theme="streamlit", key=key, width="stretch")
