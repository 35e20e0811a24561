"""Planning a bulk operation: what will be written, skipped or refused, and what it costs.

A plan is computed without writing anything to HubSpot (property definitions, the token's
scopes and, where the database lacks them, current values are read). Its `Preview` is what
every face shows before asking for confirmation; `store.save_plan` turns a confirmed preview
into an operation the runner executes.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from hubsync_core.config import Secret
from hubsync_core.hubspot import writes
from hubsync_core.hubspot.client import HubSpotClient
from hubsync_core.hubspot.errors import HubSpotError
from hubsync_core.hubspot.writes import WritableProperty
from hubsync_core.store.database import Database

from .selection import LocalContact, Selection, list_members, resolve
from .values import LIFECYCLE, CheckedValue, ValueRefused, check_property, check_value
from .values import stage_moves_back as _moves_back

#: Operations on more contacts than this need a typed confirmation (the count).
CONFIRM_ABOVE = 1_000
#: The word that confirms an archive.
ARCHIVE_WORD = "ARCHIVE"
ARCHIVE_NOTICE = (
    "Archiving cannot be undone from HubSync: HubSpot restores archived contacts only from its "
    "own UI (Contacts › Actions › Restore), and only within 90 days."
)
SAMPLE_SIZE = 10

SKIP_SAME = "already has the value"
SKIP_ARCHIVED = "archived"
SKIP_NOT_LOCAL = "not found locally"
SKIP_NOT_IN_HUBSPOT = "not found in HubSpot"
SKIP_MEMBER = "already in the list"
SKIP_NOT_MEMBER = "not in the list"


@dataclass(frozen=True)
class BulkContext:
    """What planning needs: the database, a client, and the token (for its scopes)."""

    db: Database
    client: HubSpotClient
    token: Secret | None = None


@dataclass
class PlannedItem:
    """One contact to write: values before and after (property names to strings or None)."""

    hubspot_id: str
    before: dict[str, Any]
    after: dict[str, Any]
    needs_clear: bool = False


@dataclass(frozen=True)
class SampleRow:
    hubspot_id: str
    email: str | None
    before: str
    after: str


@dataclass(frozen=True)
class RowReport:
    """One CSV row: its line number, key, and what became of it."""

    line: int
    key: str
    outcome: str  # "matched", "skipped" or "refused"
    detail: str = ""
    hubspot_id: str | None = None


@dataclass
class Preview:
    """Everything a person needs to decide: counts, a sample, skips, refusals, cost."""

    kind: str
    source: str
    params: dict[str, Any]
    items: list[PlannedItem] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    refusals: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)
    sample: list[SampleRow] = field(default_factory=list)
    rows: list[RowReport] = field(default_factory=list)
    write_calls: int = 0
    seconds: float = 0.0
    undo_of: int | None = None
    retry_of: int | None = None

    @property
    def refused(self) -> bool:
        """True when nothing may be sent (a bad value, a missing scope...)."""
        return bool(self.refusals)

    @property
    def confirmation(self) -> str | None:
        """What must be typed to go ahead, or None when a plain yes will do."""
        if self.kind == "archive":
            return ARCHIVE_WORD
        if len(self.items) > CONFIRM_ABOVE:
            return str(len(self.items))
        return None

    def skipped_counts(self) -> dict[str, int]:
        return dict(Counter(reason for _, reason in self.skipped))

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready summary (CLI `--json`, the HTTP API)."""
        return {
            "kind": self.kind,
            "source": self.source,
            "params": self.params,
            "contacts": len(self.items),
            "skipped": self.skipped_counts(),
            "refusals": self.refusals,
            "warnings": self.warnings,
            "notices": self.notices,
            "sample": [vars(s) for s in self.sample],
            "rows": [vars(r) for r in self.rows],
            "write_calls": self.write_calls,
            "estimated_seconds": round(self.seconds, 1),
            "confirmation": self.confirmation,
            "undo_of": self.undo_of,
            "retry_of": self.retry_of,
        }


# ---------------------------------------------------------------------- checks


def scope_check(ctx: BulkContext, needed: Sequence[str], preview: Preview) -> None:
    """Refuse early when the token lacks a scope the operation needs (named in the preview)."""
    if ctx.token is None:
        preview.warnings.append("The token's scopes could not be checked before sending.")
        return
    try:
        scopes = ctx.client.token_scopes(ctx.token)
    except HubSpotError as exc:
        preview.refusals.append(f"Could not check the token's scopes: {writes.describe_error(exc)}")
        return
    if scopes is None:
        preview.warnings.append(
            "HubSpot did not say which scopes this token has (an OAuth token?); a missing "
            "scope would stop the operation at its first batch."
        )
        return
    for scope in needed:
        if scope not in scopes:
            preview.refusals.append(
                f"The access token lacks the scope {scope}: add it to the service key or "
                "private app in HubSpot (Settings › Integrations), then try again."
            )


