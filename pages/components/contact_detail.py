"""One contact in full (status, link into HubSpot, segments, lists, every property), and the
picker that opens one from the current page."""

from __future__ import annotations

import json
from collections.abc import Callable

import pandas as pd
import streamlit as st

from hubsync_core.columns import STORED
from hubsync_core.service import ContactPage, HubSyncService
from pages.components.contact_table import label
from pages.components.formatting import plain


def render_detail(
    service: HubSyncService,
    contact_id: str,
    segment_names: dict[str, str],
    close: Callable[[str | None], None],
) -> None:
    """The contact's details, or a warning when no stored contact has this id."""
    # Enumerations read "Former customer (1088421376)": the label, and the value rules use.
    contact = service.get_contact(contact_id, labels=True)
    if contact is None:
        st.warning(plain(f"No stored contact has the id {json.dumps(contact_id)}."))
        st.button("Close", on_click=close, args=(None,), key="c_close_missing")
        return
    head = st.columns([4, 1])
    head[0].subheader(f"Contact {contact['hubspot_id']}")
    head[1].button("Close", on_click=close, args=(None,), key="c_close")
    name = " ".join(p for p in (contact.get("firstname"), contact.get("lastname")) if p)
    st.text(" · ".join(p for p in (name, contact.get("email") or "no email") if p))
    if contact["archived"]:
        when = contact.get("archived_at")
        reason = contact.get("archived_reason")
        st.warning(
            "Archived in HubSpot"
            + (f" on {when:%Y-%m-%d %H:%M} UTC" if when else "")
            + (f" ({plain(reason)})" if reason else "")
            + ": it no longer appears in HubSpot's contact list."
        )
    else:
        st.success("Live in HubSpot (not archived).")

    url = service.contact_url(contact["hubspot_id"])  # None until a sync recorded the portal
    if url:
        st.link_button("Open in HubSpot ↗", url)
        if service.settings.demo:
            st.caption(
                f"Demo portal {service.portal_id()}: this is HubSync's built-in sandbox, so "
                "HubSpot has no such record."
            )
    else:
        st.caption("The portal id is not known yet (the next sync records it), so no link.")

    left, right = st.columns(2)
    with left:
        st.markdown("**Segments**")
        st.text(", ".join(segment_names.get(k, k) for k in contact["segments"]) or "none")
        st.markdown("**Lists**")
        if contact["lists"]:
            st.dataframe(
                pd.DataFrame(contact["lists"], columns=["list_id", "name"]),
                hide_index=True,
                column_config={"list_id": "List id", "name": "Name"},
            )
        else:
            st.text("Not a member of any synced list.")
        fields = [(label(k), contact.get(k)) for k in STORED if k not in ("archived", "hubspot_id")]
        st.markdown("**Stored fields**")
        st.dataframe(
            pd.DataFrame(
                [(k, "" if v is None else str(v)) for k, v in fields], columns=["Field", "Value"]
            ),
            hide_index=True,
        )
    with right:
        props = contact.get("properties") or {}
        st.markdown(f"**All HubSpot properties** ({len(props)})")
        st.dataframe(
            pd.DataFrame(
                [(k, "" if v is None else str(v)) for k, v in sorted(props.items())],
                columns=["Property", "Value"],
            ),
            hide_index=True,
            height=min(38 + 35 * max(len(props), 1), 600),
        )


def render_picker(
    page: ContactPage, selected: str | None, open_contact: Callable[[str | None], None]
) -> None:
    """A select box of the page's contacts; choosing one calls `open_contact` with its id."""
    labels = {
        str(r["hubspot_id"]): " · ".join(
            str(p)
            for p in (
                r.get("email") or "(no email)",
                " ".join(x for x in (r.get("firstname"), r.get("lastname")) if x),
                r["hubspot_id"],
            )
            if p
        )
        for r in page.rows
    }
    options = list(labels)
    if selected and selected not in labels:
        options.append(selected)
    if st.session_state.get("c_pick") != selected:
        st.session_state["c_pick"] = selected
    st.selectbox(
        "Contact details",
        options,
        index=None,
        key="c_pick",
        format_func=lambda i: labels.get(i, f"contact {i}"),
        placeholder="Pick a contact on this page (or select a row)",
        on_change=lambda: open_contact(st.session_state.get("c_pick")),
    )
