"""The `hubsync` command line: sync from cron, query and export, run the sandbox.

Exit status: 0 success; 1 the sync did not succeed; 2 bad usage or settings; 3 another sync
is already running.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import threading
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any, TextIO

from hubsync_core import __version__
from hubsync_core.columns import BRIEF
from hubsync_core.config import Settings, SettingsError
from hubsync_core.freshness import live_updates_line
from hubsync_core.hubspot.errors import HubSpotError
from hubsync_core.run_status import RunStatus
from hubsync_core.schedule_cli import add_every_option, add_schedule_commands, run_every
from hubsync_core.segments import SegmentError
from hubsync_core.store.lock import SyncAlreadyRunning
from hubsync_core.sync.model import MODES, SyncOptions, SyncProgress, SyncStats

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_BUSY = 0, 1, 2, 3


class CommandError(Exception):
    """A one-line reason to stop with `EXIT_USAGE`."""


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return EXIT_USAGE
    try:
        settings = Settings.load()
        _configure_logging(settings.log_level, quiet=getattr(args, "quiet_logs", False))
        return int(args.handler(args, settings))
    except SettingsError as exc:
        print(f"hubsync: setting {exc}", file=sys.stderr)
        return EXIT_USAGE
    except SyncAlreadyRunning as exc:
        print(f"hubsync: {exc}", file=sys.stderr)
        return EXIT_BUSY
    except (CommandError, SegmentError, ValueError) as exc:
        print(f"hubsync: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except HubSpotError as exc:
        print(f"hubsync: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("hubsync: interrupted", file=sys.stderr)
        return 130


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hubsync",
        description="Sync every HubSpot contact into a local database, tag segments, query and export.",
        epilog="Settings come from the environment and .env (see .env.example). "
        "With no HUBSPOT_ACCESS_TOKEN, commands use the built-in demo portal.",
    )
    parser.add_argument("--version", action="version", version=f"hubsync {__version__}")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")

    sync = commands.add_parser(
        "sync",
        help="sync contacts from HubSpot",
        description="Sync contacts from HubSpot into the database and recompute segments. "
        "An interrupted sync (error, Ctrl-C, kill) is resumed by the next one.",
    )
    sync.add_argument(
        "--mode",
        choices=MODES,
        default="auto",
        help="full: every contact; incremental: only changes since the last sync; "
        "auto (default): incremental once a full sync has completed",
    )
    sync.add_argument("--max-contacts", type=_positive, metavar="N", help="stop after N contacts")
    sync.add_argument(
        "--batch-size",
        type=_positive,
        default=100,
        metavar="N",
        help="contacts per page, at most 100 (default 100)",
    )
    sync.add_argument("--chainge-only", action="store_true", help="sync only the CHAINge contacts")
    sync.add_argument(
        "--sweep",
        action="store_true",
        help="also re-read every id to find contacts deleted without being archived",
    )
    sync.add_argument(
        "--demo",
        action="store_true",
        help="sync the built-in demo portal even if a token is configured",
    )
    sync.add_argument("--json", action="store_true", help="print the result as JSON on stdout")
    add_every_option(sync)
    sync.set_defaults(handler=cmd_sync)

    contacts = commands.add_parser(
        "contacts",
        help="list or export stored contacts",
        description="List stored contacts, or export every matching contact as CSV "
        "(the same file the dashboard's Export CSV gives for the same filters).",
    )
    contacts.add_argument(
        "--segment",
        action="append",
        default=[],
        metavar="S",
        help="only contacts in segment S (repeat for several)",
    )
    contacts.add_argument(
        "--match",
        choices=("any", "all"),
        default="any",
        help="with several --segment: in any of them (default) or all",
    )
    contacts.add_argument("--search", metavar="Q", help="text in email, name or company")
    contacts.add_argument(
        "--stage",
        action="append",
        default=[],
        metavar="STAGE",
        help="lifecycle stage (repeat for several)",
    )
    contacts.add_argument("--created-from", type=date.fromisoformat, metavar="YYYY-MM-DD")
    contacts.add_argument("--created-to", type=date.fromisoformat, metavar="YYYY-MM-DD")
    contacts.add_argument("--modified-from", type=date.fromisoformat, metavar="YYYY-MM-DD")
    contacts.add_argument("--modified-to", type=date.fromisoformat, metavar="YYYY-MM-DD")
    email = contacts.add_mutually_exclusive_group()
    email.add_argument("--has-email", dest="has_email", action="store_const", const=True)
    email.add_argument("--no-email", dest="has_email", action="store_const", const=False)
    contacts.add_argument(
        "--archived",
        choices=("hide", "include", "only"),
        default="hide",
        help="archived (deleted) contacts: hide (default), include or only",
    )
    contacts.add_argument(
        "--query",
        metavar="URL_QUERY",
        help="filters as in the dashboard's URL, e.g. 'segment=chainge&q=acme'",
    )
    contacts.add_argument(
        "--limit",
        type=_non_negative,
        default=100,
        metavar="N",
        help="table/json: at most N contacts (default 100); CSV exports every match",
    )
    contacts.add_argument(
        "--sort",
        default="updated_at",
        metavar="COLUMN",
        help="sort column (default updated_at), e.g. email, company, created_at",
    )
    contacts.add_argument(
        "--ascending", action="store_true", help="sort ascending (default: descending)"
    )
    contacts.add_argument("--offset", type=_non_negative, default=0, metavar="N")
    contacts.add_argument("--format", choices=("table", "json", "csv"), default="table")
    contacts.add_argument(
        "--labels",
        action="store_true",
        help="CSV: enumeration options' labels (e.g. lifecycle stage 'Customer') instead of "
        "HubSpot's internal values (the default, for round-trips)",
    )
    contacts.add_argument(
        "--columns", metavar="A,B,...", help="CSV columns (default: the visible ones)"
    )
    contacts.add_argument(
        "--output",
        "-o",
        type=Path,
        metavar="FILE",
        help="write to FILE (CSV: a dated name in this folder if FILE is a folder)",
    )
    contacts.set_defaults(handler=cmd_contacts)

    stats = commands.add_parser(
        "stats",
        help="show contact counts and the last sync",
        description="Contact counts per segment and the last sync's statistics.",
    )
    stats.add_argument("--json", action="store_true", help="print as JSON")
    stats.set_defaults(handler=cmd_stats)

    clear = commands.add_parser(
        "clear",
        help="delete every stored contact (keeps sync history)",
        description="Delete every stored contact, its segments and list "
        "memberships. Sync history stays.",
    )
    clear.add_argument("--yes", action="store_true", help="confirm (required)")
    clear.set_defaults(handler=cmd_clear)

    check = commands.add_parser(
        "check",
        help="test the connection to HubSpot: portal, scopes, daily API budget",
        description="Call HubSpot cheaply and show the portal, its time zone, the token's "
        "scopes granted versus needed, the daily API budget left and the rate-limit headroom.",
    )
    check.set_defaults(handler=cmd_check)

    sandbox = commands.add_parser(
        "sandbox",
        help="serve the built-in HubSpot sandbox",
        description="Serve a local HubSpot-faithful API with generated contacts until stopped. "
        "Point HubSync at it with the printed HUBSPOT_BASE_URL and HUBSPOT_ACCESS_TOKEN.",
    )
    sandbox.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    sandbox.add_argument(
        "--port", type=_non_negative, default=8765, help="port (default 8765; 0 = any free)"
    )
    sandbox.add_argument(
        "--contacts", type=_non_negative, default=3000, help="contacts to generate"
    )
    sandbox.add_argument("--seed", type=int, default=42, help="data seed (same seed, same data)")
    sandbox.add_argument(
        "--latency-ms", type=_non_negative, default=0, help="added latency per request"
    )
    sandbox.add_argument(
        "--rate-limit",
        type=_non_negative,
        default=100,
        help="requests per rolling 10 s (0 = unlimited; default 100)",
    )
    sandbox.add_argument(
        "--fault-rate",
        type=float,
        default=0.0,
        help="share of requests answered with an injected fault (0-1)",
    )
    sandbox.add_argument("--token", default=None, help="the bearer token to accept")
    sandbox.add_argument(
        "--retire-v3",
        action="store_true",
        help="answer 404 on /crm/v3/ paths, as HubSpot will once v3 is retired (Sept 2027)",
    )
    sandbox.set_defaults(handler=cmd_sandbox, quiet_logs=True)

    from hubsync_core.segment_cli import add_segment_commands

    add_segment_commands(commands)
    add_schedule_commands(commands)
    from hubsync_core.api_cli import add_api_commands

    add_api_commands(commands)
    from hubsync_core.audit_cli import add_audit_commands

    add_audit_commands(commands)

    from hubsync_core.bulk_cli import add_bulk_commands

    add_bulk_commands(commands)
    return parser


# -- sync -------------------------------------------------------------------------------------
def cmd_sync(args: argparse.Namespace, settings: Settings) -> int:
    from hubsync_core.service import HubSyncService

    if args.demo:
        settings = settings.with_overrides(access_token=None)
    if args.every:
        return run_every(args, settings)
    options = SyncOptions(
        mode=args.mode,
        batch_size=args.batch_size,
        max_contacts=args.max_contacts,
        chainge_only=args.chainge_only,
        sweep=args.sweep,
        owner="cli",
    )
    if settings.demo:
        print(
            "Using the built-in demo portal (no HUBSPOT_ACCESS_TOKEN configured).", file=sys.stderr
        )
    display = _ProgressLine(sys.stderr) if sys.stderr.isatty() and not args.json else None
    if display:
        # The live line replaces the per-page log lines on a terminal; cron keeps the lines.
        logging.getLogger().setLevel(logging.WARNING)
    cancel = threading.Event()
    with HubSyncService(settings, owner="cli") as service:
        try:
            stats = service.sync(
                options, on_progress=display.update if display else None, cancel=cancel
            )
        except KeyboardInterrupt:
            # Ctrl-C while a page is written: the run stops cleanly after it.
            cancel.set()
            raise
        finally:
            if display:
                display.close()
    if args.json:
        print(json.dumps(stats.to_dict(), indent=2, default=str))
    else:
        _print_stats(stats)
    return EXIT_OK if stats.ok else EXIT_FAILED


class _ProgressLine:
    """A single self-rewriting terminal line: pages, contacts, rate, ETA, 429s."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def update(self, p: SyncProgress) -> None:
        total = f"/{p.expected_total:,}" if p.expected_total else ""
        eta = f"  ETA {p.eta_seconds:,.0f}s" if p.eta_seconds is not None else ""
        line = (
            f"\r{p.phase:<9} {p.contacts:,}{total} contacts  {p.pages:,} pages  "
            f"{p.contacts_per_second:,.0f}/s  {p.elapsed_seconds:,.0f}s{eta}  "
            f"retries {p.retries}  429s {p.rate_limited}"
        )
        self.stream.write(line.ljust(100)[:120])
        self.stream.flush()

    def close(self) -> None:
        self.stream.write("\n")
        self.stream.flush()


