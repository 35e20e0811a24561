"""Which contacts an operation acts on: rows ticked in the explorer (ids) or the whole result
of an explorer filter, any size, resolved against the local database."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode

import sqlalchemy as sa

from hubsync_core.columns import COLUMNS, ColumnKind
from hubsync_core.store import explorer
from hubsync_core.store.database import Database
from hubsync_core.store.explorer import ContactFilter
from hubsync_core.store.models import Contact, ListMembership

CONTACTS = Contact.__table__  # type: ignore[attr-defined]
MEMBERS = ListMembership.__table__  # type: ignore[attr-defined]
#: Ids per IN (...) lookup (well under SQLite's parameter limit).
_CHUNK = 500
#: Stored text columns holding the HubSpot property of the same name: read as its value.
_COLUMNS = tuple(
    c.name
    for c in COLUMNS
    if c.hubspot_property == c.name and c.kind in (ColumnKind.TEXT, ColumnKind.CHOICE)
)


@dataclass(frozen=True)
class Selection:
    """Ticked ids, or a filter (the dashboard URL's query string, as `hubsync contacts --query`)."""

    ids: tuple[str, ...] = ()
    query: str | None = None

    def __post_init__(self) -> None:
        cleaned = tuple(dict.fromkeys(i.strip() for i in self.ids if i and i.strip()))
        object.__setattr__(self, "ids", cleaned)
        if bool(cleaned) == (self.query is not None):
            raise ValueError("choose contacts either by ids or by a filter, not both or neither")

    @classmethod
    def of_filter(cls, flt: ContactFilter) -> Selection:
        """The whole result of an explorer filter."""
        return cls(query=urlencode(flt.to_query_params(), doseq=True))

    def contact_filter(self) -> ContactFilter:
        return ContactFilter.from_query_params(parse_qs((self.query or "").lstrip("?")))

    def describe(self) -> str:
        """For the audit log: the filter's query string, or the ids."""
        if self.query is not None:
            return f"filter: {self.query or '(all live contacts)'}"
        shown = ",".join(self.ids[:20])
        more = f" (+{len(self.ids) - 20} more)" if len(self.ids) > 20 else ""
        return f"ids: {shown}{more}"


@dataclass
class LocalContact:
    """What the database knows of one selected contact."""

    hubspot_id: str
    email: str | None
    archived: bool
    properties: dict[str, Any] = field(default_factory=dict)

    def value(self, name: str) -> str | None:
        value = self.properties.get(name)
        return None if value is None else str(value)


def resolve(db: Database, selection: Selection) -> tuple[list[LocalContact], list[str]]:
    """(the selected contacts known locally, in selection order; ids not found locally)."""
    if selection.query is not None:
        ids = list(_filter_ids(db, selection.contact_filter()))
    else:
        ids = list(selection.ids)
    found = {c.hubspot_id: c for c in load(db, ids)}
    return [found[i] for i in ids if i in found], [i for i in ids if i not in found]


def _filter_ids(db: Database, flt: ContactFilter) -> Iterator[str]:
    chunks = explorer.iter_contact_chunks(
        db, flt, sort="hubspot_id", descending=False, columns=["hubspot_id"], chunk_rows=2000
    )
    for chunk in chunks:
        for row in chunk:
            yield str(row["hubspot_id"])


def load(db: Database, ids: Sequence[str]) -> list[LocalContact]:
    """The stored contacts among `ids` (any order); property values include the columns."""
    found: list[LocalContact] = []
    c = CONTACTS.c
    with db.connect() as conn:
        for start in range(0, len(ids), _CHUNK):
            chunk = list(ids[start : start + _CHUNK])
            rows = conn.execute(
                sa.select(c.hubspot_id, c.archived, c.properties, *(c[n] for n in _COLUMNS)).where(
                    c.hubspot_id.in_(chunk)
                )
            ).all()
            for row in rows:
                props = dict(row.properties or {})
                for name in _COLUMNS:
                    props[name] = row._mapping[name]
                found.append(LocalContact(row.hubspot_id, row.email, bool(row.archived), props))
    return found


def list_members(db: Database, list_id: str, ids: Sequence[str]) -> set[str]:
    """Which of `ids` the database records as members of `list_id` (as of the last sync)."""
    members: set[str] = set()
    with db.connect() as conn:
        for start in range(0, len(ids), _CHUNK):
            chunk = list(ids[start : start + _CHUNK])
            members.update(
                conn.execute(
                    sa.select(MEMBERS.c.hubspot_id).where(
                        MEMBERS.c.list_id == str(list_id), MEMBERS.c.hubspot_id.in_(chunk)
                    )
                ).scalars()
            )
    return members


def by_email(db: Database, emails: Sequence[str]) -> dict[str, list[str]]:
    """Lower-cased email → the live contact ids holding it (usually one)."""
    found: dict[str, list[str]] = {}
    wanted = list(dict.fromkeys(e.strip().lower() for e in emails if e and e.strip()))
    c = CONTACTS.c
    with db.connect() as conn:
        for start in range(0, len(wanted), _CHUNK):
            chunk = wanted[start : start + _CHUNK]
            rows = conn.execute(
                sa.select(c.hubspot_id, sa.func.lower(c.email)).where(
                    sa.func.lower(c.email).in_(chunk), c.archived.is_(False)
                )
            ).all()
            for hubspot_id, email in rows:
                found.setdefault(email, []).append(hubspot_id)
    return found
