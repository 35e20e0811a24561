"""Sandbox configuration: one frozen value that fully determines the fake portal."""

from __future__ import annotations

from dataclasses import dataclass

#: Fault kinds injected at random (`fault_rate`) or on demand (`fail_next`).
FAULT_KINDS: tuple[str, ...] = ("500", "502", "503", "504", "reset", "slow", "truncated", "429")
#: Kinds only `fail_next` can force: a revoked token for one request, a spent daily quota.
FORCED_ONLY_KINDS: tuple[str, ...] = ("401", "daily429")
ALL_KINDS: tuple[str, ...] = FAULT_KINDS + FORCED_ONLY_KINDS

SCOPE_CONTACTS = "crm.objects.contacts.read"
SCOPE_SCHEMAS = "crm.schemas.contacts.read"
SCOPE_LISTS = "crm.lists.read"
SCOPE_CONTACTS_WRITE = "crm.objects.contacts.write"
SCOPE_LISTS_WRITE = "crm.lists.write"
#: What a read-only installation's token has (no write scopes).
READ_SCOPES: tuple[str, ...] = (SCOPE_CONTACTS, SCOPE_SCHEMAS, SCOPE_LISTS, "oauth")
ALL_SCOPES: tuple[str, ...] = (*READ_SCOPES, SCOPE_CONTACTS_WRITE, SCOPE_LISTS_WRITE)


@dataclass(frozen=True)
class SandboxConfig:
    """How the sandbox portal looks and behaves.

    The data is a pure function of (`contacts`, `seed`, `now`, `hostile`); the fault sequence is a
    pure function of `seed` and the order of requests.
    """

    contacts: int = 3000
    seed: int = 42
    #: Added to every API answer (not to the admin path).
    latency_ms: int = 0
    #: Requests per rolling 10 s (HubSpot's burst limit); 0 = unlimited.
    rate_limit: int = 100
    #: Search requests per rolling second; 0 = unlimited.
    search_rate_limit: int = 5
    #: HubSpot may or may not count search calls toward the 10 s burst; default: not.
    search_counts_toward_burst: bool = False
    fault_rate: float = 0.0
    fault_kinds: tuple[str, ...] = FAULT_KINDS
    slow_seconds: float = 3.0
    token: str = "demo-sandbox-token"
    scopes: tuple[str, ...] = ALL_SCOPES
    portal_id: int = 24_681_357
    #: Epoch seconds anchoring the generated dates; None = the time the sandbox is created.
    now: float | None = None
    #: Mix in hostile values (100 KB strings, NUL bytes, scripts, invalid dates, duplicates).
    hostile: bool = False
    #: Requests per day before 429 DAILY; None = not enforced (headers then report 250,000).
    daily_limit: int | None = None
    #: Answer 404 on `/crm/v3/`, as HubSpot will once v3 is retired (see `versions`).
    retire_v3: bool = False
    #: The app's client id and secret: the secret signs webhooks (v3); both buy a
    #: client-credentials token for the Webhooks Journal.
    client_id: str = "sandbox-app"
    client_secret: str = "sandbox-client-secret"
    #: Where webhook deliveries go (None: no deliveries; the journal still records events).
    webhook_url: str | None = None
    #: Seconds before a change shows in search (HubSpot's index lag); 0 = at once. Until then
    #: search sees the contact as it was (lastmodifieddate, live or not; a new one not at all).
    index_lag_seconds: float = 0.0

    def __post_init__(self) -> None:
        if self.contacts < 0:
            raise ValueError("contacts must be >= 0")
        if not 0.0 <= self.fault_rate <= 1.0:
            raise ValueError("fault_rate must be between 0 and 1")
        unknown = [k for k in self.fault_kinds if k not in FAULT_KINDS]
        if unknown:
            raise ValueError(f"unknown fault kinds {unknown}; known: {list(FAULT_KINDS)}")
        if self.index_lag_seconds < 0:
            raise ValueError("index_lag_seconds must be >= 0")
        if self.rate_limit < 0 or self.search_rate_limit < 0:
            raise ValueError("rate limits must be >= 0")