def _print_stats(stats: SyncStats) -> None:
    headline = {
        RunStatus.SUCCEEDED: "Sync complete",
        RunStatus.PARTIAL: "Sync stopped early (partial)",
        RunStatus.FAILED: "Sync failed",
        RunStatus.CANCELLED: "Sync cancelled",
    }.get(stats.status, f"Sync {stats.status}")
    print(f"{headline} (run {stats.run_id}, {stats.mode})")
    print(f"  Total synced: {stats.total_synced:,}")
    print(f"  Pages processed: {stats.total_pages:,}")
    print(f"  API calls: {stats.api_calls:,}  retries: {stats.retries}  429s: {stats.rate_limited}")
    print(f"  Errors: {stats.errors}  rejected records: {stats.rejected}")
    print(f"  Duration: {stats.duration_seconds:.2f}s")
    if stats.daily_limit is not None and stats.daily_remaining is not None:
        print(
            f"  Daily API budget: this run used {stats.api_calls:,} calls; "
            f"{stats.daily_remaining:,} of {stats.daily_limit:,} left today"
        )
    if stats.by_segment:
        print("  Segment distribution:")
        for name, count in stats.by_segment.items():
            print(f"    {name}: {count:,}")
    for warning in stats.warnings:
        print(f"  Warning: {warning}")
    if stats.message:
        print(f"  {stats.message}")
    if stats.hint:
        print(f"  What to do: {stats.hint}")


