"""Contacts: filter, sort, page through and export the stored contacts; open one to see it all.

The URL is the source of truth for the view. Filter keys are exactly what
`ContactFilter.to_query_params` writes (segment, match, q, stage, created_from, created_to,
modified_from, modified_to, has_email, archived, list); the page adds its own view keys
(sort, order, size, page, contact). Widgets are seeded from the URL and write it back from
their callbacks, so a filtered view can be bookmarked, shared and navigated with Back.
"""

from __future__ import annotations

import functools
import json
import re
import tempfile
from collections.abc import Callable
from datetime import date
from typing import Any

import pandas as pd
import streamlit as st

from hubsync_core import columns as columns_registry
from hubsync_core.hubspot.endpoints import hubspot_record_url
from hubsync_core.run_status import RunStatus
from hubsync_core.service import HubSyncService
from hubsync_core.store import explorer, export, runs, segment_store
from hubsync_core.store.database import Database
from hubsync_core.store.explorer import ContactFilter, ContactPage, FacetValue
from pages import shared

# -- view state kept in the URL besides the filter --------------------------------------------

DEFAULT_SORT = "updated_at"
PAGE_SIZES = (25, 50, 100, 200)
DEFAULT_SIZE = 50
CACHE_TTL = 60  # seconds; the key also carries the data version, so this only bounds staleness

COLUMN_CHOICES: tuple[str, ...] = columns_registry.NAMES
DEFAULT_COLUMNS: tuple[str, ...] = columns_registry.SHOWN


_MARKUP = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:=])")


def _plain(text: str) -> str:
    """`text` shown literally where Streamlit renders Markdown (alerts, captions, headings)."""
    return _MARKUP.sub(r"\\\1", text)


def _label(column: str) -> str:
    return columns_registry.label(column)


def _url_view() -> dict[str, Any]:
    """sort / order / size / page / contact from the URL, bad values replaced by defaults."""
    params = st.query_params
    sort = params.get("sort", DEFAULT_SORT)
    if sort not in columns_registry.SORTABLE:
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


def _write_url(flt: ContactFilter, **view: Any) -> None:
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


def _seed_widgets(flt: ContactFilter, view: dict[str, Any]) -> None:
    """Make the widgets show the URL: all of them when the URL changed (a link, Back), and any
    whose state Streamlit dropped (after visiting another page)."""
    state = st.session_state
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


def _on_filter_change() -> None:
    view = _url_view()
    _write_url(
        _widgets_to_filter(),
        sort=view["sort"],
        descending=view["descending"],
        size=view["size"],
    )


def _on_view_change() -> None:
    s = st.session_state
    flt, _ = explorer.parse_query_params(st.query_params)
    _write_url(flt, sort=s["c_sort"], descending=s["c_desc"], size=s["c_size"])


def _on_page_change() -> None:
    view = _url_view() | {"page": st.session_state["c_page"], "contact": None}
    flt, _ = explorer.parse_query_params(st.query_params)
    _write_url(flt, **view)


def _open_contact(contact_id: str | None) -> None:
    flt, _ = explorer.parse_query_params(st.query_params)
    _write_url(flt, **(_url_view() | {"contact": contact_id}))


def _on_pick() -> None:
    _open_contact(st.session_state.get("c_pick"))


def _on_row_select(table_key: str, ids: list[str]) -> None:
    rows = st.session_state[table_key].selection.rows
    # Only a selected row opens a contact; an emptied selection (a click elsewhere, Escape)
    # leaves the open one alone: Close does that.
    if rows:
        _open_contact(ids[rows[0]])


def _clear_filters() -> None:
    _write_url(ContactFilter(), **(_url_view() | {"page": 1, "contact": None}))


# -- cached reads ------------------------------------------------------------------------------


