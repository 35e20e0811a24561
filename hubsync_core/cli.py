"""The `hubsync` command line: sync from cron, query and export, run the sandbox.

Exit status: 0 success; 1 the sync did not succeed; 2 bad usage or settings; 3 another sync
is already running.

This module holds the entry point, the parser and the small status commands (stats, clear,
check); each other command group lives in a module of its own (`sync_cli`, `contacts_cli`,
`sandbox_cli`, `segment_cli`, `schedule_cli`, `api_cli`, `audit_cli`, `bulk_cli`) that
registers itself with an `add_*_command(s)` function.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence

from hubsync_core import __version__
from hubsync_core.cli_common import (
    EXIT_BUSY,
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    CommandError,
    _non_negative,
    _positive,
)
from hubsync_core.config import Settings, SettingsError
from hubsync_core.contacts_cli import add_contacts_command
from hubsync_core.freshness import live_updates_line
from hubsync_core.hubspot.errors import HubSpotError
from hubsync_core.sandbox_cli import add_sandbox_command
from hubsync_core.schedule_cli import add_schedule_commands
from hubsync_core.segments import SegmentError
from hubsync_core.store.lock import SyncAlreadyRunning
from hubsync_core.sync_cli import add_sync_command

# Re-exported for the command modules that import them from here (api_cli).
__all__ = [
    "EXIT_BUSY",
    "EXIT_FAILED",
    "EXIT_OK",
    "EXIT_USAGE",
    "CommandError",
    "_non_negative",
    "_positive",
    "build_parser",
    "main",
]


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

    add_sync_command(commands)
    add_contacts_command(commands)

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

    add_sandbox_command(commands)

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


# -- stats, clear, check ----------------------------------------------------------------------
def cmd_stats(args: argparse.Namespace, settings: Settings) -> int:
    from hubsync_core.service import HubSyncService

    with HubSyncService(settings, owner="cli") as service:
        overview = service.overview()
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


def _configure_logging(level: str, *, quiet: bool = False) -> None:
    logging.basicConfig(
        level=logging.WARNING if quiet else getattr(logging, level),
        format="%(asctime)s %(levelname)s %(name)s - %(message)s",
        stream=sys.stderr,
    )


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
