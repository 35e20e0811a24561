"""`hubsync contacts`: list stored contacts, or export every match as CSV (the same file the
dashboard's Export CSV gives for the same filters)."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date
from pathlib import Path
from typing import Any

from hubsync_core.cli_common import EXIT_OK, _non_negative
from hubsync_core.columns import BRIEF
from hubsync_core.config import Settings


def add_contacts_command(commands: Any) -> None:
    """Register `contacts` on the main parser's subparsers."""
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
    from hubsync_core.clock import utcnow
    from hubsync_core.service import HubSyncService

    with HubSyncService(settings, owner="cli") as service:
        flt = contact_filter(args)
        order: dict[str, Any] = {"sort": args.sort, "descending": not args.ascending}
        if args.format == "csv":
            columns = [c.strip() for c in args.columns.split(",")] if args.columns else None
            target = args.output
            if target is not None and target.is_dir():
                # Named by the UTC day, like the dashboard's export.
                target = target / service.csv_filename(flt, utcnow().date())
            if target is None:
                written = service.write_contacts_csv(
                    flt, sys.stdout, columns=columns, labels=args.labels, **order
                )
            else:
                with open(target, "w", encoding="utf-8", newline="") as out:
                    written = service.write_contacts_csv(
                        flt, out, columns=columns, labels=args.labels, **order
                    )
                print(f"Wrote {written:,} contacts to {target}", file=sys.stderr)
            return EXIT_OK
        # A table is read by people: option labels ("Former customer"), not "1088421376";
        # JSON keeps internal values for programs.
        page = service.contact_page(
            flt, labels=args.format != "json", limit=args.limit, offset=args.offset, **order
        )
        if args.format == "json":
            body = {
                "contacts": page.rows,
                "total": page.total,
                "limit": args.limit,
                "offset": args.offset,
            }
            print(json.dumps(body, indent=2, default=str, ensure_ascii=False))
        else:
            _print_table(page.rows)
            print(f"{len(page.rows):,} of {page.total:,} contacts", file=sys.stderr)
        return EXIT_OK


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