def _data_version(db: Database, settings: Any) -> tuple[Any, ...]:
    """A cheap token that changes whenever a sync writes, contacts are cleared or a segment is
    saved (also from the CLI): part of every cache key below. Outside runs contacts are only
    ever cleared, so "is any contact stored" (a capped count, one row read) says enough."""
    run = runs.latest_run(db)
    stored = explorer.count_contacts(db, ContactFilter(archived="include"), cap=0)
    rules = tuple(
        (d.key, d.name, d.colour, json.dumps(d.rule.to_dict(), sort_keys=True))
        for d in segment_store.list_definitions(db, settings)
    )
    return ((run.id, run.status, run.contacts, run.pages) if run else None, stored, rules)


@st.cache_data(ttl=CACHE_TTL, show_spinner=False)
def _segment_options(
    _db: Database, db_url: str, version: tuple[Any, ...], _settings: Any
) -> list[tuple[str, str, str]]:
    """(key, display name, colour) of every segment, built-ins first."""
    return [(s.key, s.name, s.colour) for s in segment_store.list_definitions(_db, _settings)]


@st.cache_data(ttl=CACHE_TTL, show_spinner=False)
def _explore(
    _db: Database,
    db_url: str,
    version: tuple[Any, ...],
    flt: ContactFilter,
    sort: str,
    descending: bool,
    limit: int,
    offset: int,
    columns: tuple[str, ...],
) -> explorer.Exploration:
    """A filter change: the page, its total and every facet in one `explore`."""
    return explorer.explore(
        _db,
        flt,
        sort=sort,
        descending=descending,
        limit=limit,
        offset=offset,
        columns=("hubspot_id", *columns),
        facets=explorer.FACETS,
    )


@st.cache_data(ttl=CACHE_TTL, show_spinner=False)
def _page(
    _db: Database,
    db_url: str,
    version: tuple[Any, ...],
    flt: ContactFilter,
    sort: str,
    descending: bool,
    limit: int,
    offset: int,
    columns: tuple[str, ...],
) -> ContactPage:
    """Another page, sort or column set of a filter whose facets are already known."""
    return explorer.query_contacts(
        _db,
        flt,
        sort=sort,
        descending=descending,
        limit=limit,
        offset=offset,
        columns=("hubspot_id", *columns),
    )


def _chosen_columns() -> list[str]:
    """The Columns widget's choice (read before it is drawn: the facets come first)."""
    return list(st.session_state.get("c_columns") or DEFAULT_COLUMNS)


def _view_data(
    db: Database,
    version: tuple[Any, ...],
    flt: ContactFilter,
    view: dict[str, Any],
    columns: list[str],
) -> tuple[ContactPage, dict[str, list[FacetValue]]]:
    """The page and the facet counts of the view. A filter change runs one `explore`; paging,
    sorting or choosing columns under the same filter reuses its facets (kept in the
    session, keyed by the data version) and reads the page alone. May raise ValueError
    (a typed column that is not a property name). Moves `view["page"]` back to the last
    page when a stale URL points past it."""
    key = (db.url, version, flt)

    def fetch(number: int) -> tuple[ContactPage, dict[str, list[FacetValue]]]:
        args = (db, db.url, version, flt, view["sort"], view["descending"], view["size"])
        offset = (number - 1) * view["size"]
        known = st.session_state.get("_c_facets")
        if known is not None and known[0] == key:
            return _page(*args, offset, tuple(columns)), known[1]
        found = _explore(*args, offset, tuple(columns))
        st.session_state["_c_facets"] = (key, found.facets)
        return found.page, found.facets

    page, facets = fetch(view["page"])
    if not page.rows and page.total and view["page"] > 1:
        view["page"] = page.page_count  # a stale URL past the last page: show the last one
        page, facets = fetch(view["page"])
    return page, facets


# -- rendering ---------------------------------------------------------------------------------


def _link_to_sync(label: str) -> None:
    try:
        st.page_link("pages/sync.py", label=label, icon="🔄")
    except st.errors.StreamlitAPIException:  # page not registered (page run on its own)
        st.write(label)


