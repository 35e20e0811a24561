"""Bulk update from a CSV file: one row per contact, keyed by `hubspot_id` or `email`, the
other columns being the properties to set (an empty cell leaves that property unchanged).
Every row is reported (matched, or why not) before anything is sent."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping

from hubsync_core.hubspot import writes

from .plan import BulkContext, Preview, RowReport, definitions, estimate, plan_values, scope_check
from .selection import by_email, load
from .values import CheckedValue, ValueRefused, check_property, check_value

KEYS = ("hubspot_id", "email")
#: Refuse files bigger than this many rows (a bulk job, not a migration tool).
MAX_ROWS = 1_000_000


def plan_csv(ctx: BulkContext, text: str, *, key: str = "hubspot_id", name: str = "") -> Preview:
    """A preview of the update a CSV file describes (see the module docstring)."""
    preview = Preview("update", f"file: {name or '(uploaded)'}", {"file": name, "key": key})
    if key not in KEYS:
        preview.refusals.append(f"The key column must be one of {', '.join(KEYS)}, not {key!r}.")
        return preview
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = [h.strip() for h in reader.fieldnames or []]
    if key not in header:
        preview.refusals.append(
            f"The file has no {key!r} column (its columns: {', '.join(header) or 'none'})."
        )
        return preview
    columns = [h for h in header if h and h not in KEYS]
    preview.params["columns"] = columns
    if not columns:
        preview.refusals.append("The file names no property column to set.")
        return preview
    scope_check(ctx, [writes.SCOPE_CONTACTS_WRITE], preview)
    defs = definitions(ctx)
    for column in columns:
        try:
            check_property(defs, column)
        except ValueRefused as exc:
            preview.refusals.append(f"Column {column!r}: {exc}")
    if preview.refused:
        return preview
    rows = [
        (n + 2, {(k or "").strip(): (v or "") for k, v in r.items()}) for n, r in enumerate(reader)
    ]
    if len(rows) > MAX_ROWS:
        preview.refusals.append(f"The file has {len(rows):,} rows; at most {MAX_ROWS:,} are taken.")
        return preview
    wanted, reports = _match_rows(ctx, rows, key, columns, defs)
    preview.rows = reports
    contacts = load(ctx.db, list(wanted))
    known = {c.hubspot_id for c in contacts}
    for report in reports:
        if report.outcome == "matched" and report.hubspot_id not in known:
            preview.skipped.append((report.hubspot_id or "", "not found locally"))
    plan_values(ctx, preview, [c for c in contacts if c.hubspot_id in wanted], wanted, defs)
    estimate(ctx, preview)
    return preview


def _match_rows(
    ctx: BulkContext,
    rows: list[tuple[int, dict[str, str]]],
    key: str,
    columns: list[str],
    defs: Mapping[str, writes.WritableProperty],
) -> tuple[dict[str, dict[str, CheckedValue]], list[RowReport]]:
    emails = by_email(ctx.db, [r[key] for _, r in rows]) if key == "email" else {}
    wanted: dict[str, dict[str, CheckedValue]] = {}
    reports: list[RowReport] = []
    first_line: dict[str, int] = {}
    for line, row in rows:
        raw_key = row.get(key, "").strip()
        if not raw_key:
            reports.append(RowReport(line, raw_key, "refused", f"no {key}"))
            continue
        if key == "email":
            ids = emails.get(raw_key.lower(), [])
            if not ids:
                reports.append(RowReport(line, raw_key, "refused", "unknown email"))
                continue
            if len(ids) > 1:
                reports.append(
                    RowReport(
                        line,
                        raw_key,
                        "refused",
                        f"email held by {len(ids)} contacts: {', '.join(ids)}",
                    )
                )
                continue
            cid = ids[0]
        else:
            cid = raw_key
            if not cid.isdigit():
                reports.append(RowReport(line, raw_key, "refused", "hubspot_id is not a number"))
                continue
        if cid in first_line:
            reports.append(
                RowReport(
                    line,
                    raw_key,
                    "refused",
                    f"duplicate row (contact already on line {first_line[cid]})",
                    cid,
                )
            )
            continue
        values: dict[str, CheckedValue] = {}
        problems: list[str] = []
        for column in columns:
            if not (row.get(column) or "").strip():
                continue  # an empty cell leaves the property as it is (clear with `bulk set`)
            try:
                values[column] = check_value(defs[column], row.get(column))
            except ValueRefused as exc:
                problems.append(f"invalid value: {exc}")
        if problems:
            reports.append(RowReport(line, raw_key, "refused", "; ".join(problems), cid))
            continue
        if not values:
            reports.append(RowReport(line, raw_key, "refused", "every property cell is empty", cid))
            continue
        first_line[cid] = line
        wanted[cid] = values
        reports.append(RowReport(line, raw_key, "matched", "", cid))
    return wanted, reports
