"""The Contacts page's bulk actions: change the ticked rows or the whole filtered result in
HubSpot (set or clear a property, add to or remove from a static list, archive), or upload a
CSV; every action is previewed and confirmed (see `bulk_preview`) before anything is sent.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import streamlit as st

from hubsync_core.bulk.selection import Selection
from hubsync_core.hubspot.errors import HubSpotError
from hubsync_core.service import ContactFilter
from pages.components import bulk_preview
from pages.components.resources import AppResources

ORIGIN = "contacts"
ACTIONS = {
    "set": "Set a property",
    "clear": "Clear a property",
    "list_add": "Add to a static list",
    "list_remove": "Remove from a static list",
    "archive": "Archive in HubSpot",
    "csv": "Update from a CSV file",
}
state = st.session_state


def _properties(app: AppResources) -> list[Any]:
    """HubSpot's writable contact properties (read once per session)."""
    if "bulk_props" not in state:
        try:
            state["bulk_props"] = [p for p in app.service.bulk_properties() if not p.read_only]
        except HubSpotError as exc:
            st.error(f"Could not read HubSpot's property definitions: {exc}", icon="❌")
            return []
    return list(state["bulk_props"])


def _selection(flt: ContactFilter, ticked: Sequence[str]) -> Selection:
    return Selection(ids=tuple(ticked)) if ticked else Selection.of_filter(flt)


def _value_input(definition: Any) -> str:
    """An option picker for enumerations (labels shown, values sent), else a text box."""
    if definition is not None and definition.options:
        labels = {o.label: o.value for o in definition.options}
        chosen = st.selectbox("Value", list(labels), key="bulk_value_option")
        return labels.get(chosen or "", "")
    return st.text_input("Value", key="bulk_value_text")


def render(
    app: AppResources, flt: ContactFilter, total: int, rows: Sequence[dict[str, Any]]
) -> None:
    """The bulk panel under the Contacts table: `rows` are the page's rows (for ticking)."""
    bulk_preview.render_started()
    bulk_preview.render_progress(app)
    busy = app.jobs.bulk_status().running
    # Opt-in: the panel reads HubSpot's property definitions, so it is drawn only when asked.
    if not st.toggle("✏️ Change these contacts in HubSpot", key="bulk_open"):
        return
    with st.container(border=True):
        labels = {
            str(r["hubspot_id"]): f"{r.get('email') or '(no email)'} · {r['hubspot_id']}"
            for r in rows
        }
        scope = st.radio(
            "Contacts",
            ["filtered", "ticked"],
            format_func=lambda s: (
                f"All {total:,} matching the filter" if s == "filtered" else "Ticked rows"
            ),
            horizontal=True,
            key="bulk_scope",
        )
        ticked: list[str] = []
        if scope == "ticked":
            ticked = st.multiselect(
                "Tick contacts on this page",
                list(labels),
                format_func=labels.get,
                key="bulk_ticked",
            )
        action = st.selectbox("Action", list(ACTIONS), format_func=ACTIONS.get, key="bulk_action")
        args: dict[str, Any] = {}
        if action in ("set", "clear"):
            props = _properties(app)
            by_name = {p.name: p for p in props}
            name = st.selectbox(
                "Property",
                sorted(by_name),
                format_func=lambda n: f"{by_name[n].label} ({n})",
                key="bulk_prop",
            )
            args["assignments"] = {
                name: "" if action == "clear" else _value_input(by_name.get(name))
            }
        elif action in ("list_add", "list_remove"):
            args["list_id"] = st.text_input(
                "Static list id (ILS)", key="bulk_list", help="HubSpot › Lists › the list's id"
            )
        elif action == "csv":
            upload = st.file_uploader("CSV file", type=["csv"], key="bulk_csv")
            args["key"] = st.radio(
                "Rows are keyed by", ["hubspot_id", "email"], horizontal=True, key="bulk_csv_key"
            )
            args["upload"] = upload
        if action == "archive":
            st.caption("HubSpot restores archived contacts only from its own UI, within 90 days.")
        if scope == "ticked" and not ticked and action != "csv":
            st.caption("Tick at least one contact.")
        else:
            st.button(
                "Preview",
                key="bulk_preview_btn",
                disabled=busy,
                on_click=_preview,
                args=(app, action, _selection(flt, ticked), args),
            )
        pending = bulk_preview.held(ORIGIN)
        if pending is not None:
            st.markdown(f"**Preview: {pending.source}**")
            bulk_preview.render_preview(pending)
            bulk_preview.render_confirm(app, pending, key="bulk_confirm")


def _preview(app: AppResources, action: str, selection: Selection, args: dict[str, Any]) -> None:
    service = app.service
    try:
        if action in ("set", "clear"):
            preview = service.preview_bulk_set(selection, args["assignments"])
        elif action in ("list_add", "list_remove"):
            if not args["list_id"].strip():
                st.warning("Give the static list's id.", icon="⚠️")
                return
            preview = service.preview_bulk_list(
                selection, args["list_id"].strip(), add=action == "list_add"
            )
        elif action == "archive":
            preview = service.preview_bulk_archive(selection)
        else:
            upload = args["upload"]
            if upload is None:
                st.warning("Choose a CSV file first.", icon="⚠️")
                return
            text = upload.getvalue().decode("utf-8-sig", errors="replace")
            preview = service.preview_bulk_csv(text, key=args["key"], name=upload.name)
    except HubSpotError as exc:
        st.error(f"HubSpot refused the preview: {exc}", icon="❌")
        return
    bulk_preview.keep(preview, ORIGIN)
