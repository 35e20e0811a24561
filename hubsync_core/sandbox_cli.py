"""`hubsync sandbox`: serve the built-in HubSpot-faithful sandbox until stopped."""

from __future__ import annotations

import argparse
from typing import Any

from hubsync_core.cli_common import EXIT_OK, CommandError, _non_negative
from hubsync_core.config import Settings


def add_sandbox_command(commands: Any) -> None:
    """Register `sandbox` on the main parser's subparsers."""
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
