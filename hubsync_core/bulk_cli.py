"""`hubsync bulk ...`: change contacts in HubSpot, previewed, confirmed, audited, undoable.

Exit status: 0 every contact was written; 1 some failed (they are listed); 2 refused before
anything was sent (a bad value, a missing scope, no confirmation); 3 a sync or another bulk
job holds the database.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
import threading
from pathlib import Path
from typing import Any

from hubsync_core.bulk.status import DONE, ItemStatus
from hubsync_core.config import Settings
from hubsync_core.hubspot.errors import HubSpotError
from hubsync_core.store.lock import SyncAlreadyRunning

EXIT_OK, EXIT_FAILED, EXIT_REFUSED, EXIT_BUSY = 0, 1, 2, 3
#: How many failed contacts `bulk` lists after a run (the log has them all).
SHOW_FAILED = 50


def add_bulk_commands(commands: Any) -> None:
    """Register `bulk` and its subcommands on the main parser's subparsers."""
    bulk = commands.add_parser(
        "bulk",
        help="change contacts in HubSpot: set, list-add/remove, archive, CSV update, undo",
        description="Bulk operations write to your HubSpot portal. Each one is previewed "
        "(counts, before → after sample, skips, API calls and time), needs confirmation "
        "(--yes; archive: --confirm ARCHIVE), runs in paced batches of 100 that survive a "
        "crash (`bulk resume`), and is recorded with previous values (`bulk log`, `bulk undo`). "
        "Exit status: 0 all written, 1 some failed, 2 refused before sending, 3 database busy.",
    )
    sub = bulk.add_subparsers(title="bulk commands", metavar="ACTION")

    def selectors(p: argparse.ArgumentParser) -> None:
        which = p.add_mutually_exclusive_group(required=True)
        which.add_argument(
            "--query",
            metavar="FILTER",
            help="the contacts a filter finds: the dashboard URL's query string, "
            "e.g. 'segment=cold&stage=lead' (as `hubsync contacts --query`)",
        )
        which.add_argument("--ids", metavar="ID,...", help="comma-separated HubSpot contact ids")
        p.add_argument("--dry-run", action="store_true", help="print the preview, send nothing")
        p.add_argument("--json", action="store_true", help="print preview and result as JSON")

    setp = sub.add_parser("set", help="set (or with an empty VALUE, clear) a property")
    setp.add_argument("assignments", nargs="+", metavar="PROPERTY=VALUE")
    selectors(setp)
    setp.add_argument("--yes", action="store_true", help="confirm without asking")
    setp.set_defaults(handler=cmd_set)

    for name, add in (("list-add", True), ("list-remove", False)):
        p = sub.add_parser(
            name,
            help=f"{'add' if add else 'remove'} contacts {'to' if add else 'from'} a static list",
        )
        p.add_argument("list_id", metavar="LIST_ID", help="the HubSpot (ILS) list id")
        selectors(p)
        p.add_argument("--yes", action="store_true", help="confirm without asking")
        p.set_defaults(handler=cmd_list, add=add)

    archive = sub.add_parser(
        "archive", help="archive contacts in HubSpot (restorable only in HubSpot's UI, 90 days)"
    )
    selectors(archive)
    archive.add_argument("--confirm", metavar="ARCHIVE", help="type ARCHIVE to confirm")
    archive.set_defaults(handler=cmd_archive)

    update = sub.add_parser("update", help="set the properties a CSV file carries, per contact")
    update.add_argument("--csv", type=Path, required=True, metavar="FILE")
    update.add_argument("--key", choices=("email", "hubspot_id"), default="hubspot_id")
    update.add_argument("--dry-run", action="store_true", help="print the report, send nothing")
    update.add_argument("--yes", action="store_true", help="confirm without asking")
    update.add_argument("--json", action="store_true", help="print preview and result as JSON")
    update.set_defaults(handler=cmd_update)

    logp = sub.add_parser(
        "log", help="the audit log of bulk operations (or one, with its contacts)"
    )
    logp.add_argument("operation_id", nargs="?", type=int, metavar="OPERATION_ID")
    logp.add_argument("--json", action="store_true")
    logp.add_argument("--limit", type=int, default=50, metavar="N")
    logp.set_defaults(handler=cmd_log)

    for name, helptext in (
        (
            "undo",
            "restore the previous values an operation replaced (previewed; skips contacts changed since)",
        ),
        ("retry", "send an operation's failed contacts again"),
    ):
        p = sub.add_parser(name, help=helptext)
        p.add_argument("operation_id", type=int, metavar="OPERATION_ID")
        p.add_argument("--dry-run", action="store_true", help="print the preview, send nothing")
        p.add_argument("--yes", action="store_true", help="confirm without asking")
        p.add_argument("--json", action="store_true")
        p.set_defaults(handler=cmd_undo if name == "undo" else cmd_retry)

    resume = sub.add_parser("resume", help="finish operations a crash, kill or cancel interrupted")
    resume.add_argument("operation_id", nargs="?", type=int, metavar="OPERATION_ID")
    resume.add_argument("--json", action="store_true")
    resume.set_defaults(handler=cmd_resume)


