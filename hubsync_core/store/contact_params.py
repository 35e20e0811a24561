"""The contacts upsert's parameters: one tuple per row, in the table's column order.

Building them (NUL stripping, naive UTC times rendered for the driver, the properties as JSON
text) is per-row Python work, so the sync does it in its fetch threads, ahead of the write
transaction (`prepare_contacts`, or `sync.records.prepare_page` straight from HubSpot's
records); `contacts.upsert_contacts` takes the result as it is.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from itertools import chain
from typing import Any

import orjson

from hubsync_core.clock import naive_utc, utcnow
from hubsync_core.columns import TEXT_LIKE
from hubsync_core.store.models import Contact

CONTACTS = Contact.__table__  # type: ignore[attr-defined]

#: Every column the upsert writes, in the table's order (that of its parameter tuples).
COLUMNS: tuple[str, ...] = tuple(column.name for column in CONTACTS.columns)
#: The text-like columns, as `prepare_row` cleans them: the id first, `archived_reason` last.
TEXT_COLUMNS = tuple(name for name in COLUMNS if name in TEXT_LIKE)
ID, UPDATED_AT = COLUMNS.index("hubspot_id"), COLUMNS.index("updated_at")


def clean(value: Any) -> Any:
    """`value` without NUL bytes if it is text (PostgreSQL text cannot hold U+0000)."""
    if isinstance(value, str) and "\x00" in value:
        return value.replace("\x00", "")
    return value


def _has_nul(values: Iterable[Any]) -> bool:
    # One C-level scan of the joined strings: far cheaper than a test per value.
    values = list(values)
    try:
        return "\x00" in "".join(filter(None, values))
    except TypeError:  # a value that is not text (and not empty)
        return any(isinstance(v, str) and "\x00" in v for v in values)


def properties_json(properties: Mapping[str, Any]) -> str:
    """The properties as JSON text: orjson (4x faster than the standard library here), or the
    standard library for what orjson refuses (lone surrogates, keys that are not text).
    Either text reads back as the same values through the JSON column."""
    try:
        return orjson.dumps(properties).decode()
    except TypeError:  # orjson.JSONEncodeError
        return json.dumps(properties)


def sqlite_time(value: datetime | None) -> str | None:
    """A naive datetime as SQLAlchemy's SQLite DATETIME stores it (always with microseconds),
    so stored texts compare in time order with those written by the ORM types."""
    return None if value is None else value.isoformat(" ", "microseconds")


def _as_is(value: Any) -> Any:
    return value


def stamp_for(dialect: str) -> Callable[[Any], Any]:
    """How a naive UTC datetime travels to `dialect`'s driver: SQLite's text, or as it is."""
    return _as_is if dialect == "postgresql" else sqlite_time


def stamp_time(value: datetime | None, stamp: Callable[[Any], Any]) -> Any:
    """`value` (naive UTC, or aware and converted) rendered by `stamp`."""
    if value is not None and value.tzinfo is not None:
        value = naive_utc(value)
    return stamp(value)


def prepare_row(
    row: Mapping[str, Any],
    now: Any,
    generation: int,
    stamp: Callable[[Any], Any],
    synced: dict[datetime, Any],
) -> tuple[Any, ...]:
    """One row as the statement's parameter tuple (`stamp` renders a time for the driver;
    `now` is already rendered; `synced` remembers rendered `synced_at` values: a page shares
    one)."""
    get = row.get
    texts = [get(name) for name in TEXT_COLUMNS]
    properties = get("properties") or {}
    # One scan for NUL bytes in the columns, property names and values (hot: once a row).
    if _has_nul(chain(texts, properties, properties.values())):
        texts = [clean(v) for v in texts]
        properties = {clean(k): clean(v) for k, v in properties.items()}
    hubspot_id = texts[0]
    if not hubspot_id:
        raise ValueError("every contact row needs a hubspot_id")
    synced_at = get("synced_at")
    if synced_at is None:
        synced_value = now
    else:
        synced_value = synced.get(synced_at)
        if synced_value is None:
            synced_value = synced[synced_at] = stamp_time(synced_at, stamp)
    return (
        hubspot_id if type(hubspot_id) is str else str(hubspot_id),
        *texts[1:8],
        properties_json(properties),
        stamp_time(get("created_at"), stamp),
        stamp_time(get("updated_at"), stamp),
        synced_value,
        bool(get("archived", False)),
        stamp_time(get("archived_at"), stamp),
        texts[8],
        generation,
    )


class PreparedContacts(list[tuple[Any, ...]]):
    """Contact rows already turned into the upsert's parameters (see `prepare_contacts`)."""

    def __init__(
        self, params: Iterable[tuple[Any, ...]], dialect: str, generation: int | None
    ) -> None:
        super().__init__(params)
        self.dialect = dialect
        self.generation = generation

    @classmethod
    def join(cls, parts: Sequence[PreparedContacts]) -> PreparedContacts:
        """Several prepared pages as one (same dialect and generation)."""
        first = parts[0]
        if any((p.dialect, p.generation) != (first.dialect, first.generation) for p in parts):
            raise ValueError("prepared contacts of different dialects or generations")
        return cls((row for part in parts for row in part), first.dialect, first.generation)


def prepare_contacts(
    dialect: str, rows: Sequence[Mapping[str, Any]], *, generation: int | None = None
) -> PreparedContacts:
    """Turn contact rows into `upsert_contacts`' parameters ahead of the write transaction.

    The same work `upsert_contacts` does on plain rows (NUL stripping, naive UTC, the JSON
    text): done here, it can run in a fetch thread while the writer's database work runs.
    `dialect` is `Database.dialect` ("sqlite" or "postgresql").
    """
    stamp = stamp_for(dialect)
    now, gen, synced = stamp(utcnow()), generation or 0, {}
    return PreparedContacts(
        (prepare_row(row, now, gen, stamp, synced) for row in rows), dialect, generation
    )