def _counted(facets: list[FacetValue], labels: dict[str, str]) -> Callable[[str], str]:
    """Option label with its facet count: "chainge · 1,234" (Datasette-style)."""
    counts = {f.value: f.count for f in facets}

    def fmt(value: str) -> str:
        name = labels.get(value, value)
        count = counts.get(value)
        return name if count is None else f"{name} · {count:,}"

    return fmt


def _filters(flt: ContactFilter, facets: dict[str, list[FacetValue]]) -> None:
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


def _table(page: ContactPage, columns: list[str], table_key: str) -> None:
    ids = [str(row["hubspot_id"]) for row in page.rows]
    frame = pd.DataFrame([{c: row.get(c) for c in columns} for row in page.rows], columns=columns)
    config: dict[str, Any] = {c: st.column_config.Column(_label(c)) for c in columns}
    for c in ("created_at", "updated_at", "synced_at", "archived_at"):
        if c in columns:
            config[c] = st.column_config.DatetimeColumn(_label(c), format="YYYY-MM-DD HH:mm")
    for c in ("segments", "list_memberships"):
        if c in columns:
            config[c] = st.column_config.ListColumn(_label(c))
    st.dataframe(
        frame,
        hide_index=True,
        column_config=config,
        key=table_key,
        on_select=functools.partial(_on_row_select, table_key, ids),
        selection_mode="single-row",
        width="stretch",
    )


def _export(
    db: Database, flt: ContactFilter, columns: list[str], sort: str, descending: bool, total: int
) -> None:
    chosen = columns
    file_name = export.csv_filename(flt, date.today())
    with st.expander("Export options"):
        mode = st.radio(
            "Columns in the CSV",
            ("visible", "chosen"),
            format_func={"visible": "the visible columns", "chosen": "choose columns"}.get,
            horizontal=True,
            key="c_export_mode",
        )
        if mode == "chosen":
            chosen = st.multiselect(
                "Export columns",
                list(dict.fromkeys([*COLUMN_CHOICES, *columns])),
                default=columns,
                format_func=_label,
                key="c_export_cols",
                accept_new_options=True,
                help="Type a HubSpot property name (e.g. country) to add it.",
            )
        st.caption(
            f"File {file_name}: every matching contact (not only this page), in the current "
            "sort order."
        )

    def build() -> bytes:
        # Streamed to a temporary file by the core, so only the finished file is held in memory.
        with tempfile.TemporaryFile() as out:
            export.write_csv(db, flt, out, chosen or columns, sort=sort, descending=descending)
            out.seek(0)
            return out.read()

    st.download_button(
        f"⬇️ Export CSV ({total:,} rows)",
        data=build,
        file_name=file_name,
        mime="text/csv",
        on_click="ignore",
        key="c_export",
        disabled=total == 0,
    )


def _detail(service: HubSyncService, contact_id: str, segment_names: dict[str, str]) -> None:
    contact = explorer.get_contact(service.db, contact_id)
    if contact is None:
        st.warning(_plain(f"No stored contact has the id {json.dumps(contact_id)}."))
        st.button("Close", on_click=_open_contact, args=(None,), key="c_close_missing")
        return
    head = st.columns([4, 1])
    head[0].subheader(f"Contact {contact['hubspot_id']}")
    head[1].button("Close", on_click=_open_contact, args=(None,), key="c_close")
    name = " ".join(p for p in (contact.get("firstname"), contact.get("lastname")) if p)
    st.text(" · ".join(p for p in (name, contact.get("email") or "no email") if p))
    if contact["archived"]:
        when = contact.get("archived_at")
        st.warning(
            "Archived in HubSpot"
            + (f" on {when:%Y-%m-%d %H:%M} UTC" if when else "")
            + (f" ({_plain(contact['archived_reason'])})" if contact.get("archived_reason") else "")
            + ": it no longer appears in HubSpot's contact list."
        )
    else:
        st.success("Live in HubSpot (not archived).")

    portal_id = service.portal_id()  # recorded by the sync
    if portal_id:
        st.link_button("Open in HubSpot ↗", hubspot_record_url(portal_id, contact["hubspot_id"]))
        if service.settings.demo:
            st.caption(
                f"Demo portal {portal_id}: this is HubSync's built-in sandbox, so HubSpot has "
                "no such record."
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
        fields = [
            (_label(k), contact.get(k))
            for k in columns_registry.STORED
            if k not in ("archived", "hubspot_id")
        ]
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


def _picker(page: ContactPage, selected: str | None) -> None:
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
        on_change=_on_pick,
    )


