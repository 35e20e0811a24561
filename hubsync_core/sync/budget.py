"""The portal's daily API budget: read it, estimate what a run will spend, refuse a run that
would take more than its share (`HUBSYNC_DAILY_BUDGET_SHARE`) before it starts.

HubSpot's daily limit is per portal, shared by every app, and resets at midnight in the
portal's time zone; a DAILY 429 does not clear for hours. A run that would spend most of it
leaves the portal's other integrations nothing, so it is better refused up front, with the
numbers, than stopped half-way.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from hubsync_core.hubspot import search_filters as sf
from hubsync_core.hubspot.client import HubSpotClient
from hubsync_core.hubspot.errors import (
    BadRequestError,
    HubSpotError,
    RateLimitedError,
    TransientError,
)
from hubsync_core.hubspot.paging import LIST_PAGE, SEARCH_PAGE
from hubsync_core.store import contacts as contact_store
from hubsync_core.store import runs
from hubsync_core.store.database import Database
from hubsync_core.sync.context import RunContext

log = logging.getLogger("hubsync.sync")

#: Calls a run spends besides its pages: properties, totals, lists, retries.
OVERHEAD_CALLS = 10
#: The archived pass and lists cost about this share of the contact pages again.
EXTRA_SHARE = 0.1


class BudgetRefused(HubSpotError):
    """The run would spend more of the portal's daily API budget than it may."""

    hint = (
        "Sync a part with --max-contacts, sync tomorrow (the budget resets at midnight in the "
        "portal's time zone), or raise HUBSYNC_DAILY_BUDGET_SHARE."
    )


@dataclass(frozen=True)
class DailyBudget:
    """The portal's daily API limit and what is left of it (None where HubSpot did not say)."""

    limit: int | None = None
    remaining: int | None = None

    @property
    def known(self) -> bool:
        return self.limit is not None and self.remaining is not None

    @property
    def used(self) -> int | None:
        if not self.known:
            return None
        return max((self.limit or 0) - (self.remaining or 0), 0)


#: sync_state key: the daily budget the last run saw at its end ("limit,remaining,ISO time").
LAST_BUDGET = "daily_budget_seen"
#: A budget seen by an earlier run stands in for a call if it is this recent.
RECENT = timedelta(hours=1)


def remember_budget(db: Database, client: HubSpotClient, now: datetime) -> None:
    """Keep what the run's last answer said of the daily budget, for the next run's check."""
    headers = client.rate_limit
    if headers.daily is None or headers.daily_remaining is None:
        return
    with db.transaction() as conn:
        runs.set_state(
            conn, LAST_BUDGET, f"{headers.daily},{headers.daily_remaining},{now.isoformat()}"
        )


def _recent_budget(db: Database, now: datetime) -> DailyBudget | None:
    raw = runs.get_state(db, LAST_BUDGET)
    try:
        limit, remaining, seen = str(raw).split(",", 2)
        if (
            now - datetime.fromisoformat(seen) <= RECENT
            and now.date() == datetime.fromisoformat(seen).date()
        ):
            return DailyBudget(int(limit), int(remaining))
    except ValueError:
        pass
    return None


def read_budget(
    client: HubSpotClient, db: Database | None = None, now: datetime | None = None
) -> DailyBudget:
    """Today's budget: the daily rate-limit headers this client last saw, else what the last
    run saw within the hour (no call either way), else the account's API usage where the
    token may read it, else the headers of one cheap call (OAuth tokens get neither:
    unknown). Raises what that call raises."""
    headers = client.rate_limit
    if headers.daily is not None:
        return DailyBudget(headers.daily, headers.daily_remaining)
    if db is not None and now is not None and (recent := _recent_budget(db, now)) is not None:
        return recent
    usage = client.api_usage()
    if usage is not None:
        return DailyBudget(usage.limit, usage.remaining)
    headers = client.rate_limit
    if headers.daily is None:
        client.account_details()
        headers = client.rate_limit
    return DailyBudget(headers.daily, headers.daily_remaining)


def estimate_calls(ctx: RunContext, *, precise: bool = False) -> int | None:
    """About how many API calls this run will make (None when it cannot be told).

    An incremental run is estimated from the contacts stored (its window cannot hold many
    more), unless `precise`: then one search counts the window.
    """
    cap = ctx.options.max_contacts
    if ctx.mode == "full":
        total = ctx.expected_total
        pages = None if total is None else math.ceil(total / ctx.options.batch_size)
    elif ctx.mode == "incremental":
        live = contact_store.count_all_live(ctx.db)
        total = _window_total(ctx) if precise else live + SEARCH_PAGE
        pages = None if total is None else math.ceil(total / SEARCH_PAGE)
        if pages is not None and ctx.options.sweep:
            pages += math.ceil(live / LIST_PAGE)
    else:
        return None
    if pages is None:
        return None
    if cap is not None:
        pages = min(pages, math.ceil(cap / LIST_PAGE))
    return pages + math.ceil(pages * EXTRA_SHARE) + OVERHEAD_CALLS


def refusal(budget: DailyBudget, estimate: int | None, share: float, mode: str) -> str | None:
    """Why a run of `estimate` calls may not start (None when it may)."""
    if not budget.known or estimate is None:
        return None
    limit, remaining = budget.limit or 0, budget.remaining or 0
    allowed = math.floor(limit * share)
    if estimate > allowed:
        return (
            f"This {mode} sync needs about {estimate:,} API calls, more than "
            f"HUBSYNC_DAILY_BUDGET_SHARE ({share:.0%}) of the portal's daily budget of "
            f"{limit:,} calls ({allowed:,}); it was not started"
        )
    if estimate > remaining:
        return (
            f"This {mode} sync needs about {estimate:,} API calls but only {remaining:,} of the "
            f"portal's {limit:,} daily calls are left today; it was not started"
        )
    return None


def check_before_start(ctx: RunContext) -> DailyBudget:
    """Read the budget and raise `BudgetRefused` when this run would spend too much of it."""
    budget = read_budget(ctx.client, ctx.db, ctx.clock())
    share = ctx.settings.daily_budget_share
    estimate = estimate_calls(ctx)
    reason = refusal(budget, estimate, share, ctx.mode)
    if reason and ctx.mode == "incremental":
        # The rough estimate is an upper bound: count the window before refusing.
        estimate = estimate_calls(ctx, precise=True)
        reason = refusal(budget, estimate, share, ctx.mode)
    if budget.known:
        log.info(
            "Daily API budget: %s of %s calls left; this run needs about %s",
            f"{budget.remaining:,}",
            f"{budget.limit:,}",
            f"{estimate:,}" if estimate is not None else "an unknown number of",
        )
    if reason:
        raise BudgetRefused(reason)
    return budget


def _window_total(ctx: RunContext) -> int | None:
    window = ctx.checkpoint.get("window")
    if not window:
        return None
    return _search_total(ctx, sf.modified_between(window["start"], window["end"]))


def _search_total(ctx: RunContext, filters: list[sf.Filter]) -> int | None:
    try:
        page = ctx.client.search_contacts(sf.group(*filters), ["hs_object_id"], limit=1)
    except (BadRequestError, TransientError, RateLimitedError):
        return None  # the estimate is then unknown; the run is not refused for it
    return page.total
