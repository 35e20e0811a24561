"""Row paging and shaping: ORDER BY, the page and export SELECTs, and rows as dicts."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy import Connection
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.util import ClauseAdapter

from hubsync_core.columns import BY_NAME, MEMBERSHIPS, NAMES, SORTABLE, STORED, ColumnKind
from hubsync_core.store.explorer.planner import Plan
from hubsync_core.store.explorer.sql import (
    CONTACTS,
    LISTS,
    MEMBERS,
    SEGMENTS,
    ids_in,
    no_index,
    opaque,
)
from hubsync_core.store.explorer.terms import (
    archived_term,
    is_trivial,
    membership_tests,
    row_terms,
    stage_terms,
)
from hubsync_core.store.models import SEARCH_SEPARATOR
from hubsync_core.store.property_options import OPTIONS

#: Sorted case-insensitively, empty values last.
_TEXT_SORTS = frozenset(n for n in SORTABLE if BY_NAME[n].kind is ColumnKind.TEXT)
#: Enumerations: sorted in HubSpot's option order, empty values last.
_OPTION_SORTS = frozenset(n for n in SORTABLE if BY_NAME[n].kind is ColumnKind.CHOICE)
#: Any other requested column is read from the `properties` JSON (HubSpot property names).
_PROPERTY_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]{0,99}$")


def order_by(sort: str, descending: bool) -> list[ColumnElement[Any]]:
    """ORDER BY terms: the column (empty values last either way), then the id, numerically."""
    if sort not in SORTABLE:
        raise ValueError(f"Cannot sort by {sort!r}; choose one of {', '.join(SORTABLE)}")
    c = CONTACTS.c

    def direction(expr: ColumnElement[Any]) -> ColumnElement[Any]:
        return expr.desc() if descending else expr.asc()

    # Ids are digit strings: shorter is smaller, then same-length strings compare as numbers.
    # (No CAST: a non-numeric id would break PostgreSQL's cast.)
    by_id = [direction(sa.func.length(c.hubspot_id)), direction(c.hubspot_id)]
    if sort == "hubspot_id":
        return by_id
    column: ColumnElement[Any] = c[sort]
    if sort in _TEXT_SORTS:
        # Case-insensitive (the same order on SQLite and PostgreSQL for ASCII text); an
        # empty value sorts with the missing ones: last.
        return [direction(sa.func.nullif(sa.func.lower(column), "")).nulls_last(), *by_id]
    if sort in _OPTION_SORTS:
        # HubSpot's display order of the options (a pipeline: Subscriber, Lead, ...), then
        # the value itself for an option the properties API did not list.
        rank = (
            sa.select(OPTIONS.c.display_order)
            .where(
                OPTIONS.c.property_name == BY_NAME[sort].hubspot_property,
                OPTIONS.c.value == column,
            )
            .scalar_subquery()
        )
        value = sa.func.nullif(column, "")
        return [direction(rank).nulls_last(), direction(value).nulls_last(), *by_id]
    return [direction(column).nulls_last(), *by_id]


def _split_columns(columns: Sequence[str] | None) -> tuple[list[str], list[str], list[str]]:
    """(stored fields to select, membership fields, property names) for requested columns."""
    wanted = list(dict.fromkeys(columns if columns is not None else NAMES))
    stored, memberships, props = [], [], []
    for name in wanted:
        if name in STORED or name == "properties":
            stored.append(name)
        elif name in MEMBERSHIPS:
            memberships.append(name)
        elif _PROPERTY_NAME.match(name):
            props.append(name)
        else:
            raise ValueError(f"Unknown column {name!r}")
    return stored, memberships, props


def rows_select(
    where: list[ColumnElement[bool]],
    sort: str,
    descending: bool,
    columns: Sequence[str] | None,
    page: tuple[int, int] | None = None,
    ids: sa.Select[Any] | None = None,
) -> tuple[sa.Select[Any], list[str]]:
    """The ordered SELECT behind pages and exports, and the row keys `shape_rows` fills.

    `page` (limit, offset): the page's ids are chosen first, then only those rows read whole.
    `ids`: the page's ids, chosen by the caller (`where` is then not used).
    """
    wanted = list(dict.fromkeys(columns if columns is not None else NAMES))
    stored, _, props = _split_columns(wanted)
    selected = list(dict.fromkeys(["hubspot_id", *stored]))
    if props and "properties" not in selected:
        selected.append("properties")
    order = order_by(sort, descending)
    stmt = sa.select(*(CONTACTS.c[name] for name in selected))
    if page is None:
        return stmt.where(*where).order_by(*order), wanted
    if ids is None:
        limit, offset = page
        ids = sa.select(CONTACTS.c.hubspot_id).where(*where).order_by(*order).limit(limit)
        if offset:
            ids = ids.offset(offset)
    return stmt.where(CONTACTS.c.hubspot_id.in_(ids)).order_by(*order), wanted


#: Result columns `with_memberships` adds: each row's segment keys and list ids, joined.
_JOINED_SEGMENTS, _JOINED_LISTS = "_hubsync_segments", "_hubsync_lists"


def with_memberships(stmt: sa.Select[Any], wanted: list[str]) -> sa.Select[Any]:
    """SQLite: `stmt` with each row's segment keys and list ids as joined columns (for
    exports; `shape_rows` splits them)."""
    for wanted_name, label, table, key in (
        ("segments", _JOINED_SEGMENTS, SEGMENTS, SEGMENTS.c.segment),
        ("list_memberships", _JOINED_LISTS, MEMBERS, MEMBERS.c.list_id),
    ):
        if wanted_name in wanted:
            joined = (
                sa.select(sa.func.group_concat(key, SEARCH_SEPARATOR))
                .where(table.c.hubspot_id == CONTACTS.c.hubspot_id)
                .scalar_subquery()
            )
            stmt = stmt.add_columns(joined.label(label))
    return stmt


_STORED, _PROPERTIES, _SEGMENTS, _LISTS, _PROPERTY = range(5)


def shape_rows(
    conn: Connection, raw: Sequence[sa.Row[Any]], wanted: list[str]
) -> list[dict[str, Any]]:
    """Rows as dicts holding exactly `wanted`, with memberships fetched for just these ids.

    Rows come from `rows_select` (hubspot_id first). Hot for exports (200,000 rows), so
    each column's source is worked out once, not per cell.
    """
    if not raw:
        return []
    index = {name: i for i, name in enumerate(raw[0]._fields)}
    ids = [r[0] for r in raw]
    segments: dict[str, list[str]] = {}
    list_names: dict[str, list[str]] = {}
    if "segments" in wanted:
        if _JOINED_SEGMENTS in index:
            at = index[_JOINED_SEGMENTS]
            segments = {r[0]: sorted(r[at].split(SEARCH_SEPARATOR)) for r in raw if r[at]}
        else:
            segments = segments_of(conn, ids)
    if "list_memberships" in wanted:
        if _JOINED_LISTS in index:
            at = index[_JOINED_LISTS]
            names = {row.list_id: row.name for row in conn.execute(sa.select(LISTS))}
            list_names = {
                r[0]: _list_names(r[at].split(SEARCH_SEPARATOR), names) for r in raw if r[at]
            }
        else:
            lists = lists_of(conn, ids)
            list_names = {h: [item["name"] for item in items] for h, items in lists.items()}
    props_at = index.get("properties", -1)
    plan: list[tuple[str, int, int]] = []
    for name in wanted:
        if name == "segments":
            plan.append((name, _SEGMENTS, 0))
        elif name == "list_memberships":
            plan.append((name, _LISTS, 0))
        elif name in index:
            # A missing `properties` reads as {}; stored values are returned as they are.
            kind = _PROPERTIES if name == "properties" else _STORED
            plan.append((name, kind, index[name]))
        else:
            plan.append((name, _PROPERTY, props_at))
    out: list[dict[str, Any]] = []
    for r in raw:
        row: dict[str, Any] = {}
        for name, kind, at in plan:
            if kind == _STORED:
                row[name] = r[at]
            elif kind == _SEGMENTS:
                row[name] = list(segments.get(r[0], ()))
            elif kind == _LISTS:
                row[name] = list(list_names.get(r[0], ()))
            elif kind == _PROPERTIES:
                row[name] = r[at] or {}
            else:
                row[name] = (r[at] or {}).get(name)
        out.append(row)
    return out


def segments_of(conn: Connection, ids: Sequence[str]) -> dict[str, list[str]]:
    if not ids:
        return {}
    found: dict[str, list[str]] = {}
    stmt = (
        sa.select(SEGMENTS.c.hubspot_id, SEGMENTS.c.segment)
        .where(ids_in(SEGMENTS.c.hubspot_id, list(ids), conn.dialect.name))
        .order_by(SEGMENTS.c.hubspot_id, SEGMENTS.c.segment)
    )
    for hubspot_id, segment in conn.execute(stmt).all():
        found.setdefault(hubspot_id, []).append(segment)
    return found


def _list_names(list_ids: Iterable[str], names: Mapping[str, str | None]) -> list[str]:
    """The names of these lists (the id where unnamed), in `lists_of`'s order."""
    pairs = sorted(((names.get(i) or i).casefold(), i, names.get(i) or i) for i in list_ids)
    return [name for _, _, name in pairs]


