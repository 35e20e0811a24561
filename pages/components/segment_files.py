"""Segment definitions as files: export them all as TOML or JSON, import a file (all or
nothing, existing segments kept unless replaced)."""

from __future__ import annotations

import streamlit as st

from hubsync_core import segments as rules
from hubsync_core.clock import utcnow
from hubsync_core.segments import SegmentDef, SegmentError
from hubsync_core.service import HubSyncService
from pages.components.formatting import plain


def _import(service: HubSyncService, loaded: list[SegmentDef]) -> None:
    state = st.session_state
    try:
        result = service.import_segment_definitions(
            loaded, replace_existing=bool(state.get("sg_replace"))
        )
    except SegmentError as exc:
        state["sg_message"] = ("error", f"Nothing was imported: {exc}")
        return
    parts = [
        f"{label}: {', '.join(names)}"
        for label, names in (
            ("added", result.added),
            ("replaced", result.replaced),
            ("skipped (already there)", result.skipped),
        )
        if names
    ]
    state["sg_message"] = ("success", "Imported. " + "; ".join(parts))
    state["sg_loaded"] = None  # the edited segment may have been replaced: reload it
    state["sg_uploads"] = state.get("sg_uploads", 0) + 1  # a fresh, empty uploader


def render_segment_files(service: HubSyncService) -> None:
    """Export buttons and the import uploader."""
    st.subheader("Export and import")
    today = utcnow().date().isoformat()  # UTC, like every date HubSync names
    for col, fmt in zip(st.columns(2), ("toml", "json"), strict=True):
        col.download_button(
            f"⬇️ Export as {fmt.upper()}",
            data=lambda fmt=fmt: service.export_segments(fmt),
            file_name=f"hubsync-segments-{today}.{fmt}",
            mime=f"application/{fmt}",
            on_click="ignore",
            key=f"sg_export_{fmt}",
        )
    upload_key = f"sg_upload_{st.session_state.get('sg_uploads', 0)}"
    upload = st.file_uploader("Import definitions", type=["toml", "json"], key=upload_key)
    if upload is None:
        return
    fmt = "json" if upload.name.lower().endswith(".json") else "toml"
    try:
        loaded = rules.load_definitions(upload.getvalue().decode("utf-8"), fmt)
    except (SegmentError, UnicodeDecodeError) as exc:
        st.error(plain(f"{upload.name}: {exc}"))
        return
    st.text(f"{upload.name}: " + (", ".join(seg.name for seg in loaded) or "no segments"))
    st.checkbox("Replace segments that already exist", key="sg_replace")
    st.button("Import", key="sg_import", on_click=_import, args=(service, loaded))
