"""Parsed HubSpot responses: plain, immutable data the sync engine consumes."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class RateLimitStatus:
    """What the last `X-HubSpot-RateLimit-*` headers said (None where absent)."""

    max: int | None = None
    remaining: int | None = None
    interval_ms: int | None = None
    daily: int | None = None
    daily_remaining: int | None = None
    #: `X-HubSpot-RateLimit-Secondly(-Remaining)`, sent by some portals only.
    secondly: int | None = None
    secondly_remaining: int | None = None


@dataclass(frozen=True)
class ContactRecord:
    """One contact as HubSpot returned it: every property value is a string or None."""

    id: str
    properties: dict[str, str | None]
    created_at: str | None = None
    updated_at: str | None = None
    archived: bool = False
    archived_at: str | None = None


@dataclass(frozen=True)
class ContactPage:
    """One page of the list endpoint; `next_after` is None on the last page."""

    contacts: list[ContactRecord]
    next_after: str | None


@dataclass(frozen=True)
class SearchPage:
    """One page of the search endpoint."""

    contacts: list[ContactRecord]
    total: int
    next_after: str | None


@dataclass(frozen=True)
class PropertyDefinition:
    name: str
    label: str
    type: str
    field_type: str = ""
    group_name: str = ""
    options: tuple[str, ...] = ()
    #: (value, label) of every option, in HubSpot's display order.
    option_labels: tuple[tuple[str, str], ...] = field(default=(), compare=False)


@dataclass(frozen=True)
class ListInfo:
    list_id: str
    name: str
    size: int | None = None
    processing_type: str | None = None
    #: What the lists search says about the list's last change (`updatedAt`, `listVersion`,
    #: `hs_last_record_added_at`): an incremental sync re-reads members only when they move.
    updated_at: str | None = None
    version: str | None = None
    last_added_at: str | None = None

    def change_signature(self) -> str | None:
        """Everything the lists search tells about the list's members, as one text (None when
        it tells nothing: such a list is always re-read)."""
        parts = (self.updated_at, self.version, self.size, self.last_added_at)
        if all(part is None for part in parts):
            return None
        return "|".join("" if part is None else str(part) for part in parts)


@dataclass(frozen=True)
class ListsPage:
    lists: list[ListInfo]
    has_more: bool
    offset: int
    total: int | None = None


@dataclass(frozen=True)
class MembershipPage:
    record_ids: list[str]
    next_after: str | None


@dataclass(frozen=True)
class AccountDetails:
    portal_id: str
    time_zone: str | None = None
    data_hosting_location: str | None = None
    account_type: str | None = None
    rate_limit: RateLimitStatus = field(default_factory=RateLimitStatus)


@dataclass(frozen=True)
class TokenInfo:
    """What HubSpot says a token is: its portal and the scopes it grants."""

    kind: str
    hub_id: str | None
    scopes: tuple[str, ...]
    app_id: str | None = None
    user_id: str | None = None


@dataclass(frozen=True)
class ApiUsage:
    """The portal's API calls today and its daily limit (account API usage)."""

    limit: int
    used: int
    resets_at: str | None = None

    @property
    def remaining(self) -> int:
        return max(self.limit - self.used, 0)