def lists_of(conn: Connection, ids: Sequence[str]) -> dict[str, list[dict[str, str]]]:
    """List memberships by contact: `{"list_id", "name"}` sorted by name (id if unnamed)."""
    if not ids:
        return {}
    stmt = (
        sa.select(MEMBERS.c.hubspot_id, MEMBERS.c.list_id, LISTS.c.name)
        .select_from(MEMBERS.outerjoin(LISTS, LISTS.c.list_id == MEMBERS.c.list_id))
        .where(ids_in(MEMBERS.c.hubspot_id, list(ids), conn.dialect.name))
    )
    found: dict[str, list[dict[str, str]]] = {}
    for hubspot_id, list_id, name in conn.execute(stmt).all():
        found.setdefault(hubspot_id, []).append({"list_id": list_id, "name": name or list_id})
    for items in found.values():
        items.sort(key=lambda item: (item["name"].casefold(), item["list_id"]))
    return found


# --- Pages and counts -----------------------------------------------------------------------


@dataclass(frozen=True)
class ContactPage:
    """One page of contacts and the total for the filter.

    `total` is exact unless a `count_cap` was given and exceeded: then `total == cap + 1`
    and `total_capped` is True (show it as "more than cap").
    """

    rows: list[dict[str, Any]]
    total: int
    limit: int
    offset: int
    sort: str
    descending: bool
    total_capped: bool = False

    @property
    def has_next(self) -> bool:
        return self.offset + len(self.rows) < self.total

    @property
    def page_number(self) -> int:
        """1-based page number of this page (for `limit` > 0)."""
        return self.offset // self.limit + 1 if self.limit else 1

    @property
    def page_count(self) -> int:
        if not self.limit:
            return 1
        return max(1, -(-self.total // self.limit))


def check_paging(limit: int, offset: int) -> None:
    if limit < 0:
        raise ValueError("limit must be 0 or more")
    if offset < 0:
        raise ValueError("offset must be 0 or more")


#: Fewest and most ids a page reads in sort order before it falls back to finding the
#: matches first (see `read_page`).
WINDOW_MIN = 2000
WINDOW_LIMIT = 50_000
#: Sorts with an index that starts with `archived` to walk: (archived, date, ..., id), and
#: (archived, length(id), id) for the numeric id order.
_WALK_SORTS = ("updated_at", "created_at", "hubspot_id")


class RawPage(NamedTuple):
    """The database rows of one page and the keys `shape_rows` fills from them."""

    rows: Sequence[sa.Row[Any]]
    wanted: list[str]


def read_page(
    plan: Plan,
    sort: str,
    descending: bool,
    columns: Sequence[str] | None,
    limit: int,
    offset: int,
    total: int | None,
) -> RawPage:
    """The raw rows of one page: from a window of the sort order when that fills the page,
    else by the plan for the whole filter (see PERFORMANCE.md)."""
    page = (limit, offset)
    if (window := _window(plan, sort, limit, offset, total)) is not None:
        if _members_only(plan):
            ids = _window_member_ids(plan, window, sort, descending, page)
            stmt, wanted = rows_select([], sort, descending, columns, page, ids=ids)
        else:
            terms = _window_terms(plan, window, sort, descending)
            stmt, wanted = rows_select(terms, sort, descending, columns, page)
        rows = plan.conn.execute(stmt).all()
        expected = limit if total is None else max(0, min(limit, total - offset))
        if len(rows) == limit or (total is not None and len(rows) == expected):
            return RawPage(rows, wanted)
        if plan.dialect == "postgresql":
            # Fewer matches than their share in the first contacts of the order: they lie
            # further down it, where PostgreSQL's walk of the order (its plan, costed for
            # evenly spread matches) tests every contact on the way. Collect the matches
            # and sort them instead (PERFORMANCE.md, "Pages").
            ids = _sorted_matches(plan, sort, descending, page)
            stmt, wanted = rows_select([], sort, descending, columns, page, ids=ids)
            return RawPage(plan.conn.execute(stmt).all(), wanted)
    stmt, wanted = rows_select(page_where(plan, sort), sort, descending, columns, page)
    return RawPage(plan.conn.execute(stmt).all(), wanted)


def _window(plan: Plan, sort: str, limit: int, offset: int, total: int | None) -> int | None:
    flt = plan.flt
    if sort not in _WALK_SORTS or flt.archived == "include":
        return None  # no index order starting with `archived` to read a window from
    if is_trivial(flt):
        return None  # every contact matches: the plain walk is the page
    wanted = offset + limit
    # Four times the rows the share of matches suggests (without a total: assume 2%).
    share = 50 if total is None else 4 * plan.all_count() // max(total, 1)
    size = max(wanted * share, WINDOW_MIN)
    return size if size <= WINDOW_LIMIT else None


def _members_only(plan: Plan) -> bool:
    """Whether the filter is a segment/list selection and an archived mode, nothing else."""
    flt = plan.flt
    return is_trivial(plan.row_filter) and not flt.lifecycle_stages and plan.narrow_ids() is None


def _window_member_ids(
    plan: Plan, size: int, sort: str, descending: bool, page: tuple[int, int]
) -> sa.Select[Any]:
    """The page's ids among the first `size` contacts in sort order, for a filter of
    memberships only: the window is read once from its index, in order, as a derived
    table, and each of its ids is tested by one membership probe. (Looking every window
    id up again to test it, as `_window_terms` does, costs SQLite 3x the CPU: the HTTP
    API's `segment=chainge&limit=100` page, 3.7 -> 1.1 ms.)"""
    c = CONTACTS.c
    order = order_by(sort, descending)
    archived = archived_term(plan.flt.archived, plan.dialect, indexed=True)
    keys = [c.hubspot_id] + ([c[sort]] if sort != "hubspot_id" else [])
    window = (
        sa.select(*keys)
        .where(*([archived] if archived is not None else []))
        .order_by(*order)
        .limit(size)
        .subquery("explore_window")
    )
    onto_window = ClauseAdapter(window).traverse
    limit, offset = page
    ids = (
        sa.select(window.c.hubspot_id)
        .where(*(onto_window(test) for test in membership_tests(plan.flt)))
        .order_by(*(onto_window(term) for term in order))
        .limit(limit)
    )
    return ids.offset(offset) if offset else ids


def _sorted_matches(
    plan: Plan, sort: str, descending: bool, page: tuple[int, int]
) -> sa.Select[Any]:
    """PostgreSQL: the page's ids from every match, collected first (a MATERIALIZED CTE,
    planned for all matches: hash joins) and then sorted, rather than walked in order."""
    c = CONTACTS.c
    keys = [c.hubspot_id] + ([c[sort]] if sort != "hubspot_id" else [])
    matches = (
        sa.select(*keys)
        .where(*plan.where(plan.flt))
        .cte("explore_matches")
        .prefix_with("MATERIALIZED")
    )
    onto_matches = ClauseAdapter(matches).traverse
    limit, offset = page
    ids = (
        sa.select(matches.c.hubspot_id)
        .order_by(*(onto_matches(term) for term in order_by(sort, descending)))
        .limit(limit)
    )
    return ids.offset(offset) if offset else ids


def _window_terms(plan: Plan, size: int, sort: str, descending: bool) -> list[ColumnElement[bool]]:
    """The filter on the first `size` contacts in sort order, tested row by row."""
    flt, dialect = plan.flt, plan.dialect
    c = CONTACTS.c
    archived = archived_term(flt.archived, dialect, indexed=True)
    window = (
        sa.select(c.hubspot_id)
        .where(*([archived] if archived is not None else []))
        .order_by(*order_by(sort, descending))
        .limit(size)
    )
    ids = plan.narrow_ids()
    rows: list[ColumnElement[bool]] = []
    if ids is not None:
        rows.append(ids_in(no_index(c.hubspot_id, dialect), ids, dialect))
    else:
        rows = [opaque(term, dialect) for term in row_terms(plan.row_filter, dialect)]
    stages = [opaque(term, dialect) for term in stage_terms(flt)]
    return [c.hubspot_id.in_(window), *rows, *membership_tests(flt), *stages]


def page_where(plan: Plan, sort: str) -> list[ColumnElement[bool]]:
    """Terms for the page query sorted by `sort`: on SQLite a date-sorted page walks the
    date index testing each contact, unless matches are sparse; elsewhere the database
    chooses."""
    flt, dialect = plan.flt, plan.dialect
    if not _walk_sort_index(plan, sort):
        return plan.where(flt)
    ids = plan.narrow_ids()
    if ids is None:
        terms = row_terms(plan.row_filter, dialect, walk=True)
    else:
        terms = [ids_in(no_index(CONTACTS.c.hubspot_id, dialect), ids, dialect)]
        if (archived := archived_term(flt.archived, dialect, indexed=True)) is not None:
            terms.append(archived)  # redundant with the ids; it gives the walk
    stages = [opaque(term, dialect) for term in stage_terms(flt)]
    return [*terms, *membership_tests(flt), *stages]


def _walk_sort_index(plan: Plan, sort: str) -> bool:
    flt = plan.flt
    if plan.dialect != "sqlite" or sort not in _WALK_SORTS:
        return False
    if flt.archived == "include":
        return False  # no archived term: nothing to walk the (archived, date) index by
    ids = plan.narrow_ids()
    if ids is not None:
        return len(ids) * 50 >= plan.all_count()
    if flt.search:
        return False
    if flt.segments or flt.list_ids:
        return plan.dense_members(flt)
    return True
