"""`hubsync segments list|add|remove|export|import`: user segments from the command line."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from hubsync_core.config import Settings
from hubsync_core.segments import (
    DEFAULT_COLOUR,
    Group,
    SegmentDef,
    parse_condition,
    rule_from_dict,
)


def add_segment_commands(commands: Any) -> None:
    """Register `segments` and its subcommands on the main parser's subparsers."""
    segments = commands.add_parser(
        "segments",
        help="list, add, remove, export or import segments",
        description="Segments tag contacts by rules over their fields and properties. The four "
        "built-ins (chainge, engaged, cold, high_value) can be edited in the dashboard.",
    )
    sub = segments.add_subparsers(title="segment commands", metavar="ACTION")

    show = sub.add_parser("list", help="list segments with their rules and member counts")
    show.add_argument("--json", action="store_true", help="print as JSON")
    show.set_defaults(handler=cmd_list)

    add = sub.add_parser(
        "add",
        help="add (or with --replace, change) a user segment",
        description="Add a segment from conditions, e.g.: hubsync segments add 'EU leads' "
        "--where 'properties.country in Germany,France,Spain' --where 'lifecyclestage eq lead'. "
        "Conditions are 'field op value' (ops: eq neq contains starts_with in is_empty "
        "is_not_empty gt lt between within_last_days more_than_days_ago in_list; between takes "
        "low..high). Fields: contact columns or properties.<name>.",
    )
    add.add_argument("name", help="the segment's name, e.g. 'EU leads'")
    add.add_argument(
        "--where",
        action="append",
        default=[],
        metavar="CONDITION",
        help="a condition (repeat for several)",
    )
    add.add_argument("--any", action="store_true", help="match any condition (default: all)")
    add.add_argument(
        "--rule", metavar="JSON", help='the whole rule as JSON: {"match": "all", "items": [...]}'
    )
    add.add_argument(
        "--colour", default=DEFAULT_COLOUR, help=f"hex colour (default {DEFAULT_COLOUR})"
    )
    add.add_argument("--description", default="", help="what the segment is for")
    add.add_argument("--replace", action="store_true", help="change the segment if it exists")
    add.set_defaults(handler=cmd_add)

    remove = sub.add_parser("remove", help="remove a user segment and its memberships")
    remove.add_argument("name", help="the segment's name or key")
    remove.set_defaults(handler=cmd_remove)

    export = sub.add_parser("export", help="write segment definitions as TOML or JSON")
    export.add_argument("--format", choices=("toml", "json"), default="toml")
    export.add_argument("--user-only", action="store_true", help="leave out the built-ins")
    export.add_argument("--output", "-o", type=Path, metavar="FILE", help="file (default: stdout)")
    export.set_defaults(handler=cmd_export)

    load = sub.add_parser("import", help="add segments from a TOML or JSON file (all or nothing)")
    load.add_argument("file", type=Path)
    load.add_argument("--format", choices=("toml", "json"), help="default: from the file name")
    load.add_argument("--replace", action="store_true", help="replace segments that exist")
    load.set_defaults(handler=cmd_import)


def _service(settings: Settings) -> Any:
    from hubsync_core.service import HubSyncService

    return HubSyncService(settings, owner="cli")


def cmd_list(args: argparse.Namespace, settings: Settings) -> int:
    with _service(settings) as service:
        defs = service.segments()
        counts = service.segment_sizes()
        rows = [
            {
                "name": seg.name,
                "key": seg.key,
                "builtin": seg.builtin,
                "colour": seg.colour,
                "members": counts.get(seg.key, 0),
                # For people: enumeration values read as their option labels.
                "rule": service.describe_rule(seg.rule),
            }
            for seg in defs
        ]
    if args.json:
        print(json.dumps(rows, indent=2, ensure_ascii=False))
        return 0
    for row in rows:
        kind = "built-in" if row["builtin"] else "user"
        print(f"{row['name']} [{row['key']}, {kind}] {row['members']:,} contacts: {row['rule']}")
    return 0


def cmd_add(args: argparse.Namespace, settings: Settings) -> int:
    if args.rule and args.where:
        raise ValueError("give either --rule or --where, not both")
    if args.rule:
        rule = rule_from_dict(json.loads(args.rule))
    elif args.where:
        rule = Group("any" if args.any else "all", [parse_condition(c) for c in args.where])
    else:
        raise ValueError("a segment needs conditions: --where 'field op value' (or --rule JSON)")
    segment = SegmentDef(args.name, args.colour, rule, description=args.description)
    with _service(settings) as service:
        existing = {s.key: s.name for s in service.segments()}
        original = existing.get(segment.key) if args.replace else None
        saved = service.save_segment(segment, original_name=original)
        count, _sample = service.preview_segment(saved.rule, sample=0)
    print(f"Saved segment {saved.name!r} ({saved.key}): {count:,} contacts match.")
    return 0


def cmd_remove(args: argparse.Namespace, settings: Settings) -> int:
    with _service(settings) as service:
        removed = service.delete_segment(args.name)
    if not removed:
        print(f"hubsync: no user segment named {args.name!r}", file=sys.stderr)
        return 2
    print(f"Removed segment {args.name!r}.")
    return 0


def cmd_export(args: argparse.Namespace, settings: Settings) -> int:
    with _service(settings) as service:
        text = service.export_segments(args.format, include_builtin=not args.user_only)
    if args.output:
        args.output.write_text(text, encoding="utf-8")
        print(f"Wrote segment definitions to {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


def cmd_import(args: argparse.Namespace, settings: Settings) -> int:
    fmt = args.format or ("json" if args.file.suffix.lower() == ".json" else "toml")
    text = args.file.read_text(encoding="utf-8")
    with _service(settings) as service:
        result = service.import_segments(text, fmt, replace_existing=args.replace)
    print(
        f"Imported segments: {len(result.added)} added, {len(result.replaced)} replaced, "
        f"{len(result.skipped)} skipped (exist; use --replace)."
    )
    return 0
