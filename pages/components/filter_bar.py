"""The Contacts explorer's filter bar and the view state it keeps in the URL.

The URL is the source of truth for the view. Filter keys are exactly what
`ContactFilter.to_query_params` writes (segment, match, q, stage, created_from, created_to,
modified_from, modified_to, has_email, archived, list); the explorer adds its own view keys
(sort, order, size, page, contact). Widgets are seeded from the URL and write it back from
their callbacks, so a filtered view can be bookmarked, shared and navigated with Back.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import streamlit as st

from hubsync_core.columns import SORTABLE
from hubsync_core.service import ContactFilter, FacetValue

DEFAULT_SORT = "updated_at"
PAGE_SIZES = (25, 50, 100, 200)
DEFAULT_SIZE = 50


# -- the URL ------------------------------------------------------------------------------------


def url_view() -> dict[str, Any]:
    """sort / descending / size / page / contact from the URL, bad values replaced by defaults."""
    params = st.query_params
    sort = params.get("sort", DEFAULT_SORT)
    if sort not in SORTABLE:
        sort = DEFAULT_SORT
    order = params.get("order", "desc")
    size_text = params.get("size", str(DEFAULT_SIZE))
    size = int(size_text) if size_text.isdigit() and int(size_text) in PAGE_SIZES else DEFAULT_SIZE
    page_text = params.get("page", "1")
    page = int(page_text) if page_text.isdigit() and int(page_text) >= 1 else 1
    contact = (params.get("contact") or "").strip() or None
    return {
        "sort": sort,
        "descending": order != "asc",
        "size": size,
        "page": page,
        "contact": contact,
    }


def write_url(flt: ContactFilter, **view: Any) -> None:
    """Replace the URL's query with this filter and view (defaults left out)."""
    params: dict[str, str | list[str]] = dict(flt.to_query_params())
    if view.get("sort", DEFAULT_SORT) != DEFAULT_SORT:
        params["sort"] = view["sort"]
    if not view.get("descending", True):
        params["order"] = "asc"
    if view.get("size", DEFAULT_SIZE) != DEFAULT_SIZE:
        params["size"] = str(view["size"])
    if view.get("page", 1) > 1:
        params["page"] = str(view["page"])
    if view.get("contact"):
        params["contact"] = str(view["contact"])
    st.query_params.from_dict(params)


def _shown_filter() -> ContactFilter:
    # The filter the page last drew (read from the URL then): callbacks run before the page
    # reads the URL again.
    return st.session_state.get("_c_filter", ContactFilter())


# -- widget state <-> filter -------------------------------------------------------------------


def _filter_to_widgets(flt: ContactFilter) -> dict[str, Any]:
    return {
        "c_segments": list(flt.segments),
        "c_match": flt.segment_match,
        "c_q": flt.search or "",
        "c_stages": list(flt.lifecycle_stages),
        "c_created_from": flt.created_from,
        "c_created_to": flt.created_to,
        "c_modified_from": flt.modified_from,
        "c_modified_to": flt.modified_to,
        "c_email": {None: "any", True: "yes", False: "no"}[flt.has_email],
        "c_archived": flt.archived,
        "c_lists": list(flt.list_ids),
    }


def _widgets_to_filter() -> ContactFilter:
    s = st.session_state
    return ContactFilter(
        segments=tuple(s.get("c_segments", ())),
        segment_match=s.get("c_match", "any"),
        search=s.get("c_q") or None,
        lifecycle_stages=tuple(s.get("c_stages", ())),
        created_from=s.get("c_created_from"),
        created_to=s.get("c_created_to"),
        modified_from=s.get("c_modified_from"),
        modified_to=s.get("c_modified_to"),
        has_email={"any": None, "yes": True, "no": False}[s.get("c_email", "any")],
        archived=s.get("c_archived", "hide"),
        list_ids=tuple(s.get("c_lists", ())),
    )


def seed_widgets(flt: ContactFilter, view: dict[str, Any]) -> None:
    """Make the widgets show the URL: all of them when the URL changed (a link, Back), and any
    whose state Streamlit dropped (after visiting another page)."""
    state = st.session_state
    state["_c_filter"] = flt
    changed = state.get("_c_seeded") != (flt, view["sort"], view["descending"], view["size"])
    values = _filter_to_widgets(flt) | {
        "c_sort": view["sort"],
        "c_desc": view["descending"],
        "c_size": view["size"],
    }
    for key, value in values.items():
        if changed or key not in state:
            state[key] = value
    state["_c_seeded"] = (flt, view["sort"], view["descending"], view["size"])


