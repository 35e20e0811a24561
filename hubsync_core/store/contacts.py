"""Writes to the contacts and the tables hanging off them. Every function takes a connection
inside the caller's transaction (`Database.transaction()`), so a page of contacts and the
sync checkpoint that follows it commit together.

Bulk everywhere, never a round trip per row: on SQLite one `INSERT ... ON CONFLICT` statement
executed with many parameter sets (the driver's executemany) per call; on PostgreSQL a COPY
into a staging table and one `INSERT ... SELECT ... ON CONFLICT` (`pg_stage`).

NUL bytes: PostgreSQL text cannot hold U+0000. The sync engine strips them (and records the
alteration) before calling `upsert_contacts`; the store strips any that still arrive, in
every text column and every string property value, so a stray NUL never aborts a page.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from itertools import islice
from typing import Any, TypedDict

from sqlalchemy import Connection, Table, column, delete, func, or_, select, table, update
from sqlalchemy.dialects import postgresql, sqlite

from hubsync_core.clock import naive_utc, utcnow
from hubsync_core.store.contact_params import COLUMNS as _COLUMNS
from hubsync_core.store.contact_params import ID as _ID
from hubsync_core.store.contact_params import UPDATED_AT as _UPDATED_AT
from hubsync_core.store.contact_params import (
    PreparedContacts,
    prepare_contacts,
    prepare_row,
    stamp_for,
)
from hubsync_core.store.contact_params import clean as _clean
from hubsync_core.store.database import Database
from hubsync_core.store.models import (
    Contact,
    ContactSegmentRow,
    HubSpotList,
    ListMembership,
    RejectedRecord,
)
from hubsync_core.store.pg_stage import STAGE, StagedUpsert

CONTACTS = Contact.__table__  # type: ignore[attr-defined]
SEGMENTS = ContactSegmentRow.__table__  # type: ignore[attr-defined]
LISTS = HubSpotList.__table__  # type: ignore[attr-defined]
MEMBERS = ListMembership.__table__  # type: ignore[attr-defined]
REJECTED = RejectedRecord.__table__  # type: ignore[attr-defined]

#: Rows per statement for id lists and membership inserts (well under SQLite's variable cap).
CHUNK = 1000
#: Longest rejected-record sample kept (the reason says what was wrong; the sample illustrates).
SAMPLE_CHARS = 500


class ContactRow(TypedDict, total=False):
    """One contact as `upsert_contacts` takes it: the Contact columns (hubspot_id required)."""

    hubspot_id: str
    email: str | None
    firstname: str | None
    lastname: str | None
    company: str | None
    phone: str | None
    jobtitle: str | None
    lifecyclestage: str | None
    properties: dict[str, Any]
    created_at: datetime | None
    updated_at: datetime | None
    synced_at: datetime
    archived: bool
    archived_at: datetime | None
    archived_reason: str | None


#: Columns an accepted incoming row overwrites (everything but the key and seen_generation).
_REPLACED = tuple(name for name in _COLUMNS if name not in ("hubspot_id", "seen_generation"))


def dialect_insert(conn: Connection) -> Callable[[Table], Any]:
    """The connection's dialect INSERT construct (SQLite's and PostgreSQL's both offer
    `on_conflict_do_update` / `on_conflict_do_nothing` and `excluded`)."""
    return postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert


def _newest_per_id(params: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """One row per id (the newest `updated_at`; the later one on a tie), in input order.

    PostgreSQL refuses a statement that updates the same row twice, and order within a page
    must not decide which copy wins. (SQLite's stored time texts order like the times.)
    """
    chosen: dict[str, tuple[Any, ...]] = {}
    for p in params:
        key = p[_ID]
        old = chosen.get(key)
        if old is not None and _older(p[_UPDATED_AT], old[_UPDATED_AT]):
            continue
        chosen[key] = p
    return list(chosen.values())


def _older(a: Any, b: Any) -> bool:
    """Is `a` strictly older than `b` (an unknown time counts as older than any known one)?"""
    if a is None:
        return b is not None
    return b is not None and a < b


class _Upsert:
    """The upsert compiled once per dialect.

    SQLite: driver SQL executed with plain tuples (`exec_driver_sql` keeps the caller's
    transaction, SQLAlchemy's error wrapping and cursor events, but skips per-row parameter
    processing: construct_params and the JSON and DATETIME processors cost more than the
    database's own work). PostgreSQL: the same rule applied from a COPY-loaded staging table
    (see `pg_stage`).
    """

    def __init__(self, conn: Connection, with_generation: bool) -> None:
        dialect = conn.dialect
        self.postgresql = dialect.name == "postgresql"
        self.stamp: Callable[[Any], Any] = stamp_for(dialect.name)
        self.staged: StagedUpsert | None = None
        if self.postgresql:
            stage = table(STAGE, *(column(name) for name in _COLUMNS))
            source = select(*(stage.c[name] for name in _COLUMNS))
            apply = _on_conflict(
                postgresql.insert(CONTACTS).from_select(list(_COLUMNS), source), with_generation
            )
            sql = apply.compile(dialect=dialect).string
            self.staged = StagedUpsert(CONTACTS.name, _COLUMNS, sql)
            return
        stmt = _on_conflict(dialect_insert(conn)(CONTACTS), with_generation)
        if dialect.paramstyle not in ("qmark", "format"):
            # Positional placeholders, so parameters travel as tuples.
            dialect = type(dialect)(paramstyle="format")
        compiled = stmt.compile(dialect=dialect, column_keys=list(_COLUMNS))
        order = tuple(compiled.positiontup or ())
        if order != _COLUMNS:
            raise RuntimeError(f"unexpected upsert parameter order {order}")
        self.sql = compiled.string

    def execute(self, conn: Connection, params: list[tuple[Any, ...]]) -> int:
        """Run the upsert for `params`; returns rows inserted or replaced (-1 if unknown).

        SQLite: one executemany (sqlite3 steps one prepared statement per row).
        PostgreSQL: COPY into the staging table and one INSERT ... SELECT.
        """
        if self.staged is not None:
            return self.staged.execute(conn, params)
        options = {"preserve_rowcount": True}
        return int(conn.exec_driver_sql(self.sql, params, execution_options=options).rowcount)


def _on_conflict(stmt: Any, with_generation: bool) -> Any:
    """The upsert's rule on an INSERT: an accepted row replaces every column; a stored row
    with a newer `updated_at` is kept (see `upsert_contacts`)."""
    excluded = stmt.excluded
    replace: dict[str, Any] = {name: excluded[name] for name in _REPLACED}
    if with_generation:
        replace["seen_generation"] = excluded.seen_generation
    return stmt.on_conflict_do_update(
        index_elements=[CONTACTS.c.hubspot_id],
        set_=replace,
        where=or_(
            CONTACTS.c.updated_at.is_(None),
            excluded.updated_at >= CONTACTS.c.updated_at,
        ),
    )


_UPSERTS: dict[tuple[str, str, bool], _Upsert] = {}


def _upsert_for(conn: Connection, with_generation: bool) -> _Upsert:
    dialect = conn.dialect
    key = (dialect.name, dialect.driver, with_generation)
    found = _UPSERTS.get(key)
    if found is None:
        found = _UPSERTS[key] = _Upsert(conn, with_generation)
    return found


def upsert_contacts(
    conn: Connection,
    rows: Sequence[Mapping[str, Any]] | PreparedContacts,
    *,
    generation: int | None = None,
) -> int:
    """Insert or update contacts in bulk; returns how many rows were inserted or replaced.

    - A stored row whose `updated_at` is newer than the incoming row's is kept as it is
      (an incoming row without `updated_at` never replaces one with it; a stored row without
      it is always replaced).
    - An accepted row replaces every column, so an incoming live row un-archives the contact.
    - With `generation`, every incoming id is stamped `seen_generation = generation`, also
      when its data was kept as newer: seen is seen (the vanished sweep relies on it).
    - Missing `synced_at` defaults to now; aware datetimes are converted to naive UTC; NUL
      bytes are stripped (see the module docstring).
    - `rows` may come from `prepare_contacts` (for this dialect and generation).
    """
    if not rows:
        return 0
    upsert = _upsert_for(conn, generation is not None)
    if isinstance(rows, PreparedContacts):
        if (rows.dialect, rows.generation) != (conn.dialect.name, generation):
            raise ValueError("contacts prepared for another dialect or generation")
        params: list[tuple[Any, ...]] = rows
    else:
        stamp, gen, synced = upsert.stamp, generation or 0, {}
        now = stamp(utcnow())
        params = [prepare_row(row, now, gen, stamp, synced) for row in rows]
    if len({p[_ID] for p in params}) != len(params):
        params = _newest_per_id(params)
    written = upsert.execute(conn, params)
    counted = written >= 0  # a driver that cannot count executemany answers -1
    if generation is not None and (not counted or written < len(params)):
        # Some rows were kept as newer: their conflict update did not run, stamp them here.
        mark_seen(conn, (p[_ID] for p in params), generation)
    return written if counted else len(params)


def mark_seen(conn: Connection, ids: Iterable[str], generation: int) -> int:
    """Stamp stored contacts as seen by `generation` (id sweeps); returns rows changed."""
    total = 0
    for chunk in _chunks(ids, CHUNK):
        total += conn.execute(
            update(CONTACTS)
            .where(CONTACTS.c.hubspot_id.in_(chunk), CONTACTS.c.seen_generation < generation)
            .values(seen_generation=generation)
        ).rowcount
    return total


def count_live(db: Database | Connection, *, modified_by: datetime) -> int:
    """Live contacts whose stored `updated_at` is at or before `modified_by` (naive UTC)."""
    query = select(func.count()).where(
        CONTACTS.c.archived.is_(False), CONTACTS.c.updated_at <= modified_by
    )
    if isinstance(db, Connection):
        return int(db.execute(query).scalar_one())
    with db.connect() as conn:
        return int(conn.execute(query).scalar_one())


def count_seen(db: Database | Connection, generation: int | None) -> int:
    """Live contacts already stamped by `generation` (0 when there is none)."""
    if generation is None:
        return 0
    query = select(func.count()).where(
        CONTACTS.c.seen_generation == generation, CONTACTS.c.archived.is_(False)
    )
    if isinstance(db, Connection):
        return int(db.execute(query).scalar_one())
    with db.connect() as conn:
        return int(conn.execute(query).scalar_one())


def _archive(conn: Connection, items: Mapping[str, datetime | None], reason: str) -> int:
    """Archive the given ids (inserting a minimal row for unknown ones) in one statement."""
    return _archive_each(conn, [(hubspot_id, at, reason) for hubspot_id, at in items.items()])


def _archive_each(conn: Connection, items: Sequence[tuple[str, datetime | None, str]]) -> int:
    """Archive each `(id, archived_at, reason)` (a minimal row for unknown ids) in one
    statement; a missing time means now."""
    if not items:
        return 0
    now = utcnow()
    params = [
        {
            "hubspot_id": str(_clean(hubspot_id)),
            "properties": {},
            "synced_at": now,
            "archived": True,
            "archived_at": naive_utc(at) or now,
            "archived_reason": _clean(reason),
            "seen_generation": 0,
        }
        for hubspot_id, at, reason in items
    ]
    written = conn.execute(_archive_statement(conn), params).rowcount
    return written if written >= 0 else len(params)


_ARCHIVE_STATEMENTS: dict[str, Any] = {}


def _archive_statement(conn: Connection) -> Any:
    """The archiving upsert, built once per dialect (building it costs more than running it
    for the one merged contact a page usually carries)."""
    found = _ARCHIVE_STATEMENTS.get(conn.dialect.name)
    if found is not None:
        return found
    stmt = dialect_insert(conn)(CONTACTS)
    # Re-reading an archived contact changes nothing (its first archived_at stays), so a
    # repeated pass is idempotent and the row count says how many were newly archived.
    stmt = stmt.on_conflict_do_update(
        index_elements=[CONTACTS.c.hubspot_id],
        set_={
            "archived": True,
            "archived_at": stmt.excluded.archived_at,
            "archived_reason": stmt.excluded.archived_reason,
        },
        where=or_(
            CONTACTS.c.archived.is_(False),
            CONTACTS.c.archived_reason.is_distinct_from(stmt.excluded.archived_reason),
        ),
    ).execution_options(preserve_rowcount=True)
    _ARCHIVE_STATEMENTS[conn.dialect.name] = stmt
    return stmt


def mark_archived(
    conn: Connection, items: Sequence[tuple[str, datetime | None]], reason: str = "archived"
) -> int:
    """Archive contacts HubSpot lists as archived; returns how many rows were marked.

    `items` are `(hubspot_id, archived_at)`; a missing time means now. Unknown ids get a
    minimal archived row (so an archived contact is known as such, never silently absent).
    The archived listing is authoritative when read: archival does not look at `updated_at`,
    and a later live copy of the contact (not older than the stored one) restores it.
    """
    return _archive(conn, dict(items), reason)


def mark_merged(conn: Connection, loser_ids: Iterable[str], winner_id: str) -> int:
    """Archive contacts merged into `winner_id` (reason "merged into <id>")."""
    return mark_merges(conn, [(winner_id, loser_ids)])


def mark_merges(conn: Connection, merges: Iterable[tuple[str, Iterable[str]]]) -> int:
    """`mark_merged` for every `(winner, losers)` in one statement, as if one after another
    (a loser two winners name ends up merged into the later one)."""
    now = utcnow()
    items: dict[str, str] = {}
    for winner, losers in merges:
        for loser in losers:
            if loser != winner:
                items.pop(loser, None)  # re-inserted: the statement's order is the calls'
                items[loser] = winner
    return _archive_each(conn, [(loser, now, f"merged into {w}") for loser, w in items.items()])


def mark_vanished(conn: Connection, generation: int) -> int:
    """Archive live contacts not seen by `generation` (reason "vanished"); returns how many."""
    now = utcnow()
    result = conn.execute(
        update(CONTACTS)
        .where(CONTACTS.c.archived.is_(False), CONTACTS.c.seen_generation < generation)
        .values(archived=True, archived_at=now, archived_reason="vanished")
    )
    return int(result.rowcount)


def clear_contacts(conn: Connection) -> int:
    """Delete every contact with its segment and list memberships (sync runs, the lists
    themselves and sync state stay); returns how many contacts were deleted."""
    conn.execute(delete(SEGMENTS))
    conn.execute(delete(MEMBERS))
    return int(conn.execute(delete(CONTACTS)).rowcount)


def erase_contacts(conn: Connection, ids: Collection[str]) -> int:
    """Delete contacts and every row about them (segment and list memberships, rejected
    record samples): what a GDPR erasure asks. Returns how many contacts were deleted."""
    total = 0
    for chunk in _chunks(ids, CHUNK):
        conn.execute(delete(SEGMENTS).where(SEGMENTS.c.hubspot_id.in_(chunk)))
        conn.execute(delete(MEMBERS).where(MEMBERS.c.hubspot_id.in_(chunk)))
        conn.execute(delete(REJECTED).where(REJECTED.c.hubspot_id.in_(chunk)))
        total += int(
            conn.execute(delete(CONTACTS).where(CONTACTS.c.hubspot_id.in_(chunk))).rowcount
        )
    return total


def _field(item: Any, name: str, default: Any = None) -> Any:
    if isinstance(item, Mapping):
        return item.get(name, default)
    return getattr(item, name, default)


def replace_lists(conn: Connection, lists: Sequence[Any]) -> int:
    """Make the stored HubSpot lists exactly `lists` (ListInfo objects or dicts with
    list_id, name, size, processing_type); memberships of lists that are gone go too.
    Returns how many lists are stored."""
    now = utcnow()
    params = {
        str(_field(info, "list_id")): {
            "list_id": str(_field(info, "list_id")),
            "name": _clean(_field(info, "name") or ""),
            "size": _field(info, "size"),
            "processing_type": _clean(_field(info, "processing_type")),
            "synced_at": now,
        }
        for info in lists
    }
    if not params:
        conn.execute(delete(MEMBERS))
        conn.execute(delete(LISTS))
        return 0
    keep = list(params)
    conn.execute(delete(MEMBERS).where(MEMBERS.c.list_id.not_in(keep)))
    conn.execute(delete(LISTS).where(LISTS.c.list_id.not_in(keep)))
    stmt = dialect_insert(conn)(LISTS)
    stmt = stmt.on_conflict_do_update(
        index_elements=[LISTS.c.list_id],
        set_={
            name: stmt.excluded[name] for name in ("name", "size", "processing_type", "synced_at")
        },
    )
    conn.execute(stmt, list(params.values()))
    return len(params)


def replace_list_members(conn: Connection, list_id: str, ids: Iterable[str]) -> int:
    """Make `list_id`'s members exactly `ids`, reading them as a stream (memory stays
    bounded by one chunk whatever the list's size); returns how many members are stored."""
    conn.execute(delete(MEMBERS).where(MEMBERS.c.list_id == list_id))
    stmt = (
        dialect_insert(conn)(MEMBERS)
        .on_conflict_do_nothing()
        .execution_options(preserve_rowcount=True)
    )
    total = 0
    for chunk in _chunks(ids, CHUNK):
        rows = [{"list_id": list_id, "hubspot_id": str(i)} for i in chunk]
        written = conn.execute(stmt, rows).rowcount
        total += written if written >= 0 else len(rows)
    return total


def record_rejections(conn: Connection, run_id: int | None, items: Iterable[Any]) -> int:
    """Record refused or altered records with their reason; returns how many were recorded.

    Items are objects or dicts with `hubspot_id`, `reason`, `sample` (optional), or tuples in
    that order. Samples are cut to `SAMPLE_CHARS`.
    """
    now = utcnow()
    rows = []
    for item in items:
        if isinstance(item, tuple):
            hubspot_id, reason, sample = (*item, None)[:3]
        else:
            hubspot_id, reason = _field(item, "hubspot_id"), _field(item, "reason")
            sample = _field(item, "sample")
        if sample is not None:
            sample = _clean(str(sample))[:SAMPLE_CHARS]
        rows.append(
            {
                "run_id": run_id,
                "hubspot_id": _clean(None if hubspot_id is None else str(hubspot_id)),
                "reason": _clean(str(reason)),
                "sample": sample,
                "recorded_at": now,
            }
        )
    if rows:
        conn.execute(REJECTED.insert(), rows)
    return len(rows)


def _chunks(items: Iterable[str], size: int) -> Iterator[list[str]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


__all__ = [
    "ContactRow",
    "PreparedContacts",
    "clear_contacts",
    "count_live",
    "count_seen",
    "erase_contacts",
    "mark_archived",
    "mark_merged",
    "mark_merges",
    "mark_seen",
    "mark_vanished",
    "prepare_contacts",
    "record_rejections",
    "replace_list_members",
    "replace_lists",
    "upsert_contacts",
]


def count_all_live(db: Database | Connection) -> int:
    """Live (not archived) contacts stored."""
    query = select(func.count()).where(CONTACTS.c.archived.is_(False))
    if isinstance(db, Connection):
        return int(db.execute(query).scalar_one())
    with db.connect() as conn:
        return int(conn.execute(query).scalar_one())
