"""Contacts: filter, sort, page through and export the stored contacts; open one to see it all.

The view lives in the URL (see pages/components/filter_bar.py), so a filtered view can be
bookmarked, shared and navigated with Back. Every read goes through the `HubSyncService`
facade, cached under its data version.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from hubsync_core.columns import SORTABLE
from hubsync_core.run_status import RunStatus
from hubsync_core.service import (
    ContactFilter,
    ContactPage,
    DataVersion,
    Exploration,
    FacetValue,
    HubSyncService,
)
from pages.components import bulk_actions
from pages.components import filter_bar as bar
from pages.components.contact_detail import render_detail, render_picker
from pages.components.contact_table import (
    DEFAULT_COLUMNS,
    chosen_columns,
    label,
    render_column_picker,
    render_export,
    render_table,
)
from pages.components.formatting import plain
from pages.components.resources import get_service, resources

CACHE_TTL = 60  # seconds; the key also carries the data version, so this only bounds staleness
Facets = dict[str, list[FacetValue]]


# -- cached reads: keyed by the database, its data version and the view -----------------------


@st.cache_data(ttl=CACHE_TTL, show_spinner=False)
def _segment_names(_service: HubSyncService, db_url: str, version: DataVersion) -> dict[str, str]:
    """Display name of every segment, by key."""
    return {s.key: s.name for s in _service.segments()}


#: sort, descending, limit, offset and the chosen columns: what a cached read is keyed by.
Shape = tuple[str, bool, int, int, tuple[str, ...]]


def _read_args(shape: Shape) -> dict[str, Any]:
    sort, descending, limit, offset, columns = shape
    return {
        "sort": sort,
        "descending": descending,
        "limit": limit,
        "offset": offset,
        "columns": ("hubspot_id", *columns),
        "labels": True,  # people read option labels; filters and the URL keep the values
    }


@st.cache_data(ttl=CACHE_TTL, show_spinner=False)
def _explore(
    _service: HubSyncService, db_url: str, version: DataVersion, flt: ContactFilter, shape: Shape
) -> Exploration:
    """A filter change: the page, its total and every facet in one read."""
    return _service.explore(flt, **_read_args(shape))


@st.cache_data(ttl=CACHE_TTL, show_spinner=False)
def _page(
    _service: HubSyncService, db_url: str, version: DataVersion, flt: ContactFilter, shape: Shape
) -> ContactPage:
    """Another page, sort or column set of a filter whose facets are already known."""
    return _service.contact_page(flt, **_read_args(shape))


def _view_data(
    service: HubSyncService,
    version: DataVersion,
    flt: ContactFilter,
    view: dict[str, Any],
    columns: list[str],
) -> tuple[ContactPage, Facets]:
    """The page and the facet counts of the view. A filter change runs one `explore`; paging,
    sorting or choosing columns under the same filter reuses its facets (kept in the
    session, keyed by the data version) and reads the page alone. May raise ValueError
    (a typed column that is not a property name). Moves `view["page"]` back to the last
    page when a stale URL points past it."""
    db_url = service.settings.database_url
    key = (db_url, version, flt)

    def fetch(number: int) -> tuple[ContactPage, Facets]:
        offset = (number - 1) * view["size"]
        shape = (view["sort"], view["descending"], view["size"], offset, tuple(columns))
        args = (service, db_url, version, flt, shape)
        known = st.session_state.get("_c_facets")
        if known is not None and known[0] == key:
            return _page(*args), known[1]
        found = _explore(*args)
        st.session_state["_c_facets"] = (key, found.facets)
        return found.page, found.facets

    page, facets = fetch(view["page"])
    if not page.rows and page.total and view["page"] > 1:
        view["page"] = page.page_count  # a stale URL past the last page: show the last one
        page, facets = fetch(view["page"])
    return page, facets


def _link_to_sync(text: str) -> None:
    try:
        st.page_link("pages/sync.py", label=text, icon="🔄")
    except st.errors.StreamlitAPIException:  # page not registered (page run on its own)
        st.write(text)


# -- the page ----------------------------------------------------------------------------------


def main() -> None:
    # First: it reruns through app.py (sign-in gate, frame) when this page was opened directly.
    service = get_service()
    st.title("👥 Contacts")
    if not service.has_contacts():
        last = service.last_run()
        if last is not None and last.status == RunStatus.RUNNING:
            st.info("A sync is running: contacts appear here as its pages are stored.")
        else:
            st.info("No contacts are stored yet: run a sync to fetch them from HubSpot.")
        _link_to_sync("Go to the Sync page")
        return

    version = service.data_version()
    flt, problems = service.parse_filter(st.query_params)  # type: ignore[arg-type]
    for problem in problems:
        st.warning(plain(problem))
    view = bar.url_view()
    bar.seed_widgets(flt, view)

    column_error: ValueError | None = None
    try:
        page, facets = _view_data(service, version, flt, view, chosen_columns())
    except ValueError as exc:  # e.g. a typed column that is not a property name
        column_error = exc
        page, facets = _view_data(service, version, flt, view, list(DEFAULT_COLUMNS))
    bar.render_filter_bar(flt, facets)

    columns = render_column_picker()
    sortable = [c for c in SORTABLE if c in columns or c == view["sort"]]
    cols = st.columns([2, 1, 1])
    cols[0].selectbox(
        "Sort by", sortable, key="c_sort", format_func=label, on_change=bar.on_view_change
    )
    cols[1].toggle("Descending", key="c_desc", on_change=bar.on_view_change)
    cols[2].selectbox("Rows per page", bar.PAGE_SIZES, key="c_size", on_change=bar.on_view_change)
    if column_error is not None:
        st.error(plain(str(column_error)))
        return

    stage_names = {f.value: f.label for f in facets["lifecycle"]}  # labels, from the facade
    st.markdown(f"**{page.total:,}** contacts · {plain(flt.describe(stage_names))}")
    if page.total == 0:
        st.info("No contacts match these filters.")
        if not flt.is_default:
            st.button("Clear all filters", on_click=bar.clear_filters, key="c_clear_empty")
        return
    if not flt.is_default:
        st.button("Clear all filters", on_click=bar.clear_filters, key="c_clear")

    token = abs(hash((flt, view["sort"], view["descending"], view["size"], view["page"])))
    render_table(page, columns, f"c_table_{token}", bar.open_contact)
    if st.session_state.get("c_page", 1) != view["page"]:
        st.session_state["c_page"] = view["page"]
    st.pagination(page.page_count, key="c_page", on_change=bar.on_page_change)
    first = page.offset + 1
    st.caption(f"Rows {first:,}–{page.offset + len(page.rows):,} of {page.total:,}")

    render_export(service, flt, columns, view["sort"], view["descending"], page.total)
    bulk_actions.render(resources(), flt, page.total, page.rows)
    render_picker(page, view["contact"], bar.open_contact)
    if view["contact"]:
        names = _segment_names(service, service.settings.database_url, version)
        render_detail(service, view["contact"], names, bar.open_contact)


main()