# -- callbacks: they write the URL, which the next run reads -----------------------------------


def _on_filter_change() -> None:
    view = url_view()
    write_url(
        _widgets_to_filter(),
        sort=view["sort"],
        descending=view["descending"],
        size=view["size"],
    )


def on_view_change() -> None:
    """Sort, order or page size changed: page 1 of the same filter."""
    s = st.session_state
    write_url(_shown_filter(), sort=s["c_sort"], descending=s["c_desc"], size=s["c_size"])


def on_page_change() -> None:
    """Another page of the same view (closing any open contact)."""
    view = url_view() | {"page": st.session_state["c_page"], "contact": None}
    write_url(_shown_filter(), **view)


def open_contact(contact_id: str | None) -> None:
    """Show this contact's details (None: close them)."""
    write_url(_shown_filter(), **(url_view() | {"contact": contact_id}))


def clear_filters() -> None:
    """Back to every contact (keeping sort and page size)."""
    write_url(ContactFilter(), **(url_view() | {"page": 1, "contact": None}))


# -- the bar -----------------------------------------------------------------------------------


def _counted(facets: list[FacetValue], labels: dict[str, str]) -> Callable[[str], str]:
    """Option label with its facet count: "chainge · 1,234" (Datasette-style)."""
    counts = {f.value: f.count for f in facets}

    def fmt(value: str) -> str:
        name = labels.get(value, value)
        count = counts.get(value)
        return name if count is None else f"{name} · {count:,}"

    return fmt


def render_filter_bar(flt: ContactFilter, facets: dict[str, list[FacetValue]]) -> None:
    """Search, segments, stages, email, archived, dates and lists, each option with the
    number of contacts it would give."""
    # Options by key (what the URL and the CLI use), labelled with the display name.
    seg_labels = {f.value: f.label for f in facets["segment"]}
    seg_options = [*seg_labels, *(s for s in flt.segments if s not in seg_labels)]
    stage_labels = {f.value: f.label for f in facets["lifecycle"]}
    list_labels = {f.value: f.label for f in facets["list"]}

    top = st.columns([3, 3, 2])
    top[0].text_input(
        "Search",
        key="c_q",
        placeholder="email, name or company",
        on_change=_on_filter_change,
    )
    top[1].multiselect(
        "Segments",
        seg_options,
        key="c_segments",
        format_func=_counted(facets["segment"], seg_labels),
        on_change=_on_filter_change,
        placeholder="Any segment",
    )
    top[2].radio(
        "Contacts in",
        ("any", "all"),
        key="c_match",
        format_func={"any": "any of them", "all": "all of them"}.get,
        horizontal=True,
        on_change=_on_filter_change,
        disabled=len(flt.segments) < 2,
        help="With several segments: contacts in at least one, or in every one.",
    )
    row = st.columns([3, 2, 3])
    row[0].multiselect(
        "Lifecycle stage",
        list(stage_labels),
        key="c_stages",
        format_func=_counted(facets["lifecycle"], stage_labels),
        on_change=_on_filter_change,
        placeholder="Any stage",
    )
    row[1].radio(
        "Email",
        ("any", "yes", "no"),
        key="c_email",
        format_func={"any": "any", "yes": "has one", "no": "missing"}.get,
        horizontal=True,
        on_change=_on_filter_change,
    )
    row[2].radio(
        "Archived contacts",
        ("hide", "include", "only"),
        key="c_archived",
        format_func={"hide": "hide", "include": "show too", "only": "only"}.get,
        horizontal=True,
        on_change=_on_filter_change,
    )
    dated = any((flt.created_from, flt.created_to, flt.modified_from, flt.modified_to))
    with st.expander("Dates and lists", expanded=dated or bool(flt.list_ids)):
        cols = st.columns(4)
        for col, key, label in zip(
            cols,
            ("c_created_from", "c_created_to", "c_modified_from", "c_modified_to"),
            ("Created from", "Created until", "Modified from", "Modified until"),
            strict=True,
        ):
            col.date_input(
                label,
                value=None,
                key=key,
                min_value=date(1970, 1, 1),
                max_value=date(2999, 12, 31),
                format="YYYY-MM-DD",
                on_change=_on_filter_change,
            )
        if list_labels:
            st.multiselect(
                "HubSpot lists",
                list(list_labels),
                key="c_lists",
                format_func=_counted(facets["list"], list_labels),
                on_change=_on_filter_change,
                placeholder="Any list",
            )
