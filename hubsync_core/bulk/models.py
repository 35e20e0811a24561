"""The bulk-operation tables: the audit log (one row per operation), what each contact was
and is to become, and each batch's intent and result (the resume checkpoint).

Created by their own migration step (see `store.migrations`). All times are naive UTC.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, Text
from sqlmodel import Field, SQLModel

from hubsync_core.store.models import NAIVE_UTC

from .status import BatchStatus, BulkStatus, ItemStatus


class BulkOperation(SQLModel, table=True):
    """One bulk operation: what, on which selection, by whom, when, and how it went."""

    __tablename__ = "bulk_operations"

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=20)  # set, update, list_add, list_remove or archive
    status: str = Field(default=BulkStatus.PLANNED, max_length=20, index=True)
    #: Who asked: "user:<email>" (dashboard sign-in), "os:<login>" (CLI), "api:<token name>".
    actor: str = Field(sa_column=Column(Text, nullable=False))
    #: What selected the contacts: the filter's query string, "ids: ...", "file: name.csv".
    source: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    #: The change: {"properties": {...}} for set, {"list_id": ...} for list changes, ...
    params: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(sa_type=NAIVE_UTC)
    started_at: datetime | None = Field(default=None, sa_type=NAIVE_UTC)
    finished_at: datetime | None = Field(default=None, sa_type=NAIVE_UTC)
    #: Contacts the operation will write (skipped ones not included).
    total: int = Field(default=0)
    written: int = Field(default=0)
    failed: int = Field(default=0)
    skipped: int = Field(default=0)
    #: Batch calls sent (retries of one call count once; a resend after a crash counts again).
    calls: int = Field(default=0)
    #: The operation this one undoes, or retries the failed contacts of.
    undo_of: int | None = Field(default=None)
    retry_of: int | None = Field(default=None)
    message: str | None = Field(default=None, sa_column=Column(Text))


class BulkItem(SQLModel, table=True):
    """One contact in one operation: its values before, the values to write, the outcome."""

    __tablename__ = "bulk_items"
    __table_args__ = (Index("ix_bulk_items_status", "operation_id", "status"),)

    operation_id: int = Field(primary_key=True)
    hubspot_id: str = Field(primary_key=True, max_length=40)
    #: The write batch carrying this contact (None for skipped ones).
    batch: int | None = Field(default=None)
    #: Property values before (as stored locally or read from HubSpot) and to write.
    before: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    after: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    #: `lifecyclestage` moves back: it is cleared first (a `clear` batch) then set.
    needs_clear: bool = Field(default=False)
    status: str = Field(default=ItemStatus.PENDING, max_length=20)
    #: Why it failed or was skipped (HubSpot's category and message, correlation id).
    reason: str | None = Field(default=None, sa_column=Column(Text))
    written_at: datetime | None = Field(default=None, sa_type=NAIVE_UTC)


class BulkBatch(SQLModel, table=True):
    """One batch call of an operation: its intent is committed before it is sent and its
    result before the next one is sent (see `bulk.runner`)."""

    __tablename__ = "bulk_batches"

    operation_id: int = Field(primary_key=True)
    seq: int = Field(primary_key=True)
    #: "clear" (lifecyclestage emptied ahead of a backward move) or "write".
    phase: str = Field(default="write", max_length=10)
    ids: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    status: str = Field(default=BatchStatus.PENDING, max_length=10)
    #: How many times its intent was committed (more than 1: resumed after a crash).
    attempts: int = Field(default=0)
    sent_at: datetime | None = Field(default=None, sa_type=NAIVE_UTC)
    done_at: datetime | None = Field(default=None, sa_type=NAIVE_UTC)
    #: What the resume's re-read found already applied, and resends (audit of the window).
    note: str | None = Field(default=None, sa_column=Column(Text))


BULK_TABLES = [BulkOperation.__table__, BulkItem.__table__, BulkBatch.__table__]  # type: ignore[attr-defined]
