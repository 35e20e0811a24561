"""The tables. All times are naive UTC datetimes (the same on SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, DateTime, Index, Text
from sqlmodel import Field, SQLModel

#: Run statuses. `running` is the only one that holds the single-flight lock.
RUN_STATUSES = ("running", "succeeded", "partial", "failed", "cancelled", "interrupted")

#: Column type of every timestamp: naive UTC (`timestamp without time zone` on PostgreSQL).
#: Spelled out because newer SQLModel releases map a bare `datetime` to an aware type that
#: refuses naive values.
NAIVE_UTC = DateTime(timezone=False)


class Contact(SQLModel, table=True):
    """One HubSpot contact. Segment and list membership live in their own tables."""

    __tablename__ = "contacts"
    __table_args__ = (
        Index("ix_contacts_live_updated", "archived", "updated_at"),
        Index("ix_contacts_live_created", "archived", "created_at"),
    )

    hubspot_id: str = Field(primary_key=True, max_length=40)
    email: str | None = Field(default=None, sa_column=Column(Text, index=True))
    firstname: str | None = Field(default=None, sa_column=Column(Text))
    lastname: str | None = Field(default=None, sa_column=Column(Text))
    company: str | None = Field(default=None, sa_column=Column(Text, index=True))
    phone: str | None = Field(default=None, sa_column=Column(Text))
    jobtitle: str | None = Field(default=None, sa_column=Column(Text))
    lifecyclestage: str | None = Field(default=None, sa_column=Column(Text, index=True))
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


class ContactSegmentRow(SQLModel, table=True):
    """Segment membership: filtering by segment is an index lookup."""

    __tablename__ = "contact_segments"
    __table_args__ = (Index("ix_contact_segments_contact", "hubspot_id"),)

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
    __table_args__ = (Index("ix_list_memberships_contact", "hubspot_id"),)

    list_id: str = Field(primary_key=True, max_length=40)
    hubspot_id: str = Field(primary_key=True, max_length=40)


class SyncRun(SQLModel, table=True):
    """One sync attempt, its counters, and its checkpoint for resuming."""

    __tablename__ = "sync_runs"

    id: int | None = Field(default=None, primary_key=True)
    mode: str = Field(max_length=20)  # full | incremental | chainge | sweep
    status: str = Field(default="running", max_length=20, index=True)
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