def _service(settings: Settings) -> Any:
    from hubsync_core.service import HubSyncService

    return HubSyncService(settings, owner="cli")


def _actor() -> str:
    try:
        return "os:" + getpass.getuser()
    except (KeyError, OSError):
        return "os:unknown"


def _selection(args: argparse.Namespace) -> Any:
    from hubsync_core.bulk.selection import Selection

    if args.ids:
        return Selection(ids=tuple(i.strip() for i in args.ids.split(",")))
    return Selection(query=args.query.lstrip("?"))


# -- commands ---------------------------------------------------------------------------------
def cmd_set(args: argparse.Namespace, settings: Settings) -> int:
    assignments: dict[str, str | None] = {}
    for text in args.assignments:
        name, eq, value = text.partition("=")
        if not eq or not name.strip():
            print(f"hubsync: expected PROPERTY=VALUE, got {text!r}", file=sys.stderr)
            return EXIT_REFUSED
        assignments[name.strip()] = value
    return _go(args, settings, lambda s: s.preview_bulk_set(_selection(args), assignments))


def cmd_list(args: argparse.Namespace, settings: Settings) -> int:
    return _go(
        args, settings, lambda s: s.preview_bulk_list(_selection(args), args.list_id, add=args.add)
    )


def cmd_archive(args: argparse.Namespace, settings: Settings) -> int:
    args.yes = False
    return _go(args, settings, lambda s: s.preview_bulk_archive(_selection(args)))


def cmd_update(args: argparse.Namespace, settings: Settings) -> int:
    text = args.csv.read_text(encoding="utf-8-sig")
    return _go(args, settings, lambda s: s.preview_bulk_csv(text, key=args.key, name=args.csv.name))


def cmd_undo(args: argparse.Namespace, settings: Settings) -> int:
    return _go(args, settings, lambda s: s.preview_bulk_undo(args.operation_id))


def cmd_retry(args: argparse.Namespace, settings: Settings) -> int:
    return _go(args, settings, lambda s: s.preview_bulk_retry(args.operation_id))


def cmd_resume(args: argparse.Namespace, settings: Settings) -> int:
    with _service(settings) as service:
        if args.operation_id is not None:
            ids = [args.operation_id]
        else:
            ids = [op.id for op in service.resumable_bulk()]
        if not ids:
            print("No bulk operation to resume.")
            return EXIT_OK
        worst = EXIT_OK
        for op_id in ids:
            print(f"Resuming operation #{op_id}...", file=sys.stderr)
            worst = max(worst, _run(args, service, op_id))
        return worst


def cmd_log(args: argparse.Namespace, settings: Settings) -> int:
    with _service(settings) as service:
        if args.operation_id is not None:
            op = service.bulk_operation(args.operation_id)
            if op is None:
                print(f"hubsync: no bulk operation #{args.operation_id}", file=sys.stderr)
                return EXIT_REFUSED
            items = service.bulk_items(args.operation_id, limit=args.limit)
            if args.json:
                data = op.as_dict() | {"items": [_item_dict(i) for i in items]}
                print(json.dumps(data, indent=2, default=str, ensure_ascii=False))
                return EXIT_OK
            _print_op(op)
            for item in items:
                print(
                    f"  {item.hubspot_id:>12} {item.status:<8} {_change(item.before, item.after)} {item.reason or ''}"
                )
            return EXIT_OK
        ops = service.bulk_log(args.limit)
    if args.json:
        print(json.dumps([op.as_dict() for op in ops], indent=2, default=str, ensure_ascii=False))
        return EXIT_OK
    if not ops:
        print("No bulk operations yet.")
    for op in ops:
        _print_op(op)
    return EXIT_OK


# -- the shared flow: preview → confirm → save → run ------------------------------------------
def _go(args: argparse.Namespace, settings: Settings, plan: Any) -> int:
    from hubsync_core.bulk.facade import ConfirmationRequired

    with _service(settings) as service:
        try:
            preview = plan(service)
        except HubSpotError as exc:
            print(f"hubsync: refused before sending: {exc}", file=sys.stderr)
            return EXIT_REFUSED
        _print_preview(preview, as_json=args.json)
        if preview.refused:
            return EXIT_REFUSED
        if args.dry_run:
            print("Dry run: nothing was sent.", file=sys.stderr)
            return EXIT_OK
        if not preview.items:
            print("Nothing to change.", file=sys.stderr)
            return EXIT_OK
        confirmation = _confirmation(args, preview)
        if confirmation is None:
            return EXIT_REFUSED
        try:
            op_id = service.save_bulk(preview, actor=_actor(), confirmation=confirmation)
        except ConfirmationRequired as exc:
            print(f"hubsync: refused: {exc}", file=sys.stderr)
            return EXIT_REFUSED
        print(f"Operation #{op_id} recorded; sending...", file=sys.stderr)
        return _run(args, service, op_id)


