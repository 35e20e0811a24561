"""The tables. All times are naive UTC datetimes (the same on SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import JSON, BigInteger, Column, DateTime, Index, Text
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Field, SQLModel

from hubsync_core.run_status import RunStatus

#: Column type of every timestamp: naive UTC (`timestamp without time zone` on PostgreSQL).
#: Spelled out because newer SQLModel releases map a bare `datetime` to an aware type that
#: refuses naive values.
NAIVE_UTC = DateTime(timezone=False)


class Contact(SQLModel, table=True):
    """One HubSpot contact. Segment and list membership live in their own tables.

    Indexes (schema version 2, see `migrations`) carry what the Contacts explorer filters,
    counts and sorts by, so a filter change reads narrow indexes instead of the wide rows
    (`properties` is most of a row): see also the date indexes after the class.
    """

    __tablename__ = "contacts"
    __table_args__ = (
        # Lookups by email, company or stage, and pages sorted by them (read from the index).
        Index("ix_contacts_email_live", "email", "archived", "hubspot_id"),
        Index("ix_contacts_company_live", "company", "archived", "hubspot_id"),
        Index("ix_contacts_stage_live", "lifecyclestage", "archived", "hubspot_id"),
        # From a member id (segment, list, search hit) to what the filter and facets test.
        Index(
            "ix_contacts_id_facets",
            "hubspot_id",
            "archived",
            "lifecyclestage",
            "created_at",
            "updated_at",
        ),
    )

    hubspot_id: str = Field(primary_key=True, max_length=40)
    email: str | None = Field(default=None, sa_column=Column(Text))
    firstname: str | None = Field(default=None, sa_column=Column(Text))
    lastname: str | None = Field(default=None, sa_column=Column(Text))
    company: str | None = Field(default=None, sa_column=Column(Text))
    phone: str | None = Field(default=None, sa_column=Column(Text))
    jobtitle: str | None = Field(default=None, sa_column=Column(Text))
    lifecyclestage: str | None = Field(default=None, sa_column=Column(Text))
    #: Every synced HubSpot property, values as strings or null (as HubSpot sends them).
    properties: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    #: HubSpot `createdate` (falls back to the record's createdAt).
    created_at: datetime | None = Field(default=None, sa_type=NAIVE_UTC)
    #: HubSpot `lastmodifieddate` (falls back to the record's updatedAt).
    updated_at: datetime | None = Field(default=None, sa_type=NAIVE_UTC)
    synced_at: datetime = Field(sa_type=NAIVE_UTC)
    archived: bool = Field(default=False)
    archived_at: datetime | None = Field(default=None, sa_type=NAIVE_UTC)
    #: Why a contact left the live set: "archived", "merged into 123", "vanished".
    archived_reason: str | None = Field(default=None, sa_column=Column(Text))
    #: The full-sync generation that last saw this contact (drives the vanished-id sweep).
    seen_generation: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, default=0))


def _date_indexes() -> None:
    """Pages sorted by a date walk these (newest first by default); counts and facets under
    a date range read them alone. SQLite walks an ascending index backwards for `DESC NULLS
    LAST` (NULL sorts first); PostgreSQL needs the index in that order (a backward scan
    would give `NULLS FIRST`)."""
    c = Contact.__table__.c  # type: ignore[attr-defined]
    for name, date, other in (
        ("updated", c.updated_at, c.created_at),
        ("created", c.created_at, c.updated_at),
    ):
        rest = (other, c.lifecyclestage, c.hubspot_id)
        Index(f"ix_contacts_archived_{name}", c.archived, date, *rest).ddl_if(dialect="sqlite")
        newest_first = date.desc().nulls_last()
        Index(f"ix_contacts_{name}_desc", c.archived, newest_first, *rest).ddl_if(
            dialect="postgresql"
        )


_date_indexes()

#: Pages in id order (the SDK's `get_contacts` and the HTTP API's default, numeric: shorter
#: ids first) walk this (archived, length(id), id) index instead of sorting every match.
#: Created by migration step 3 (an expression index, like `SEARCH_INDEX`).
ID_ORDER_INDEX = "ix_contacts_archived_id"


class ContactSegmentRow(SQLModel, table=True):
    """Segment membership: filtering by segment is an index lookup."""

    __tablename__ = "contact_segments"
    # (hubspot_id, segment): a contact's segments from the index alone (facet counts).
    __table_args__ = (Index("ix_contact_segments_member", "hubspot_id", "segment"),)

    segment: str = Field(primary_key=True, max_length=80)
    hubspot_id: str = Field(primary_key=True, max_length=40)


class SegmentDefinition(SQLModel, table=True):
    """A segment: a name, a colour and a rule (JSON, see `hubsync_core.segments`)."""

    __tablename__ = "segment_definitions"

    name: str = Field(primary_key=True, max_length=80)
    colour: str = Field(default="#4C78A8", max_length=20)
    rule: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    builtin: bool = Field(default=False)
    position: int = Field(default=0)
    updated_at: datetime = Field(sa_type=NAIVE_UTC)


class HubSpotList(SQLModel, table=True):
    """A HubSpot list (Lists v3, ILS id) seen by the last list-membership pass."""

    __tablename__ = "hubspot_lists"

    list_id: str = Field(primary_key=True, max_length=40)
    name: str = Field(sa_column=Column(Text, nullable=False))
    size: int | None = Field(default=None)
    processing_type: str | None = Field(default=None, max_length=40)
    synced_at: datetime = Field(sa_type=NAIVE_UTC)


class ListMembership(SQLModel, table=True):
    __tablename__ = "list_memberships"
    # (hubspot_id, list_id): a contact's lists from the index alone (facet counts).
    __table_args__ = (Index("ix_list_memberships_member", "hubspot_id", "list_id"),)

    list_id: str = Field(primary_key=True, max_length=40)
    hubspot_id: str = Field(primary_key=True, max_length=40)


class SyncRun(SQLModel, table=True):
    """One sync attempt, its counters, and its checkpoint for resuming."""

    __tablename__ = "sync_runs"

    id: int | None = Field(default=None, primary_key=True)
    mode: str = Field(max_length=20)  # full | incremental | chainge | sweep
    status: str = Field(default=RunStatus.RUNNING, max_length=20, index=True)
    started_at: datetime = Field(sa_type=NAIVE_UTC)
    finished_at: datetime | None = Field(default=None, sa_type=NAIVE_UTC)
    heartbeat_at: datetime | None = Field(default=None, sa_type=NAIVE_UTC)
    #: Who started it: "cli", "dashboard", "sdk", with host and pid.
    owner: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    options: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    pages: int = Field(default=0)
    contacts: int = Field(default=0)
    api_calls: int = Field(default=0)
    retries: int = Field(default=0)
    rate_limited: int = Field(default=0)  # 429s received
    errors: int = Field(default=0)
    rejected: int = Field(default=0)  # records refused with a recorded reason
    expected_total: int | None = Field(default=None)
    error_message: str | None = Field(default=None, sa_column=Column(Text))
    error_hint: str | None = Field(default=None, sa_column=Column(Text))
    correlation_id: str | None = Field(default=None, max_length=80)
    by_segment: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    duration_seconds: float | None = Field(default=None)
    #: Checkpoint: where a resumed run picks up (cursor, window, last id, phase, generation).
    checkpoint: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    #: The run this one resumed, if any.
    resumed_from: int | None = Field(default=None)

    def counters(self) -> dict[str, int | None]:
        """The counters the run keeps up to date while it works (`RUN_COUNTERS`), by name."""
        return {name: getattr(self, name) for name in RUN_COUNTERS}


#: What a run counts as it goes: `SyncRun` columns, the live progress and its API bodies.
RUN_COUNTERS: tuple[str, ...] = (
    "pages",
    "contacts",
    "api_calls",
    "retries",
    "rate_limited",
    "errors",
    "rejected",
    "expected_total",
)


class SyncState(SQLModel, table=True):
    """Small key/value facts that outlive runs: high-water mark, sweep generation."""

    __tablename__ = "sync_state"

    key: str = Field(primary_key=True, max_length=80)
    value: str = Field(sa_column=Column(Text, nullable=False))


class SyncLock(SQLModel, table=True):
    """Single flight: at most one row per name; taken atomically, freed or declared stale."""

    __tablename__ = "sync_lock"

    name: str = Field(primary_key=True, max_length=40)
    run_id: int | None = Field(default=None)
    owner: str = Field(sa_column=Column(Text, nullable=False))
    acquired_at: datetime = Field(sa_type=NAIVE_UTC)
    heartbeat_at: datetime = Field(sa_type=NAIVE_UTC)


class RejectedRecord(SQLModel, table=True):
    """A record, or a value in one, that was refused or altered, with the reason."""

    __tablename__ = "rejected_records"

    id: int | None = Field(default=None, primary_key=True)
    run_id: int | None = Field(default=None, index=True)
    hubspot_id: str | None = Field(default=None, sa_column=Column(Text))
    reason: str = Field(sa_column=Column(Text, nullable=False))
    sample: str | None = Field(default=None, sa_column=Column(Text))
    recorded_at: datetime = Field(sa_type=NAIVE_UTC)


#: Joins the fields of the search document; no search term contains it (see `queries`).
SEARCH_SEPARATOR = "\x1f"
#: The search document's index (SQLite: a B-tree over the document; PostgreSQL: pg_trgm GIN).
SEARCH_INDEX = "ix_contacts_search"


def search_document(
    columns: Mapping[str, ColumnElement[str | None]], dialect: str
) -> ColumnElement[str]:
    """email ␟ company ␟ firstname lastname: the one text a search scans, instead of four
    columns of the wide row. `columns` maps those names to columns (table-qualified in
    queries, bare in index DDL); constants are literals, not parameters, so the database
    recognises the indexed expression in a query."""
    empty = sa.literal_column("''", Text)
    separator = sa.literal_column("chr(31)" if dialect == "postgresql" else "char(31)", Text)
    space = sa.literal_column("' '", Text)

    def text(name: str) -> ColumnElement[str]:
        return sa.func.coalesce(columns[name], empty, type_=Text)

    return (
        text("email")
        + separator
        + text("company")
        + separator
        + text("firstname")
        + space
        + text("lastname")
    )
