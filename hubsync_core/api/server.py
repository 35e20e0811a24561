"""Running the API under uvicorn: bind rules, the startup message, the socket.

Binds 127.0.0.1 unless told otherwise. A non-loopback address is refused unless
`HUBSYNC_API_TOKEN` is configured: a generated token sits in a file on this machine, and
exposing the API to a network should be a decision someone made, with a token they chose
and can rotate (and, outside a trusted network, TLS in front of it).
"""

from __future__ import annotations

import ipaddress
import logging
import socket
from collections.abc import Callable

import uvicorn

from hubsync_core.api.app import create_app
from hubsync_core.api.tokens import ApiToken, resolve_token
from hubsync_core.config import Settings

log = logging.getLogger("hubsync.api")


class BindRefused(Exception):
    """The address may not be served with these settings; the message says why."""


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and `localhost`."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_bind(host: str, settings: Settings) -> None:
    """Raise `BindRefused` for a non-loopback address without a configured token."""
    if not is_loopback(host) and not settings.api_token:
        raise BindRefused(
            f"refusing to serve the API on {host}, which other machines can reach, without "
            "HUBSYNC_API_TOKEN: a generated token is meant for this machine only. Set "
            "HUBSYNC_API_TOKEN (at least 16 characters) in .env or the environment, or bind "
            "127.0.0.1."
        )


def open_socket(host: str, port: int) -> socket.socket:
    """A listening socket (port 0: any free port), so the real port can be announced."""
    family = socket.AF_INET6 if ":" in host.strip("[]") else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host.strip("[]"), port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def serve(
    settings: Settings,
    host: str = "127.0.0.1",
    port: int = 8000,
    *,
    announce: Callable[[str, ApiToken], None] | None = None,
) -> None:
    """Serve the API until interrupted. `announce(base_url, token)` runs once listening."""
    check_bind(host, settings)
    token = resolve_token(settings)
    app = create_app(settings=settings, token=token.value)
    sock = open_socket(host, port)
    bound = sock.getsockname()[1]
    shown = f"[{host.strip('[]')}]" if ":" in host.strip("[]") else host
    if announce is not None:
        announce(f"http://{shown}:{bound}", token)
    config = uvicorn.Config(
        app,
        log_level=settings.log_level.lower(),
        # The access log shows method, path and status; never headers (the token).
        access_log=True,
        timeout_graceful_shutdown=10,
    )
    uvicorn.Server(config).run(sockets=[sock])
