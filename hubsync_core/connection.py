"""Which HubSpot portal HubSync talks to: the configured one, or the built-in demo portal.

With no token configured, HubSync starts the sandbox (a local HubSpot-faithful server) once
per process on a free loopback port and talks to it as it would to HubSpot.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from hubsync_core.config import Secret, Settings
from hubsync_core.hubspot import scopes
from hubsync_core.hubspot.client import HubSpotClient
from hubsync_core.hubspot.errors import HubSpotError, MissingScopesError
from hubsync_core.hubspot.journal import JournalClient
from hubsync_core.hubspot.models import ApiUsage, RateLimitStatus, TokenInfo
from hubsync_core.sandbox import Sandbox, SandboxConfig

DEMO_LABEL = "Demo portal"
DEMO_EXPLANATION = (
    "This is a demo portal served by HubSync's built-in sandbox, not your HubSpot data. "
    "To connect a real portal, set HUBSPOT_ACCESS_TOKEN in .env and restart."
)

_demo_lock = threading.Lock()
_demo: Sandbox | None = None


@dataclass(frozen=True)
class Portal:
    """Where requests go. `demo` portals are the built-in sandbox."""

    base_url: str
    token: Secret
    demo: bool

    @property
    def label(self) -> str:
        return DEMO_LABEL if self.demo else "HubSpot portal"


def demo_sandbox(settings: Settings) -> Sandbox:
    """The process-wide demo sandbox, started on first use."""
    global _demo
    with _demo_lock:
        if _demo is None:
            sandbox = Sandbox(
                SandboxConfig(
                    contacts=settings.demo_contacts,
                    seed=42,
                    rate_limit=100,
                    latency_ms=settings.demo_latency_ms,
                )
            )
            sandbox.start()
            _demo = sandbox
        return _demo


def resolve_portal(settings: Settings) -> Portal:
    """The configured portal, or the demo sandbox when no token is configured."""
    if settings.access_token:
        return Portal(settings.base_url, settings.access_token, demo=False)
    sandbox = demo_sandbox(settings)
    return Portal(sandbox.base_url, Secret(sandbox.token), demo=True)


def make_client(settings: Settings) -> HubSpotClient:
    """A HubSpot client for the settings' portal (starting the demo sandbox if needed)."""
    portal = resolve_portal(settings)
    return HubSpotClient.from_settings(
        settings.with_overrides(access_token=portal.token, base_url=portal.base_url)
    )


def journal_client(settings: Settings) -> JournalClient | None:
    """A Webhooks Journal reader when a project app's client id and secret are configured
    (the demo portal's journal otherwise, in demo mode); None when there is no journal."""
    if settings.client_id and settings.client_secret:
        return JournalClient(settings.base_url, settings.client_id, settings.client_secret)
    if settings.demo:
        sandbox = demo_sandbox(settings)
        return JournalClient(
            sandbox.base_url, sandbox.config.client_id, Secret(sandbox.config.client_secret)
        )
    return None


@dataclass(frozen=True)
class ConnectionCheck:
    """The answer to "Test connection": who we reach, with what headroom, what is missing.

    `granted_scopes` is None when HubSpot would not say what the token grants (the probes
    then name what is missing). `daily_limit`/`daily_remaining` come from the daily
    rate-limit headers or, where the token may read it, the account's API usage.
    """

    ok: bool
    demo: bool
    portal_id: str | None = None
    time_zone: str | None = None
    rate_limit: RateLimitStatus = field(default_factory=RateLimitStatus)
    missing_scopes: tuple[str, ...] = ()
    message: str = ""
    hint: str = ""
    correlation_id: str | None = None
    token_kind: str | None = None
    granted_scopes: tuple[str, ...] | None = None
    daily_limit: int | None = None
    daily_remaining: int | None = None

    def scope_rows(self) -> list[tuple[str, str, bool | None]]:
        """(scope, what it is for, granted: True/False/None when unknown) for every scope."""
        rows: list[tuple[str, str, bool | None]] = []
        for name, why, _needed in scopes.SCOPES:
            if self.granted_scopes is not None:
                granted: bool | None = name in self.granted_scopes
            elif name in self.missing_scopes:
                granted = False
            else:
                granted = None
            rows.append((name, why, granted))
        return rows


def check_connection(settings: Settings) -> ConnectionCheck:
    """Call HubSpot cheaply (account details, token info, one contact, one list, the daily
    usage) and report, never raise."""
    demo = settings.demo
    missing: list[str] = []
    try:
        with make_client(settings) as client:
            details = client.account_details()
            token = _token_info(client)
            for probe in (
                lambda: client.list_contacts(["email"], limit=1),
                lambda: client.search_lists(count=1),
            ):
                try:
                    probe()
                except MissingScopesError as exc:
                    missing.extend(exc.scopes or ["(unnamed scope)"])
            rate_limit = client.rate_limit
            usage = _api_usage(client)
    except HubSpotError as exc:
        found = tuple(exc.scopes) if isinstance(exc, MissingScopesError) else ()
        return ConnectionCheck(
            ok=False,
            demo=demo,
            missing_scopes=found,
            message=exc.message,
            hint=exc.hint,
            correlation_id=exc.correlation_id,
        )
    granted = token.scopes if token is not None else None
    if granted is not None:
        missing += [name for name in scopes.SYNC_SCOPES if name not in granted]
    missing = list(dict.fromkeys(missing))
    message = f"Connected to portal {details.portal_id}"
    hint = ""
    if missing:
        message += f", but the token is missing the scope(s): {', '.join(missing)}"
        hint = MissingScopesError.hint
    daily_limit, daily_remaining = rate_limit.daily, rate_limit.daily_remaining
    if usage is not None:
        daily_limit, daily_remaining = usage.limit, usage.remaining
    return ConnectionCheck(
        ok=not missing,
        demo=demo,
        portal_id=details.portal_id,
        time_zone=details.time_zone,
        rate_limit=rate_limit,
        missing_scopes=tuple(missing),
        message=message,
        hint=hint,
        token_kind=token.kind if token is not None else None,
        granted_scopes=granted,
        daily_limit=daily_limit,
        daily_remaining=daily_remaining,
    )


def _token_info(client: HubSpotClient) -> TokenInfo | None:
    """What the token grants, or None when HubSpot would not say (never fails the check)."""
    try:
        return client.token_info()
    except HubSpotError:
        return None


def _api_usage(client: HubSpotClient) -> ApiUsage | None:
    try:
        return client.api_usage()
    except HubSpotError:
        return None
