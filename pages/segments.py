"""Segments: the built-in and user-defined segments, an editor with a live preview, and
export/import of the definitions.

The rule model, its validation, the preview and the recompute are the core's (through the
`HubSyncService` facade); this page only turns widgets into a `SegmentDef` (see
pages/components/rule_editor.py) and shows what the core says about it.
"""

from __future__ import annotations

import json
from typing import Any

import pandas as pd
import streamlit as st

from hubsync_core import segments as rules
from hubsync_core.clock import utcnow
from hubsync_core.segments import SegmentDef, SegmentError
from hubsync_core.service import HubSyncService
from pages.components.formatting import plain
from pages.components.resources import get_service
from pages.components.rule_editor import draft, load_draft, render_rule_editor
from pages.components.segment_files import render_segment_files

NEW = "__new__"


# -- actions (callbacks: they run before the page is drawn again) ------------------------------


def _save(service: HubSyncService) -> None:
    state = st.session_state
    seg, problem = draft()
    if seg is None:
        state["sg_message"] = ("error", problem)
        return
    try:
        saved = service.save_segment(seg, original_name=state.get("sg_original"))
    except SegmentError as exc:
        state["sg_message"] = ("error", str(exc))
        return
    state["sg_message"] = ("success", f"Saved “{saved.name}” and recomputed its members.")
    state["sg_choice"] = saved.name
    state["sg_loaded"] = saved.name
    state["sg_original"] = saved.name


def _delete(service: HubSyncService, name: str) -> None:
    state = st.session_state
    try:
        deleted = service.delete_segment(name)
    except SegmentError as exc:
        state["sg_message"] = ("error", str(exc))
        return
    state["sg_message"] = (
        ("success", f"Deleted “{name}”.") if deleted else ("warning", f"“{name}” was already gone.")
    )
    state["sg_choice"] = NEW
    state["sg_loaded"] = None


def _reset(service: HubSyncService, name: str) -> None:
    state = st.session_state
    try:
        service.reset_segment(name)
    except SegmentError as exc:
        state["sg_message"] = ("error", str(exc))
        return
    state["sg_message"] = ("success", f"“{name}” is back to its default rule.")
    state["sg_loaded"] = None  # reload the editor from the stored definition


# -- rendering ---------------------------------------------------------------------------------


@st.cache_data(ttl=30, show_spinner=False)
def _preview(
    _service: HubSyncService, db_url: str, rule_json: str, minute: str
) -> tuple[int, list[dict[str, Any]]]:
    # Keyed on the rule and the minute: typing the same rule again is instant.
    return _service.preview_segment(rules.rule_from_dict(json.loads(rule_json)), 10, labels=True)


def _overview(defs: list[SegmentDef], counts: dict[str, int], rules_read: list[str]) -> None:
    frame = pd.DataFrame(
        [
            {
                "Colour": seg.colour,
                "Segment": seg.name,
                "Key": seg.key,
                "Kind": "built-in" if seg.builtin else "yours",
                "Members": counts.get(seg.key, 0),
                "Rule": rule,
            }
            for seg, rule in zip(defs, rules_read, strict=True)
        ]
    )
    styled = frame.style.map(lambda c: f"background-color: {c}; color: {c}", subset=["Colour"])
    st.dataframe(
        styled,
        hide_index=True,
        column_config={"Members": st.column_config.NumberColumn(format="%d")},
        width="stretch",
    )


def _show_preview(service: HubSyncService, seg: SegmentDef | None) -> None:
    """How many live contacts the rule matches now, and a sample (needs a valid rule only:
    the name can still be missing)."""
    if seg is None:
        return
    minute = f"{utcnow():%Y%m%d%H%M}"
    try:
        count, sample = _preview(
            service,
            service.settings.database_url,
            json.dumps(seg.rule.to_dict(), sort_keys=True),
            minute,
        )
    except SegmentError:
        return
    st.markdown(f"**Preview:** {count:,} live contacts match")
    if sample:
        st.dataframe(pd.DataFrame(sample), hide_index=True, width="stretch")


def _actions(service: HubSyncService, problem: str | None) -> None:
    state = st.session_state
    builtin, original = bool(state.get("sg_builtin")), state.get("sg_original")
    actions = st.columns([1, 1, 3])
    actions[0].button(
        "💾 Save segment",
        type="primary",
        key="sg_save",
        on_click=_save,
        args=(service,),
        disabled=bool(problem),
    )
    if builtin:
        actions[1].button(
            "↩️ Reset to default", key="sg_reset", on_click=_reset, args=(service, original)
        )
    elif original:
        if not state.get("sg_confirm_delete"):
            actions[1].button(
                "🗑️ Delete", key="sg_delete", on_click=lambda: state.update(sg_confirm_delete=True)
            )
        else:
            st.warning(plain(f"Delete “{original}” and its membership? This cannot be undone."))
            confirm = st.columns([1, 1, 3])
            confirm[0].button(
                "Yes, delete", key="sg_delete_yes", type="primary", on_click=_delete,
                args=(service, original),
            )  # fmt: skip
            confirm[1].button(
                "Cancel", key="sg_delete_no", on_click=lambda: state.update(sg_confirm_delete=False)
            )


def _editor(service: HubSyncService, fields: list[str], enums: dict[str, dict[str, str]]) -> None:
    state = st.session_state
    builtin = bool(state.get("sg_builtin"))
    top = st.columns([4, 1])
    top[0].text_input(
        "Name",
        key="sg_name",
        disabled=builtin,
        max_chars=rules.MAX_NAME_LENGTH,
        help="Built-in segments keep their name."
        if builtin
        else "Letters, digits, spaces, - and _.",
    )
    top[1].color_picker("Colour", key="sg_colour")
    st.text_input("Description", key="sg_desc")
    render_rule_editor(fields, enums)

    seg, problem = draft()
    if seg is not None:
        try:
            service.validate_segment(seg, original_name=state.get("sg_original"))
        except SegmentError as exc:
            problem = str(exc)
    if problem:
        st.error(plain(problem))
    elif seg is not None:
        st.caption(plain(f"Rule: {service.describe_rule(seg.rule)}"))
    _show_preview(service, seg)
    _actions(service, problem)


# -- the page ----------------------------------------------------------------------------------


def main() -> None:
    # First: it reruns through app.py (sign-in gate, frame) when this page was opened directly.
    service = get_service()
    st.title("🏷️ Segments")
    state = st.session_state

    defs = service.segments()
    st.caption(
        "Segments tag contacts by rules over their fields and HubSpot properties. Membership is "
        "recomputed after every sync and whenever a segment is saved."
    )
    _overview(defs, service.segment_sizes(), [service.describe_rule(d.rule) for d in defs])

    names = [d.name for d in defs]
    if state.get("sg_choice") not in (NEW, *names):
        state["sg_choice"] = NEW
    st.subheader("Create or edit")
    choice = st.selectbox(
        "Segment",
        [NEW, *names],
        key="sg_choice",
        format_func=lambda n: "➕ New segment" if n == NEW else n,
    )
    # Reload when another segment is chosen, or when Streamlit dropped the editor's widget
    # state (it does for widgets not drawn, e.g. after a visit to another page).
    if state.get("sg_loaded", "") != choice or "sg_tree" not in state or "sg_name" not in state:
        load_draft(None if choice == NEW else next(d for d in defs if d.name == choice))
        state["sg_loaded"] = choice

    if message := state.pop("sg_message", None):
        kind, text = message
        getattr(st, kind)(plain(text))
    with st.container(border=True):
        fields = service.rule_fields()
        _editor(service, fields, service.rule_value_options(fields))
    render_segment_files(service)


main()
