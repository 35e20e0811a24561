"""`hubsync schedule set|show`, `hubsync events apply|status` and `hubsync sync --every`."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from typing import Any

from hubsync_core.config import Settings
from hubsync_core.freshness import describe_schedule, live_updates_line
from hubsync_core.scheduler import parse_period


def add_schedule_commands(commands: Any) -> None:
    """Register `schedule` and `events` on the main parser's subparsers."""
    schedule = commands.add_parser(
        "schedule",
        help="show or set the sync schedule (stored in the database)",
        description="Scheduled syncs run in whichever long-lived HubSync process is up (the "
        "dashboard, `hubsync api`, or `hubsync sync --every`); no cron needed. Each "
        "scheduled run is an auto sync (incremental after the first).",
    )
    sub = schedule.add_subparsers(title="schedule commands", metavar="ACTION")
    set_ = sub.add_parser("set", help="sync every PERIOD (15m, 1h; at least 5m) or `off`")
    set_.add_argument("period", help="e.g. 15m, 1h, or off")
    set_.set_defaults(handler=cmd_schedule_set)
    show = sub.add_parser(
        "show", help="the period, next run and last result (and the nightly audit's, if set)"
    )
    show.add_argument("--json", action="store_true", help="print as JSON")
    show.set_defaults(handler=cmd_schedule_show)

    events = commands.add_parser(
        "events",
        help="HubSpot change events (webhooks, journal): status, apply now",
        description="Change events arrive through the webhook receiver (`hubsync api`) or "
        "the Webhooks Journal; long-lived processes apply them within seconds.",
    )
    esub = events.add_subparsers(title="event commands", metavar="ACTION")
    status = esub.add_parser("status", help="pending events and the last hour's counts")
    status.add_argument("--json", action="store_true", help="print as JSON")
    status.set_defaults(handler=cmd_events_status)
    apply = esub.add_parser("apply", help="read the journal (if set up) and apply pending events")
    apply.set_defaults(handler=cmd_events_apply)


def cmd_schedule_set(args: argparse.Namespace, settings: Settings) -> int:
    from hubsync_core.clock import utcnow
    from hubsync_core.service import HubSyncService

    minutes = parse_period(args.period)
    with HubSyncService(settings, owner="cli") as service:
        state = service.set_schedule(minutes)
    print(f"Sync schedule: {describe_schedule(state, utcnow())}")
    return 0


def cmd_schedule_show(args: argparse.Namespace, settings: Settings) -> int:
    from hubsync_core.clock import utcnow
    from hubsync_core.service import HubSyncService

    with HubSyncService(settings, owner="cli") as service:
        state = service.schedule()
        nightly = service.nightly_audit_summary()
    if args.json:
        print(json.dumps(state.__dict__, indent=2, default=str))
    else:
        print(f"Sync schedule: {describe_schedule(state, utcnow())}")
        if nightly is not None:
            print(f"Nightly audit: {nightly}")
    return 0


def cmd_events_status(args: argparse.Namespace, settings: Settings) -> int:
    from hubsync_core.service import HubSyncService

    with HubSyncService(settings, owner="cli") as service:
        stats = service.freshness_stats()
    if args.json:
        print(json.dumps(stats.__dict__, indent=2, default=str))
    else:
        print(live_updates_line(stats))
    return 0


def cmd_events_apply(args: argparse.Namespace, settings: Settings) -> int:
    from hubsync_core.service import HubSyncService

    with HubSyncService(settings, owner="cli") as service:
        polled = service.poll_journal()
        result = service.apply_events()
    if polled is not None:
        print(f"Journal: {polled.entries} entries, {polled.stored} new events")
    print(
        f"Applied {result.events} events: {result.contacts_read} contacts read in "
        f"{result.api_calls} calls, {result.archived} archived, {result.merged} merged, "
        f"{result.erased} erased"
    )
    return 0


def add_every_option(sync: argparse.ArgumentParser) -> None:
    """`hubsync sync --every 15m`: stay in the foreground and sync on that schedule."""
    sync.add_argument(
        "--every",
        metavar="PERIOD",
        help="stay in the foreground (for systemd) and sync every PERIOD (e.g. 15m; at least "
        "5m), also applying webhook/journal events; the period is stored as the schedule",
    )


def run_every(args: argparse.Namespace, settings: Settings) -> int:
    """The foreground scheduler: store the period, then host the freshness worker until
    SIGTERM or Ctrl-C (a running sync stops after its current page)."""
    from hubsync_core.freshness import SYNC_JOB
    from hubsync_core.service import HubSyncService

    minutes = parse_period(args.every)
    if minutes is None:
        raise ValueError("--every needs a period such as 15m")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with HubSyncService(settings, owner="schedule") as service:
        service.set_schedule(minutes)
        print(f"Sync schedule: every {minutes} min; Ctrl-C to stop", file=sys.stderr)
        worker = service.freshness_worker()
        # A foreground scheduler starts with a sync (then one every period).
        outcome = worker.scheduler.run_now(SYNC_JOB)
        if outcome is not None:
            print(f"{outcome.status}: {outcome.message}", file=sys.stderr)
        worker.start()
        try:
            stop.wait()
        except KeyboardInterrupt:
            pass
        finally:
            worker.stop()
    return 0