def definitions(ctx: BulkContext) -> dict[str, WritableProperty]:
    """Every contact property definition by name (read from HubSpot for each plan)."""
    return {p.name: p for p in ctx.client.writable_properties()}


def estimate(ctx: BulkContext, preview: Preview, ids_per_call: int = writes.BATCH_LIMIT) -> None:
    """Fill in the write calls and the time they take at the portal's rate limit."""
    calls = math.ceil(len(preview.items) / ids_per_call)
    calls += math.ceil(sum(1 for i in preview.items if i.needs_clear) / ids_per_call)
    limit, interval = ctx.client.limiter.burst_limit
    preview.write_calls = calls
    preview.seconds = calls * interval / max(limit, 1)


# ---------------------------------------------------------------------- property values


def fetch_values(
    ctx: BulkContext, ids: Sequence[str], names: Sequence[str]
) -> tuple[dict[str, dict[str, str | None]], dict[str, str]]:
    """Current values of `names` read from HubSpot: ({id: {name: value}}, {id: why missing})."""
    values: dict[str, dict[str, str | None]] = {}
    missing: dict[str, str] = {}
    for start in range(0, len(ids), writes.BATCH_LIMIT):
        chunk = list(ids[start : start + writes.BATCH_LIMIT])
        for record in ctx.client.batch_read_contacts(chunk, names):
            values[record.id] = {n: record.properties.get(n) for n in names}
        # Unknown, archived or merged away (a merge answers under the survivor's id).
        missing.update((cid, SKIP_NOT_IN_HUBSPOT) for cid in chunk if cid not in values)
    return values, missing


def plan_values(
    ctx: BulkContext,
    preview: Preview,
    contacts: Sequence[LocalContact],
    wanted: Mapping[str, Mapping[str, CheckedValue]],
    defs: Mapping[str, WritableProperty],
) -> None:
    """Fill `preview` with one item per contact whose values differ from the wanted ones.

    Before-values come from the database; for properties it does not store, from HubSpot.
    """
    names = sorted({n for values in wanted.values() for n in values})
    unsynced = [c.hubspot_id for c in contacts if any(n not in c.properties for n in names)]
    fetched, gone = fetch_values(ctx, unsynced, names) if unsynced else ({}, {})
    for contact in contacts:
        cid = contact.hubspot_id
        if contact.archived:
            preview.skipped.append((cid, SKIP_ARCHIVED))
            continue
        if cid in gone:
            preview.skipped.append((cid, SKIP_NOT_IN_HUBSPOT))
            continue
        current = fetched.get(cid, {})
        before: dict[str, Any] = {}
        after: dict[str, Any] = {}
        for name, checked in wanted[cid].items():
            old = current[name] if name in current else contact.value(name)
            if (old or "") == checked.value:
                continue
            before[name], after[name] = old, checked.value
        if not after:
            preview.skipped.append((cid, SKIP_SAME))
            continue
        clear = LIFECYCLE in after and _moves_back(
            defs[LIFECYCLE], before[LIFECYCLE], after[LIFECYCLE]
        )
        preview.items.append(PlannedItem(cid, before, after, clear))
        if len(preview.sample) < SAMPLE_SIZE:
            preview.sample.append(_sample(contact, before, after, defs))
    # Backward moves first: their clear batches then cover whole batches (fewest calls).
    preview.items.sort(key=lambda item: not item.needs_clear)


def shown_value(definition: WritableProperty | None, value: Any) -> str:
    """A value as people read it: an option's label, or "(empty)"."""
    if value in (None, ""):
        return "(empty)"
    return (definition.option_label(str(value)) if definition else None) or str(value)


def _sample(
    contact: LocalContact,
    before: Mapping[str, Any],
    after: Mapping[str, Any],
    defs: Mapping[str, WritableProperty],
) -> SampleRow:
    return SampleRow(
        contact.hubspot_id,
        contact.email,
        ", ".join(f"{n}: {shown_value(defs.get(n), before[n])}" for n in after),
        ", ".join(f"{n}: {shown_value(defs.get(n), after[n])}" for n in after),
    )