def _confirmation(args: argparse.Namespace, preview: Any) -> str | None:
    """The confirmation to pass on ("" when none is typed), or None (refused) after saying
    what is needed."""
    expected = preview.confirmation
    if preview.kind == "archive":
        if args.confirm is not None:
            return str(args.confirm)
    elif getattr(args, "yes", False):
        return expected or ""  # --yes is the typed confirmation for scripts
    if not sys.stdin.isatty():
        need = "--confirm ARCHIVE" if preview.kind == "archive" else "--yes"
        print(f"hubsync: refused: not confirmed (pass {need})", file=sys.stderr)
        return None
    prompt = f"Type {expected} to go ahead: " if expected else "Go ahead? [y/N] "
    answer = input(prompt).strip()
    if expected is None:
        if answer.lower() not in ("y", "yes"):
            print("hubsync: refused: not confirmed", file=sys.stderr)
            return None
        return ""
    return answer


def _run(args: argparse.Namespace, service: Any, op_id: int) -> int:
    cancel = threading.Event()

    def show(progress: Any) -> None:
        if sys.stderr.isatty():
            sys.stderr.write(
                f"\r  batch {progress.batches_done}/{progress.batches_total}: "
                f"{progress.written:,} written, {progress.failed:,} failed"
            )
            sys.stderr.flush()

    try:
        op = service.run_bulk(op_id, on_progress=show, cancel=cancel)
    except SyncAlreadyRunning as exc:
        print(
            f"hubsync: the database is busy: {exc}. Try again when it has finished.",
            file=sys.stderr,
        )
        return EXIT_BUSY
    if sys.stderr.isatty():
        sys.stderr.write("\n")
    failed = service.bulk_items(op_id, [ItemStatus.FAILED], limit=SHOW_FAILED)
    if getattr(args, "json", False):
        data = op.as_dict() | {"failed_items": [_item_dict(i) for i in failed]}
        print(json.dumps(data, indent=2, default=str, ensure_ascii=False))
    else:
        _print_op(op)
        for item in failed:
            print(f"  failed {item.hubspot_id}: {item.reason}")
        if op.failed > len(failed):
            print(f"  ... and {op.failed - len(failed):,} more (hubsync bulk log {op.id})")
    if op.status not in DONE:  # stopped before its last batch
        return EXIT_FAILED
    return EXIT_FAILED if op.failed else EXIT_OK


# -- printing ---------------------------------------------------------------------------------
def _print_preview(preview: Any, *, as_json: bool) -> None:
    if as_json:
        print(json.dumps(preview.as_dict(), indent=2, default=str, ensure_ascii=False))
        return
    out = sys.stdout
    print(f"Preview: {preview.kind} on {preview.source}", file=out)
    for row in preview.rows:
        if row.outcome != "matched":
            print(f"  line {row.line} ({row.key}): {row.outcome}: {row.detail}", file=out)
    if preview.rows:
        matched = sum(1 for r in preview.rows if r.outcome == "matched")
        print(f"  {matched:,} of {len(preview.rows):,} rows matched a contact", file=out)
    for reason in preview.refusals:
        print(f"  REFUSED: {reason}", file=out)
    if preview.refused:
        print("Nothing was sent.", file=out)
        return
    print(f"  {len(preview.items):,} contacts will change", file=out)
    for reason, count in sorted(preview.skipped_counts().items()):
        print(f"  {count:,} skipped: {reason}", file=out)
    for sample in preview.sample:
        print(
            f"    {sample.hubspot_id} {sample.email or ''}: {sample.before} → {sample.after}",
            file=out,
        )
    print(
        f"  {preview.write_calls:,} write call(s), about {preview.seconds:,.0f} s at the portal's rate limit",
        file=out,
    )
    for text in preview.warnings + preview.notices:
        print(f"  Note: {text}", file=out)


def _print_op(op: Any) -> None:
    when = op.created_at.strftime("%Y-%m-%d %H:%M")
    print(
        f"#{op.id} {when} UTC {op.status:<11} {op.describe()} | {op.source} | by {op.actor} | "
        f"{op.written:,} written, {op.failed:,} failed, {op.skipped:,} skipped, {op.calls:,} calls"
        + (f" | {op.message}" if op.message else "")
    )


def _change(before: dict[str, Any], after: dict[str, Any]) -> str:
    return ", ".join(f"{k}: {before.get(k)!s} → {after.get(k)!s}" for k in after)


def _item_dict(item: Any) -> dict[str, Any]:
    return {
        "hubspot_id": item.hubspot_id,
        "status": item.status,
        "before": item.before,
        "after": item.after,
        "reason": item.reason,
        "written_at": item.written_at.isoformat() + "Z" if item.written_at else None,
    }
