"""The explorer's entry points: a page with its total and facets, counts, exports, one contact."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypedDict, Unpack

import sqlalchemy as sa
from sqlalchemy import Connection

from hubsync_core.columns import STORED
from hubsync_core.store.database import Database
from hubsync_core.store.explorer.facets import (
    FACETS,
    FacetName,
    FacetValue,
    facet_values,
    segment_labels,
)
from hubsync_core.store.explorer.filters import ContactFilter
from hubsync_core.store.explorer.planner import Plan
from hubsync_core.store.explorer.rows import (
    ContactPage,
    check_paging,
    lists_of,
    read_page,
    rows_select,
    segments_of,
    shape_rows,
    with_memberships,
)
from hubsync_core.store.explorer.sql import CONTACTS, exploring, reading
from hubsync_core.store.explorer.terms import filter_terms


class PageArgs(TypedDict, total=False):
    """How to read a page (`explore`'s keyword arguments and defaults, but `facets`)."""

    sort: str
    descending: bool
    limit: int
    offset: int
    columns: Sequence[str] | None
    count_cap: int | None


def query_contacts(
    db: Database, flt: ContactFilter | None = None, **page: Unpack[PageArgs]
) -> ContactPage:
    """One page of matching contacts, sorted, with the total for the filter: `explore`
    without facets.

    Rows are dicts holding `columns` (default `columns.NAMES`: every stored field but
    `properties`, plus `segments` and `list_memberships` as lists of names, each fetched
    for just this page). Other column names are read from the contact's `properties`.
    Ties are broken by id, numerically. `count_cap`: see `ContactPage`.
    """
    return explore(db, flt, facets=(), **page).page


@dataclass(frozen=True)
class Exploration:
    """What a filter change on the Contacts page needs: the page, its total, the facets."""

    page: ContactPage
    facets: dict[str, list[FacetValue]]


def explore(
    db: Database,
    flt: ContactFilter | None = None,
    *,
    sort: str = "updated_at",
    descending: bool = True,
    limit: int = 50,
    offset: int = 0,
    columns: Sequence[str] | None = None,
    count_cap: int | None = None,
    facets: Sequence[FacetName] = ("segment", "lifecycle"),
) -> Exploration:
    """The page, the total and facet counts for a filter, on one connection.

    Same results as `query_contacts` plus `facet_counts` for each facet, but the work is
    shared: a search scans the table once, not once per number shown.
    """
    flt = flt or ContactFilter()
    check_paging(limit, offset)
    if count_cap is not None and count_cap < 0:
        raise ValueError("count_cap must be 0 or more")
    for name in facets:
        if name not in FACETS:
            raise ValueError(f"Unknown facet {name!r}: choose one of {', '.join(FACETS)}")
    rows_select([], sort, descending, columns)  # validates sort and columns before connecting
    labels = segment_labels(db) if "segment" in facets else []
    with exploring(db) as conn:
        plan = Plan(conn, db.dialect, flt, facets=facets)
        # The total first when facets bring it or no cap is asked for (a full page needs it
        # anyway): it tells the page how dense matches are, so a windowed page reads fewer
        # rows of the sort order (the API's segment page: -20 % CPU at 200,000 contacts).
        known = plan.count(flt) if facets or (count_cap is None and limit) else None
        found = {name: facet_values(plan, name, labels) for name in facets}
        rows: list[dict[str, Any]] = []
        if limit and known != 0:
            raw, wanted = read_page(plan, sort, descending, columns, limit, offset, known)
            rows = shape_rows(conn, raw, wanted)
        if known is not None:
            total = known if count_cap is None else min(known, count_cap + 1)
        elif 0 < len(rows) < limit or (offset == 0 and limit and not rows):
            # A short page is the last one: its end is the total, no count needed.
            total = offset + len(rows)
        else:
            total = plan.count(flt, count_cap)
    capped = count_cap is not None and total > count_cap
    page = ContactPage(rows, total, limit, offset, sort, descending, capped)
    return Exploration(page, found)


def iter_contact_chunks(
    db: Database,
    flt: ContactFilter | None = None,
    *,
    sort: str = "updated_at",
    descending: bool = True,
    columns: Sequence[str] | None = None,
    chunk_rows: int = 2000,
) -> Iterator[list[dict[str, Any]]]:
    """Every matching contact, in `query_contacts`' rows and order, as lists of `chunk_rows`.

    Streams from the database (PostgreSQL: a server-side cursor; SQLite: its lazy cursor)
    so memory is bounded by the chunk size, not the number of matches.
    """
    if chunk_rows < 1:
        raise ValueError("chunk_rows must be 1 or more")
    # Built (and validated) now, so a bad sort or column raises here, not mid-stream.
    where = filter_terms(flt or ContactFilter(), db.dialect)
    stmt, wanted = rows_select(where, sort, descending, columns)
    if db.is_sqlite:
        stmt = with_memberships(stmt, wanted)
    return _stream(db, stmt, wanted, chunk_rows)


def _stream(
    db: Database, stmt: sa.Select[Any], wanted: list[str], chunk_rows: int
) -> Iterator[list[dict[str, Any]]]:
    with reading(db) as conn:
        if not db.is_sqlite:
            # One snapshot for the streamed rows and the per-chunk membership lookups.
            conn.execution_options(isolation_level="REPEATABLE READ")
            yield from _partitions(conn, stmt, wanted, chunk_rows)
            return
        # A sort SQLite cannot take from an index (say by email) holds every row in its
        # sorter; with the connection's temp_store=MEMORY that is RAM growing with the
        # result. Spill it to temporary files for this statement, then put the setting back
        # (the connection returns to a pool).
        before = conn.exec_driver_sql("PRAGMA temp_store").scalar()
        conn.exec_driver_sql("PRAGMA temp_store=FILE")
        try:
            yield from _partitions(conn, stmt, wanted, chunk_rows)
        finally:
            conn.exec_driver_sql(f"PRAGMA temp_store={int(before or 0)}")


def _partitions(
    conn: Connection, stmt: sa.Select[Any], wanted: list[str], chunk_rows: int
) -> Iterator[list[dict[str, Any]]]:
    result = conn.execution_options(stream_results=True, yield_per=chunk_rows).execute(stmt)
    try:
        for partition in result.partitions(chunk_rows):
            yield shape_rows(conn, partition, wanted)
    finally:
        result.close()


def count_contacts(db: Database, flt: ContactFilter | None = None, cap: int | None = None) -> int:
    """How many contacts match. With `cap`, counting stops at `cap + 1`: a result above `cap`
    means "more than cap" (see `format_count`)."""
    if cap is not None and cap < 0:
        raise ValueError("cap must be 0 or more")
    flt = flt or ContactFilter()
    with exploring(db) as conn:
        return Plan(conn, db.dialect, flt, narrow=False).count(flt, cap)


def format_count(count: int, cap: int | None = None) -> str:
    """ "1,234", or ">10,000" when a capped count went past its cap."""
    if cap is not None and count > cap:
        return f">{cap:,}"
    return f"{count:,}"


def get_contact(db: Database, hubspot_id: str | int) -> dict[str, Any] | None:
    """One contact with every stored field, its `properties`, `segments` (names),
    `list_memberships` (names) and `lists` (`{"list_id", "name"}`), archived or not."""
    key = str(hubspot_id).strip()
    selected = [CONTACTS.c[name] for name in (*STORED, "properties")]
    with reading(db) as conn:
        row = conn.execute(sa.select(*selected).where(CONTACTS.c.hubspot_id == key)).first()
        if row is None:
            return None
        contact = dict(row._mapping)
        contact["archived"] = bool(contact["archived"])
        contact["properties"] = contact["properties"] or {}
        contact["segments"] = segments_of(conn, [key]).get(key, [])
        lists = lists_of(conn, [key]).get(key, [])
    contact["list_memberships"] = [item["name"] for item in lists]
    contact["lists"] = lists
    return contact