# -- contacts ---------------------------------------------------------------------------------
def contact_filter(args: argparse.Namespace) -> Any:
    """The `ContactFilter` the options describe (`--query` first, flags on top)."""
    from urllib.parse import parse_qs

    from hubsync_core.store.explorer import ContactFilter

    base = ContactFilter()
    if args.query:
        base = ContactFilter.from_query_params(parse_qs(args.query.lstrip("?")))
    changes: dict[str, Any] = {}
    if args.segment:
        changes["segments"] = tuple(args.segment)
        changes["segment_match"] = args.match
    if args.search:
        changes["search"] = args.search
    if args.stage:
        changes["lifecycle_stages"] = tuple(args.stage)
    for name in ("created_from", "created_to", "modified_from", "modified_to"):
        if getattr(args, name):
            changes[name] = getattr(args, name)
    if args.has_email is not None:
        changes["has_email"] = args.has_email
    if args.archived != "hide":
        changes["archived"] = args.archived
    from dataclasses import replace

    return replace(base, **changes)


def cmd_contacts(args: argparse.Namespace, settings: Settings) -> int:
    from hubsync_core.store import explorer, export
    from hubsync_core.store.database import Database

    db = Database(settings.database_url)
    try:
        flt = contact_filter(args)
        if args.format == "csv":
            columns = [c.strip() for c in args.columns.split(",")] if args.columns else None
            target = args.output
            if target is not None and target.is_dir():
                target = target / export.csv_filename(flt, date.today())
            order: dict[str, Any] = {"sort": args.sort, "descending": not args.ascending}
            if args.labels:
                from hubsync_core.store.property_options import option_labels

                order["labels"] = option_labels(db)
            if target is None:
                written = export.write_csv(db, flt, sys.stdout, columns=columns, **order)
            else:
                with open(target, "w", encoding="utf-8", newline="") as out:
                    written = export.write_csv(db, flt, out, columns=columns, **order)
                print(f"Wrote {written:,} contacts to {target}", file=sys.stderr)
            return EXIT_OK
        limit = args.limit
        page = explorer.query_contacts(
            db, flt, sort=args.sort, descending=not args.ascending, limit=limit, offset=args.offset
        )
        if args.format == "json":
            print(
                json.dumps(
                    {
                        "contacts": page.rows,
                        "total": page.total,
                        "limit": limit,
                        "offset": args.offset,
                    },
                    indent=2,
                    default=str,
                    ensure_ascii=False,
                )
            )
        else:
            _print_table(page.rows)
            print(f"{len(page.rows):,} of {page.total:,} contacts", file=sys.stderr)
        return EXIT_OK
    finally:
        db.dispose()