# ---------------------------------------------------------------------- operations


def plan_set(
    ctx: BulkContext, selection: Selection, assignments: Mapping[str, str | None]
) -> Preview:
    """Set (or with an empty value, clear) properties on every selected contact."""
    preview = Preview("set", selection.describe(), {"properties": dict(assignments)})
    if not assignments:
        preview.refusals.append("Name at least one PROPERTY=VALUE to set.")
        return preview
    scope_check(ctx, [writes.SCOPE_CONTACTS_WRITE], preview)
    defs = definitions(ctx)
    checked: dict[str, CheckedValue] = {}
    for name, raw in assignments.items():
        try:
            checked[name] = check_value(check_property(defs, name), raw)
        except ValueRefused as exc:
            preview.refusals.append(str(exc))
    if preview.refused:
        return preview
    preview.params["properties"] = {n: c.value for n, c in checked.items()}
    contacts, not_local = resolve(ctx.db, selection)
    preview.skipped += [(i, SKIP_NOT_LOCAL) for i in not_local]
    plan_values(ctx, preview, contacts, {c.hubspot_id: checked for c in contacts}, defs)
    estimate(ctx, preview)
    return preview


def plan_list(ctx: BulkContext, selection: Selection, list_id: str, *, add: bool) -> Preview:
    """Add the selected contacts to (or remove them from) a static HubSpot list."""
    kind = "list_add" if add else "list_remove"
    preview = Preview(kind, selection.describe(), {"list_id": str(list_id)})
    scope_check(ctx, [writes.SCOPE_CONTACTS_WRITE, writes.SCOPE_LISTS_WRITE], preview)
    try:
        info = ctx.client.get_list(str(list_id))
    except HubSpotError as exc:
        preview.refusals.append(f"List {list_id}: {writes.describe_error(exc)}")
        return preview
    preview.params["list_name"] = info.name
    if (info.processing_type or "").upper() == "DYNAMIC":
        preview.refusals.append(
            f"“{info.name}” ({list_id}) is an active list: HubSpot computes its members from "
            "its filters, so contacts cannot be added or removed by hand."
        )
    if preview.refused:
        return preview
    contacts, not_local = resolve(ctx.db, selection)
    preview.skipped += [(i, SKIP_NOT_LOCAL) for i in not_local]
    live = [c for c in contacts if not c.archived]
    preview.skipped += [(c.hubspot_id, SKIP_ARCHIVED) for c in contacts if c.archived]
    members = list_members(ctx.db, str(list_id), [c.hubspot_id for c in live])
    for contact in live:
        member = contact.hubspot_id in members
        if member == add:
            preview.skipped.append((contact.hubspot_id, SKIP_MEMBER if add else SKIP_NOT_MEMBER))
            continue
        item = PlannedItem(contact.hubspot_id, {"member": member}, {"member": add})
        preview.items.append(item)
        if len(preview.sample) < SAMPLE_SIZE:
            preview.sample.append(
                SampleRow(
                    contact.hubspot_id,
                    contact.email,
                    "member" if member else "not a member",
                    "member" if add else "not a member",
                )
            )
    estimate(ctx, preview)
    return preview


#: What an archive records as each contact's previous values (for the audit log).
ARCHIVE_SNAPSHOT = ("email", "firstname", "lastname", "company", "lifecyclestage")


def plan_archive(ctx: BulkContext, selection: Selection) -> Preview:
    """Archive the selected contacts in HubSpot (restorable only from HubSpot's UI)."""
    preview = Preview("archive", selection.describe(), {})
    preview.notices.append(ARCHIVE_NOTICE)
    scope_check(ctx, [writes.SCOPE_CONTACTS_WRITE], preview)
    if preview.refused:
        return preview
    contacts, not_local = resolve(ctx.db, selection)
    preview.skipped += [(i, SKIP_NOT_LOCAL) for i in not_local]
    for contact in contacts:
        if contact.archived:
            preview.skipped.append((contact.hubspot_id, SKIP_ARCHIVED))
            continue
        before = {n: contact.value(n) for n in ARCHIVE_SNAPSHOT}
        preview.items.append(PlannedItem(contact.hubspot_id, before, {"archived": True}))
        if len(preview.sample) < SAMPLE_SIZE:
            preview.sample.append(
                SampleRow(contact.hubspot_id, contact.email, "live", "archived in HubSpot")
            )
    estimate(ctx, preview)
    return preview
