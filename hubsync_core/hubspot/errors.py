"""Typed HubSpot errors. Messages are for people; none ever contains the token."""

from __future__ import annotations


class HubSpotError(Exception):
    """Base of every error the client raises. `correlation_id` is HubSpot's, when given."""

    #: What the user should do next; shown under the message in the UI and CLI.
    hint: str = ""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        correlation_id: str | None = None,
        category: str | None = None,
    ) -> None:
        self.message = message
        self.status = status
        self.correlation_id = correlation_id
        self.category = category
        super().__init__(self.__str__())

    def __str__(self) -> str:
        text = self.message
        if self.correlation_id:
            text += f" (correlationId {self.correlation_id})"
        return text


class AuthenticationError(HubSpotError):
    """401: the token is invalid, expired or revoked. Never retried."""

    hint = "Create a new access token (private app or service key) and set HUBSPOT_ACCESS_TOKEN."


class MissingScopesError(HubSpotError):
    """403: the token lacks scopes. `scopes` names them when HubSpot did."""

    hint = "Add the missing scopes to the private app or service key, then sync again."

    def __init__(self, message: str, *, scopes: list[str] | None = None, **kwargs: object) -> None:
        self.scopes = list(scopes or [])
        super().__init__(message, **kwargs)  # type: ignore[arg-type]


class DailyLimitError(HubSpotError):
    """429 with policy DAILY: the portal's daily quota is spent; retrying will not help today."""

    hint = (
        "HubSpot's daily API limit resets at midnight in the portal's time zone; sync again then."
    )


class RateLimitedError(HubSpotError):
    """429 (burst or secondly) still returned after every retry."""

    hint = "Another integration may be using this app's burst limit; wait a minute and resume."


class BadRequestError(HubSpotError):
    """400/404/414 and other client errors that a retry cannot fix."""


class ApiVersionError(BadRequestError):
    """404 on a path every portal has: HubSpot no longer serves this API version."""

    hint = (
        "Set HUBSPOT_API_VERSION to a version HubSpot supports (2026-03 is the default) "
        "and sync again."
    )


class SearchCapError(BadRequestError):
    """Search was asked for results past its 10,000-result cap."""


class TransientError(HubSpotError):
    """5xx, timeouts, resets or unreadable JSON that outlasted every retry."""

    hint = "HubSpot or the network is having trouble; the run kept what it stored, sync again to resume."
