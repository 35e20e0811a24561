"""`hubsync sync`: one sync from HubSpot (or, with --every, syncs on a schedule), with a live
progress line on a terminal and the run's statistics at the end."""

from __future__ import annotations

import argparse
import json
import logging
import sys
import threading
from typing import Any, TextIO

from hubsync_core.cli_common import EXIT_FAILED, EXIT_OK, _positive
from hubsync_core.config import Settings
from hubsync_core.run_status import RunStatus
from hubsync_core.schedule_cli import add_every_option, run_every
from hubsync_core.sync.model import MODES, SyncOptions, SyncProgress, SyncStats


def add_sync_command(commands: Any) -> None:
    """Register `sync` on the main parser's subparsers."""
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
            f"\r{p.phase_label:<9} {p.contacts:,}{total} contacts  {p.pages:,} pages  "
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
