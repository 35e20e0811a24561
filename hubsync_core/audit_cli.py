"""`hubsync audit [--repair] [--json]`: prove the copy equals HubSpot, or name what differs."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from hubsync_core.config import Settings

EXIT_IN_SYNC, EXIT_DRIFT, EXIT_ERROR = 0, 1, 2


def add_audit_commands(commands: Any) -> None:
    """Register `audit` on the main parser's subparsers."""
    audit = commands.add_parser(
        "audit",
        help="prove the local copy equals HubSpot (exit 0 in sync, 1 drift)",
        description="Count live and recently modified contacts per id range in HubSpot and in "
        "the local copy (about two searches per range), then name every missing, extra and "
        "stale contact. Changes younger than HUBSYNC_INDEX_LAG_SECONDS are reported as "
        "pending, not drift. Exit 0 when in sync, 1 when drift was found, 2 on errors.",
    )
    audit.add_argument(
        "--repair",
        action="store_true",
        help="re-read missing and stale contacts, remove extras, recompute segments "
        "(recorded as a repair run in the sync history)",
    )
    audit.add_argument("--json", action="store_true", help="print the report as JSON")
    audit.set_defaults(handler=cmd_audit)


def cmd_audit(args: argparse.Namespace, settings: Settings) -> int:
    from hubsync_core.audit import AuditNotReady
    from hubsync_core.hubspot.errors import HubSpotError
    from hubsync_core.service import HubSyncService
    from hubsync_core.store.lock import SyncAlreadyRunning

    with HubSyncService(settings, owner="cli") as service:
        try:
            report = service.audit(repair=args.repair)
        except (AuditNotReady, SyncAlreadyRunning, HubSpotError) as exc:
            print(f"Audit not run: {exc}", file=sys.stderr)
            return EXIT_ERROR
    if args.json:
        print(json.dumps(report.as_dict(), indent=2))
    else:
        print(report.verdict())
        for line in report.details():
            print(line)
        if report.repair is not None:
            fix = report.repair
            print(
                f"repaired (run {fix.run_id}): {fix.reread:,} re-read, {fix.removed:,} removed; "
                f"{fix.api_calls:,} calls; run `hubsync audit` again to prove it"
            )
    return EXIT_IN_SYNC if report.in_sync else EXIT_DRIFT