# -- the page ----------------------------------------------------------------------------------


def main() -> None:
    # First: it reruns through app.py (sign-in gate, frame) when this page was opened directly.
    service = shared.get_service()
    st.title("👥 Contacts")
    db = service.db
    version = _data_version(db, service.settings)
    if version[1] == 0:
        run = runs.latest_run(db)
        if run is not None and run.status == RunStatus.RUNNING:
            st.info("A sync is running: contacts appear here as its pages are stored.")
        else:
            st.info("No contacts are stored yet: run a sync to fetch them from HubSpot.")
        _link_to_sync("Go to the Sync page")
        return

    flt, problems = explorer.parse_query_params(st.query_params)
    for problem in problems:
        st.warning(_plain(problem))
    view = _url_view()
    _seed_widgets(flt, view)

    definitions = _segment_options(db, db.url, version, service.settings)
    column_error: ValueError | None = None
    try:
        page, facets = _view_data(db, version, flt, view, _chosen_columns())
    except ValueError as exc:  # e.g. a typed column that is not a property name
        column_error = exc
        page, facets = _view_data(db, version, flt, view, list(DEFAULT_COLUMNS))
    _filters(flt, facets)

    columns: list[str] = st.multiselect(
        "Columns",
        list(dict.fromkeys([*COLUMN_CHOICES, *st.session_state.get("c_columns", [])])),
        default=list(DEFAULT_COLUMNS),
        key="c_columns",
        format_func=_label,
        accept_new_options=True,
        help="Type a HubSpot property name (e.g. country) to show it as a column.",
    ) or list(DEFAULT_COLUMNS)
    sortable = [c for c in columns_registry.SORTABLE if c in columns or c == view["sort"]]
    bar = st.columns([2, 1, 1])
    bar[0].selectbox(
        "Sort by", sortable, key="c_sort", format_func=_label, on_change=_on_view_change
    )
    bar[1].toggle("Descending", key="c_desc", on_change=_on_view_change)
    bar[2].selectbox("Rows per page", PAGE_SIZES, key="c_size", on_change=_on_view_change)
    if column_error is not None:
        st.error(_plain(str(column_error)))
        return

    st.markdown(f"**{page.total:,}** contacts · {_plain(flt.describe())}")
    if page.total == 0:
        st.info("No contacts match these filters.")
        if not flt.is_default:
            st.button("Clear all filters", on_click=_clear_filters, key="c_clear_empty")
        return
    if not flt.is_default:
        st.button("Clear all filters", on_click=_clear_filters, key="c_clear")

    token = abs(hash((flt, view["sort"], view["descending"], view["size"], view["page"])))
    _table(page, columns, f"c_table_{token}")
    if st.session_state.get("c_page", 1) != view["page"]:
        st.session_state["c_page"] = view["page"]
    st.pagination(page.page_count, key="c_page", on_change=_on_page_change)
    first = page.offset + 1
    st.caption(f"Rows {first:,}–{page.offset + len(page.rows):,} of {page.total:,}")

    _export(db, flt, columns, view["sort"], view["descending"], page.total)
    _picker(page, view["contact"])
    if view["contact"]:
        _detail(service, view["contact"], {key: name for key, name, _ in definitions})


main()