def _print_table(rows: list[dict[str, Any]]) -> None:
    columns = BRIEF  # the short table: see `hubsync_core.columns`
    table = [[_cell(row.get(c)) for c in columns] for row in rows]
    widths = [max([len(c)] + [len(r[i]) for r in table]) for i, c in enumerate(columns)]
    print("  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)))
    for r in table:
        print("  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)))


def _cell(value: Any, width: int = 40) -> str:
    if isinstance(value, list | tuple):
        value = ", ".join(map(str, value))
    text = "" if value is None else str(value)
    text = "".join(ch if ch.isprintable() else " " for ch in text)
    return text if len(text) <= width else text[: width - 1] + "…"


# -- stats, clear, check ----------------------------------------------------------------------
def cmd_stats(args: argparse.Namespace, settings: Settings) -> int:
    from hubsync_core.service import HubSyncService
    from hubsync_core.store.overview import overview as read_overview

    with HubSyncService(settings, owner="cli") as service:
        overview = read_overview(service.db)
        last = service.get_stats()
        live = service.freshness_stats()
    data = {
        "portal": "demo" if settings.demo else "hubspot",
        "database": service_location(settings),
        "contacts": overview.total,
        "archived": overview.archived,
        "without_email": overview.without_email,
        "by_segment": overview.by_segment,
        "last_sync": last.to_dict() if last.run_id else None,
        "live_updates": live.__dict__,
    }
    if args.json:
        print(json.dumps(data, indent=2, default=str))
        return EXIT_OK
    print(f"Portal: {'Demo portal' if settings.demo else 'HubSpot'}   Database: {data['database']}")
    print(
        f"Contacts: {overview.total:,} (archived {overview.archived:,}, without email {overview.without_email:,})"
    )
    for name, count in overview.by_segment.items():
        print(f"  {name}: {count:,}")
    if last.run_id:
        print(
            f"Last sync: run {last.run_id} {last.mode} {last.status} at {last.timestamp:%Y-%m-%d %H:%M} UTC, "
            f"{last.total_synced:,} contacts in {last.duration_seconds:.1f}s"
        )
    else:
        print("Last sync: never (run `hubsync sync`)")
    print(live_updates_line(live))
    return EXIT_OK


def service_location(settings: Settings) -> str:
    from hubsync_core.store.database import Database

    db = Database(settings.database_url, migrate=False)
    try:
        return db.location()
    finally:
        db.dispose()


def cmd_clear(args: argparse.Namespace, settings: Settings) -> int:
    if not args.yes:
        raise CommandError("clear deletes every stored contact; add --yes to confirm")
    from hubsync_core.service import HubSyncService

    with HubSyncService(settings, owner="cli") as service:
        removed = service.clear_contacts()
    print(f"Removed {removed:,} contacts (sync history kept).")
    return EXIT_OK


def cmd_check(args: argparse.Namespace, settings: Settings) -> int:
    from hubsync_core.connection import check_connection

    result = check_connection(settings)
    where = "the demo portal" if result.demo else "HubSpot"
    if not result.ok:
        print(f"Could not use {where}: {result.message}", file=sys.stderr)
        if result.correlation_id:
            print(f"  correlationId: {result.correlation_id}", file=sys.stderr)
        if result.hint:
            print(f"  What to do: {result.hint}", file=sys.stderr)
        return EXIT_FAILED
    print(f"{result.message} ({where}), time zone {result.time_zone or '?'}")
    if result.token_kind:
        print(f"Token: {result.token_kind}")
    print("Scopes:")
    for name, why, granted in result.scope_rows():
        mark = {True: "granted", False: "MISSING", None: "unknown"}[granted]
        print(f"  {name:<28} {mark:<8} ({why})")
    if result.daily_limit is not None and result.daily_remaining is not None:
        print(
            f"Daily API budget: {result.daily_remaining:,} of {result.daily_limit:,} calls "
            "left today (resets at midnight in the portal's time zone)"
        )
    limit = result.rate_limit
    if limit.max is not None:
        print(
            f"Rate limit: {limit.remaining}/{limit.max} requests left in the current "
            f"{(limit.interval_ms or 10000) / 1000:.0f}s window"
        )
    return EXIT_OK


# -- sandbox ----------------------------------------------------------------------------------
def cmd_sandbox(args: argparse.Namespace, settings: Settings) -> int:
    from hubsync_core.sandbox import SandboxConfig, serve_forever

    config_args: dict[str, Any] = {
        "contacts": args.contacts,
        "seed": args.seed,
        "latency_ms": args.latency_ms,
        "rate_limit": args.rate_limit,
        "fault_rate": args.fault_rate,
        "retire_v3": args.retire_v3,
    }
    if args.token:
        config_args["token"] = args.token
    if not 0 <= args.fault_rate <= 1:
        raise CommandError("--fault-rate must be between 0 and 1")

    def announce(sandbox: Any) -> None:
        print(f"HubSpot sandbox serving {args.contacts:,} contacts (seed {args.seed}).", flush=True)
        print(f"HUBSPOT_BASE_URL={sandbox.base_url}", flush=True)
        print(f"HUBSPOT_ACCESS_TOKEN={sandbox.token}", flush=True)
        print("Stop with Ctrl-C.", flush=True)

    serve_forever(SandboxConfig(**config_args), args.host, args.port, on_ready=announce)
    return EXIT_OK


# -- helpers ----------------------------------------------------------------------------------
def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _non_negative(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must not be negative, got {value}")
    return value


def _configure_logging(level: str, *, quiet: bool = False) -> None:
    logging.basicConfig(
        level=logging.WARNING if quiet else getattr(logging, level),
        format="%(asctime)s %(levelname)s %(name)s - %(message)s",
        stream=sys.stderr,
    )


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
