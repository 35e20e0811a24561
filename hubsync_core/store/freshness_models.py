"""Tables of the freshness pipeline: the event inbox, the privacy-deletion audit, and the
registry of named periodic jobs (the sync schedule and any other job a process hosts).

Created by schema version 3 (see `migrations`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, Index, Text
from sqlmodel import Field, SQLModel

from hubsync_core.store.models import NAIVE_UTC


class InboxEvent(SQLModel, table=True):
    """One HubSpot change event, stored before it is acknowledged, applied later.

    The primary key is HubSpot's `eventId`: a duplicate delivery inserts nothing. A row is
    marked `applied_at` in the same transaction that applies it, so an acknowledged event
    is never lost between receipt and apply (a crash leaves it pending).
    """

    __tablename__ = "event_inbox"
    __table_args__ = (
        # The applier's drain order: pending events by time of occurrence.
        Index("ix_event_inbox_pending", "applied_at", "occurred_at_ms", "event_id"),
        Index("ix_event_inbox_received", "received_at"),
    )

    event_id: str = Field(primary_key=True, max_length=80)
    occurred_at_ms: int = Field(sa_column=Column(BigInteger, nullable=False))
    subscription_type: str = Field(max_length=80)
    object_id: str = Field(max_length=40, index=True)
    #: "webhook" or "journal".
    source: str = Field(max_length=20)
    #: The event as HubSpot sent it (emptied of values when the person is erased).
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    received_at: datetime = Field(sa_type=NAIVE_UTC)
    applied_at: datetime | None = Field(default=None, sa_type=NAIVE_UTC)


class PrivacyDeletion(SQLModel, table=True):
    """A GDPR erasure carried out locally: the id and the times, never personal data."""

    __tablename__ = "privacy_deletions"

    id: int | None = Field(default=None, primary_key=True)
    hubspot_id: str = Field(max_length=40, index=True)
    event_id: str | None = Field(default=None, max_length=80)
    occurred_at: datetime | None = Field(default=None, sa_type=NAIVE_UTC)
    erased_at: datetime = Field(sa_type=NAIVE_UTC)


class ScheduledJob(SQLModel, table=True):
    """A named periodic job (the sync schedule, a nightly audit, ...) and its last run.

    `every_minutes` None means off. The next run is due `every_minutes` after
    `last_started_at`, so it survives restarts; `paused_until` holds it back (a DAILY 429
    pauses the sync until HubSpot's reset).
    """

    __tablename__ = "scheduled_jobs"

    name: str = Field(primary_key=True, max_length=80)
    every_minutes: int | None = Field(default=None)
    last_started_at: datetime | None = Field(default=None, sa_type=NAIVE_UTC)
    last_finished_at: datetime | None = Field(default=None, sa_type=NAIVE_UTC)
    last_status: str | None = Field(default=None, max_length=40)
    last_message: str | None = Field(default=None, sa_column=Column(Text))
    paused_until: datetime | None = Field(default=None, sa_type=NAIVE_UTC)
    updated_at: datetime = Field(sa_type=NAIVE_UTC)


FRESHNESS_TABLES = (InboxEvent, PrivacyDeletion, ScheduledJob)
