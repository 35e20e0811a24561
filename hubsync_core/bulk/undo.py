"""Undo and "retry the failed ones": new, previewed operations built from an old one.

An undo writes each contact's previous values back, except where the contact changed in
HubSpot since the operation wrote it (its current value is no longer what was written): those
are skipped and reported. Current values are read from HubSpot (batch reads, no writes).
List changes are undone by the opposite list change. Archives cannot be undone from here:
HubSpot restores archived contacts only from its own UI, within 90 days.
"""

from __future__ import annotations

from hubsync_core.hubspot import writes

from . import audit
from .plan import (
    ARCHIVE_NOTICE,
    SAMPLE_SIZE,
    BulkContext,
    PlannedItem,
    Preview,
    SampleRow,
    definitions,
    estimate,
    fetch_values,
    plan_archive,
    plan_list,
    plan_values,
    scope_check,
    shown_value,
)
from .selection import Selection, load
from .status import BulkStatus, ItemStatus
from .values import LIFECYCLE, CheckedValue, stage_moves_back

CHANGED_SINCE = "changed in HubSpot since"


def plan_undo(ctx: BulkContext, op_id: int) -> Preview:
    """A preview restoring what operation `op_id` changed (see the module docstring)."""
    op = audit.get_operation(ctx.db, op_id)
    preview = Preview("set", f"undo of operation #{op_id}", {}, undo_of=op_id)
    if op is None:
        preview.refusals.append(f"There is no bulk operation #{op_id}.")
        return preview
    if op.kind == "archive":
        preview.refusals.append(ARCHIVE_NOTICE)
        return preview
    if op.status == BulkStatus.RUNNING:
        preview.refusals.append(f"Operation #{op_id} is still running; undo it once it ends.")
        return preview
    written = audit.items(ctx.db, op_id, [ItemStatus.WRITTEN])
    if not written:
        preview.refusals.append(f"Operation #{op_id} wrote nothing, so there is nothing to undo.")
        return preview
    ids = [i.hubspot_id for i in written]
    if op.kind in ("list_add", "list_remove"):
        undo = plan_list(
            ctx, Selection(ids=tuple(ids)), op.params["list_id"], add=op.kind == "list_remove"
        )
        undo.source, undo.undo_of = preview.source, op_id
        return undo
    scope_check(ctx, [writes.SCOPE_CONTACTS_WRITE], preview)
    if preview.refused:
        return preview
    defs = definitions(ctx)
    names = sorted({n for item in written for n in item.after})
    current, gone = fetch_values(ctx, ids, names)
    emails = {c.hubspot_id: c.email for c in load(ctx.db, ids)}
    for item in written:
        cid = item.hubspot_id
        if cid in gone:
            preview.skipped.append((cid, "no longer in HubSpot"))
            continue
        now = current[cid]
        changed = [n for n, v in item.after.items() if (now.get(n) or "") != (v or "")]
        if changed:
            shown = ", ".join(f"{n} is now {now.get(n) or '(empty)'}" for n in changed)
            preview.skipped.append((cid, f"{CHANGED_SINCE} ({shown})"))
            continue
        after = {n: item.before.get(n) or "" for n in item.after}
        before = {n: now.get(n) for n in item.after}
        clear = LIFECYCLE in after and stage_moves_back(
            defs[LIFECYCLE], before.get(LIFECYCLE), after[LIFECYCLE]
        )
        preview.items.append(PlannedItem(cid, before, after, clear))
        if len(preview.sample) < SAMPLE_SIZE:
            preview.sample.append(
                SampleRow(
                    cid,
                    emails.get(cid),
                    ", ".join(f"{n}: {shown_value(defs.get(n), before[n])}" for n in after),
                    ", ".join(f"{n}: {shown_value(defs.get(n), after[n])}" for n in after),
                )
            )
    preview.items.sort(key=lambda i: not i.needs_clear)
    preview.params = {"properties": {n: "(previous values)" for n in names}}
    changed_count = sum(1 for _, reason in preview.skipped if reason.startswith(CHANGED_SINCE))
    if changed_count:
        preview.warnings.append(
            f"{changed_count:,} contact(s) changed in HubSpot since operation #{op_id} and "
            "are left as they are."
        )
    estimate(ctx, preview)
    return preview


def plan_retry(ctx: BulkContext, op_id: int) -> Preview:
    """A preview sending operation `op_id`'s failed contacts again, with the same intent."""
    op = audit.get_operation(ctx.db, op_id)
    if op is None:
        preview = Preview("set", f"retry of operation #{op_id}", {}, retry_of=op_id)
        preview.refusals.append(f"There is no bulk operation #{op_id}.")
        return preview
    failed = audit.items(ctx.db, op_id, [ItemStatus.FAILED])
    selection = Selection(ids=tuple(i.hubspot_id for i in failed)) if failed else None
    if selection is None:
        preview = Preview(op.kind, f"retry of operation #{op_id}", {}, retry_of=op_id)
        preview.refusals.append(f"Operation #{op_id} has no failed contacts to retry.")
        return preview
    if op.kind == "archive":
        preview = plan_archive(ctx, selection)
    elif op.kind in ("list_add", "list_remove"):
        preview = plan_list(ctx, selection, op.params["list_id"], add=op.kind == "list_add")
    else:
        preview = Preview(op.kind, "", dict(op.params))
        scope_check(ctx, [writes.SCOPE_CONTACTS_WRITE], preview)
        if not preview.refused:
            defs = definitions(ctx)
            contacts = load(ctx.db, [i.hubspot_id for i in failed])
            wanted = {
                i.hubspot_id: {
                    n: CheckedValue(n, str(v or ""), str(v or "")) for n, v in i.after.items()
                }
                for i in failed
            }
            plan_values(ctx, preview, [c for c in contacts if c.hubspot_id in wanted], wanted, defs)
            estimate(ctx, preview)
    preview.source, preview.retry_of = f"retry of operation #{op_id}", op_id
    return preview
