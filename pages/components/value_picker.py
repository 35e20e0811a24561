"""The segment editor's value picker for enumeration fields (lifecycle stage, lead status, any
custom dropdown): people pick HubSpot's option labels, the rule keeps the internal values.

The row's value text (the widget `rule_editor` reads a rule from) stays the source of truth:
the picker is seeded from it and writes the picked values back into it.
"""

from __future__ import annotations

import streamlit as st

from hubsync_core import segments as rules
from hubsync_core.labels import label_with_value

#: Operators whose value an enumeration field offers as a picker of its options.
PICKER_OPS = ("eq", "neq", "in")


def value_picker(value_key: str, pick_key: str, op: str, options: dict[str, str]) -> None:
    """A select box (`in`: a multiselect) of `options` ({value: label}) shown by label, for the
    condition whose value text lives under `value_key`."""
    state = st.session_state
    # The text widget is not drawn this run: setting its value keeps it in the session.
    text = state[value_key] = state.get(value_key) or ""
    chosen = rules.parse_value("in", text)
    # Values HubSpot no longer defines (or typed as JSON) stay choosable, shown as they are.
    choices = [*options, *(v for v in chosen if v not in options)]

    def show(value: str) -> str:
        return str(label_with_value(options, value))

    def write_back() -> None:
        picked = state.get(pick_key)
        state[value_key] = ", ".join(picked) if isinstance(picked, list) else picked or ""

    if op == "in":
        state[pick_key] = chosen
        st.multiselect(
            "Values",
            choices,
            key=pick_key,
            format_func=show,
            on_change=write_back,
            label_visibility="collapsed",
            placeholder="Pick options",
        )
    else:
        state[pick_key] = chosen[0] if chosen else None
        st.selectbox(
            "Value",
            choices,
            key=pick_key,
            index=None,
            format_func=show,
            on_change=write_back,
            label_visibility="collapsed",
            placeholder="Pick an option",
        )
