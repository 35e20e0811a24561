"""HubSpot CRM client: paced, retrying, typed errors, tolerant parsing. Knows nothing of storage."""

from .client import ClientCounters, HubSpotClient
from .errors import (
    ApiVersionError,
    AuthenticationError,
    BadRequestError,
    DailyLimitError,
    HubSpotError,
    MissingScopesError,
    RateLimitedError,
    SearchCapError,
    TransientError,
)
from .models import (
    AccountDetails,
    ApiUsage,
    ContactPage,
    ContactRecord,
    ListInfo,
    ListsPage,
    MembershipPage,
    PropertyDefinition,
    RateLimitStatus,
    SearchPage,
    TokenInfo,
)
from .pacing import RateLimiter

__all__ = [
    "AccountDetails",
    "ApiUsage",
    "ApiVersionError",
    "AuthenticationError",
    "BadRequestError",
    "ClientCounters",
    "ContactPage",
    "ContactRecord",
    "DailyLimitError",
    "HubSpotClient",
    "HubSpotError",
    "ListInfo",
    "ListsPage",
    "MembershipPage",
    "MissingScopesError",
    "PropertyDefinition",
    "RateLimitStatus",
    "RateLimitedError",
    "RateLimiter",
    "SearchCapError",
    "SearchPage",
    "TokenInfo",
    "TransientError",
]
