"""The Contacts table (one page of rows, a row opens the contact), its column picker and the
CSV export of every matching contact."""

from __future__ import annotations

import functools
import tempfile
from collections.abc import Callable
from typing import Any

import pandas as pd
import streamlit as st

from hubsync_core import columns as registry
from hubsync_core.clock import utcnow
from hubsync_core.service import ContactFilter, ContactPage, HubSyncService

COLUMN_CHOICES: tuple[str, ...] = registry.NAMES
DEFAULT_COLUMNS: tuple[str, ...] = registry.SHOWN


def label(column: str) -> str:
    """A column's header (a typed HubSpot property shows as its name)."""
    return registry.label(column)


def chosen_columns() -> list[str]:
    """The Columns widget's choice (read before it is drawn: the facets come first)."""
    return list(st.session_state.get("c_columns") or DEFAULT_COLUMNS)


def render_column_picker() -> list[str]:
    """The Columns multiselect (a HubSpot property name can be typed in); the choice."""
    return st.multiselect(
        "Columns",
        list(dict.fromkeys([*COLUMN_CHOICES, *st.session_state.get("c_columns", [])])),
        default=list(DEFAULT_COLUMNS),
        key="c_columns",
        format_func=label,
        accept_new_options=True,
        help="Type a HubSpot property name (e.g. country) to show it as a column.",
    ) or list(DEFAULT_COLUMNS)


def _on_row_select(table_key: str, ids: list[str], open_contact: Callable[[str], None]) -> None:
    rows = st.session_state[table_key].selection.rows
    # Only a selected row opens a contact; an emptied selection (a click elsewhere, Escape)
    # leaves the open one alone: Close does that.
    if rows:
        open_contact(ids[rows[0]])


def render_table(
    page: ContactPage, columns: list[str], table_key: str, open_contact: Callable[[str], None]
) -> None:
    """One page of contacts; selecting a row calls `open_contact` with its id."""
    ids = [str(row["hubspot_id"]) for row in page.rows]
    frame = pd.DataFrame([{c: row.get(c) for c in columns} for row in page.rows], columns=columns)
    config: dict[str, Any] = {c: st.column_config.Column(label(c)) for c in columns}
    for c in registry.TIMES:
        if c in columns:
            config[c] = st.column_config.DatetimeColumn(label(c), format="YYYY-MM-DD HH:mm")
    for c in registry.MEMBERSHIPS:
        if c in columns:
            config[c] = st.column_config.ListColumn(label(c))
    st.dataframe(
        frame,
        hide_index=True,
        column_config=config,
        key=table_key,
        on_select=functools.partial(_on_row_select, table_key, ids, open_contact),
        selection_mode="single-row",
        width="stretch",
    )


def render_export(
    service: HubSyncService,
    flt: ContactFilter,
    columns: list[str],
    sort: str,
    descending: bool,
    total: int,
) -> None:
    """Export options and the download button (the CSV is written only when clicked)."""
    chosen = columns
    file_name = service.csv_filename(flt, utcnow().date())  # the UTC day, as the API names it
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
                format_func=label,
                key="c_export_cols",
                accept_new_options=True,
                help="Type a HubSpot property name (e.g. country) to add it.",
            )
        values = st.radio(
            "Option values (lifecycle stage, lead status, other dropdowns)",
            ("internal", "labels"),
            format_func={
                "internal": "internal values (re-import into HubSpot)",
                "labels": "labels (for reading)",
            }.get,
            horizontal=True,
            key="c_export_values",
            help="Like HubSpot's own export: internal values such as 1088421376 round-trip, "
            "labels such as “Former customer” read well.",
        )
        st.caption(
            f"File {file_name}: every matching contact (not only this page), in the current "
            "sort order."
        )

    def build() -> bytes:
        # Streamed to a temporary file by the core, so only the finished file is held in memory.
        with tempfile.TemporaryFile() as out:
            pieces = service.iter_contacts_csv(
                flt,
                columns=chosen or columns,
                sort=sort,
                descending=descending,
                labels=values == "labels",
            )
            for piece in pieces:
                out.write(piece.encode("utf-8"))
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
