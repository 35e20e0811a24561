"""`hubsync api` (serve the HTTP API) and `hubsync api token` (where its token is).

Registered in `cli.py` by `add_api_commands(commands)`.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from hubsync_core.config import Settings


def add_api_commands(commands: Any) -> None:
    """Add `api` and `api token` to the `hubsync` subcommands."""
    from hubsync_core.cli import _non_negative

    api = commands.add_parser(
        "api",
        help="serve the HTTP API (the original spec's REST endpoints)",
        description="Serve the HTTP API on the same database, settings and sync lock as the "
        "dashboard and the CLI (the demo portal when no HUBSPOT_ACCESS_TOKEN is set). Every "
        "route but /healthz needs 'Authorization: Bearer <token>': HUBSYNC_API_TOKEN, or a "
        "token generated on first start (see `hubsync api token`). Docs at /docs.",
    )
    api.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to bind (default 127.0.0.1; others need HUBSYNC_API_TOKEN)",
    )
    api.add_argument(
        "--port", type=_non_negative, default=8000, help="port (default 8000; 0 = any free)"
    )
    api.set_defaults(handler=cmd_api)
    sub = api.add_subparsers(title="api commands", metavar="COMMAND")
    token = sub.add_parser(
        "token",
        help="say where the API token is (--show prints it)",
        description="Say where the API's bearer token comes from: HUBSYNC_API_TOKEN, or the "
        "file generated in the data folder (created now if missing). --show prints the "
        "token itself.",
    )
    token.add_argument("--show", action="store_true", help="print the token on stdout")
    token.set_defaults(handler=cmd_api_token)


def cmd_api(args: argparse.Namespace, settings: Settings) -> int:
    from hubsync_core.api.server import BindRefused, serve
    from hubsync_core.api.tokens import ApiToken
    from hubsync_core.cli import EXIT_OK, EXIT_USAGE

    def announce(base_url: str, token: ApiToken) -> None:
        portal = "the demo portal (no HUBSPOT_ACCESS_TOKEN)" if settings.demo else "HubSpot"
        print(f"HubSync API for {portal} at {base_url}  (docs: {base_url}/docs)", flush=True)
        if token.configured:
            print(f"API token: {token.describe(settings)}", flush=True)
        else:
            note = "generated now" if token.created else "generated earlier"
            print(
                f"API token: in {token.path} ({note}, readable only by you); "
                "print it with `hubsync api token --show`.",
                flush=True,
            )
        print("Stop with Ctrl-C.", flush=True)

    try:
        serve(settings, args.host, args.port, announce=announce)
    except BindRefused as exc:
        print(f"hubsync: {exc}", file=sys.stderr)
        return EXIT_USAGE
    return EXIT_OK


def cmd_api_token(args: argparse.Namespace, settings: Settings) -> int:
    from hubsync_core.api.tokens import resolve_token
    from hubsync_core.cli import EXIT_OK

    token = resolve_token(settings)
    if args.show:
        print(token.value.reveal())
        return EXIT_OK
    if token.configured:
        print(f"The API token is {token.describe(settings)}.")
    else:
        made = " (generated now)" if token.created else ""
        print(f"The API token is in {token.path}{made}, readable only by its owner.")
    print("Print it with `hubsync api token --show`; send it as 'Authorization: Bearer <token>'.")
    return EXIT_OK
