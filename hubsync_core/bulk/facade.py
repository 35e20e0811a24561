"""The bulk-operation methods of the service facade (`HubSyncService` inherits them), so the
dashboard, the CLI, the SDK and the HTTP API preview, confirm, run, log and undo the same way.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from hubsync_core.clock import utcnow
from hubsync_core.hubspot.writes import WritableProperty
from hubsync_core.store import lock, segment_store

from . import audit
from .audit import ItemRecord, OperationSummary
from .csvfile import plan_csv
from .plan import BulkContext, Preview, plan_archive, plan_list, plan_set
from .runner import BulkProgress, BulkRunner, read_progress
from .selection import Selection
from .undo import plan_retry, plan_undo

if TYPE_CHECKING:
    from hubsync_core.config import Settings
    from hubsync_core.hubspot.client import HubSpotClient
    from hubsync_core.store.database import Database


class ConfirmationRequired(ValueError):
    """The operation needs a typed confirmation that was not given (or did not match)."""


class BulkFacade:
    """Mixed into `HubSyncService`; relies on its `settings`, `db` and `client`."""

    settings: Settings
    db: Database
    client: HubSpotClient

    def _bulk_context(self) -> BulkContext:
        from hubsync_core.connection import resolve_portal

        return BulkContext(self.db, self.client, resolve_portal(self.settings).token)

    # -- previews (read HubSpot, write nothing) -------------------------------------------------
    def bulk_properties(self) -> list[WritableProperty]:
        """HubSpot's contact property definitions with options (labels) and writability."""
        return self.client.writable_properties()

    def preview_bulk_set(self, selection: Selection, assignments: dict[str, str | None]) -> Preview:
        """What setting (or, with "", clearing) properties on the selection would do."""
        return plan_set(self._bulk_context(), selection, assignments)

    def preview_bulk_list(self, selection: Selection, list_id: str, *, add: bool) -> Preview:
        """What adding the selection to (or removing it from) a static list would do."""
        return plan_list(self._bulk_context(), selection, list_id, add=add)

    def preview_bulk_archive(self, selection: Selection) -> Preview:
        """What archiving the selection in HubSpot would do (restorable only in HubSpot's UI)."""
        return plan_archive(self._bulk_context(), selection)

    def preview_bulk_csv(self, text: str, *, key: str = "hubspot_id", name: str = "") -> Preview:
        """The row-by-row report and preview of a CSV update keyed by hubspot_id or email."""
        return plan_csv(self._bulk_context(), text, key=key, name=name)

    def preview_bulk_undo(self, operation_id: int) -> Preview:
        """What undoing an operation would restore, and which contacts changed since."""
        return plan_undo(self._bulk_context(), operation_id)

    def preview_bulk_retry(self, operation_id: int) -> Preview:
        """What sending an operation's failed contacts again would do."""
        return plan_retry(self._bulk_context(), operation_id)

    # -- confirm and run -------------------------------------------------------------------------
    def save_bulk(self, preview: Preview, *, actor: str, confirmation: str | None = None) -> int:
        """Record a previewed operation (the audit entry) once confirmed; returns its id.

        Raises `ValueError` for a refused preview and `ConfirmationRequired` when the preview
        asks for a typed confirmation (`preview.confirmation`) that `confirmation` does not match.
        """
        expected = preview.confirmation
        if expected is not None and (confirmation or "").strip() != expected:
            raise ConfirmationRequired(
                f"Type {expected} to confirm "
                + (
                    "archiving in HubSpot."
                    if preview.kind == "archive"
                    else f"changing {expected} contacts."
                )
            )
        return audit.save_plan(self.db, preview, actor)

    def run_bulk(
        self,
        operation_id: int,
        *,
        on_progress: Callable[[BulkProgress], None] | None = None,
        cancel: threading.Event | None = None,
    ) -> OperationSummary:
        """Send an operation's pending batches (also resumes one). Raises `SyncAlreadyRunning`
        when a sync or another bulk job holds the database."""
        return BulkRunner(
            self.db,
            self.client,
            operation_id,
            owner=lock.make_owner("bulk"),
            after_write=self._recompute_segments,
            on_progress=on_progress,
            cancel=cancel,
        ).run()

    def _recompute_segments(self, conn: object) -> None:
        # Written values (a stage, a recency date) move contacts between segments.
        definitions = segment_store.list_definitions(self.db, self.settings)
        segment_store.recompute(conn, definitions, utcnow(), prune=True)  # type: ignore[arg-type]

    def resumable_bulk(self) -> list[OperationSummary]:
        """Operations that did not finish (interrupted, cancelled, or killed mid-run)."""
        return audit.resumable_operations(self.db)

    # -- audit -----------------------------------------------------------------------------------
    def bulk_log(self, limit: int = 100) -> list[OperationSummary]:
        """The audit log, newest first."""
        return audit.list_operations(self.db, limit)

    def bulk_operation(self, operation_id: int) -> OperationSummary | None:
        """One operation's audit entry."""
        return audit.get_operation(self.db, operation_id)

    def bulk_items(
        self, operation_id: int, statuses: Sequence[str] | None = None, limit: int | None = None
    ) -> list[ItemRecord]:
        """An operation's contacts with previous and written values and outcomes."""
        return audit.items(self.db, operation_id, statuses, limit)

    def bulk_progress(self, operation_id: int) -> BulkProgress:
        """An operation's progress as stored (pollable from any process)."""
        return read_progress(self.db, operation_id)
