"""The `budgets` scenario (issue 17 item 1): a full sync at HubSpot Starter and Professional
limits with 50 ms latency, both budgets spent at once (the list endpoint's 10-s window and
search's 5 a second).

Each run reports contacts/s end to end and for the contacts phase, 429s as a share of calls,
and each budget's use as the sandbox admitted it, second by second (`GET /_sandbox/budget`):
requests/s of the list window and of search while the contacts phase ran. Each run ends with
the database checked against the sandbox's truth (`benchmarks.exact.check_full`: the same
live ids, every archived contact flagged, every list with exactly its members).

The planner's physical ceiling, for reading the figures: search 5/s x 200 = 1,000 contacts/s
(4.8/s after the client's arrival margin); the list window 95 of 100 per 10 s x 100 = 950/s
at Starter, and at Professional (180 of 190) the cursor's round trip, about 18 pages/s at
50 ms. The rest of a full sync (archived pass, list memberships) also draws on the list
window, after the contacts phase.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from benchmarks.exact import check_full
from benchmarks.infra import Databases, SandboxProcess

if TYPE_CHECKING:
    from benchmarks.run import Suite

#: (tier, requests per rolling 10 s of the list-type window).
TIERS: tuple[tuple[str, int], ...] = (("Starter", 100), ("Professional", 190))
SEARCH_PER_SECOND = 5


def run(suite: Suite, databases: Databases, contacts: int, latency_ms: int) -> None:
    """Every tier on every backend: `suite.sizes.repeats` full syncs each, median row."""
    for tier, burst in TIERS:
        sandbox = SandboxProcess.start(
            contacts, latency_ms=latency_ms, rate_limit=burst, search_rate_limit=SEARCH_PER_SECOND
        )
        try:
            live = sandbox.live_contacts()
            for backend in suite.backends:
                runs = [
                    _one_sync(suite, sandbox, databases, backend)
                    for _ in range(suite.sizes.repeats)
                ]
                row = suite.sync_row(f"budgets {tier}", backend, runs, "", live)
                median = sorted(runs, key=lambda r: r["contacts_per_s"])[len(runs) // 2]
                share_429 = (row.rate_limited or 0) / max(row.api_calls or 0, 1)
                row.extra.update(
                    tier=tier,
                    burst_per_10s=burst,
                    latency_ms=latency_ms,
                    share_429=share_429,
                    list_per_s_in_phase=median["list_per_s_in_phase"],
                    search_per_s_in_phase=median["search_per_s_in_phase"],
                    budget_seconds=median["budget_seconds"],
                    database_exact=True,
                )
                row.note = (
                    f"phase {row.extra['phase_contacts_per_s']:,.0f}/s; {share_429:.1%} 429s; "
                    f"in phase list {median['list_per_s_in_phase']:.1f}/s (of {burst / 10:g}), "
                    f"search {median['search_per_s_in_phase']:.1f}/s (of 5); exact"
                )
                suite.add(row)
                suite.log("    list/search requests per second: " + _timeline(median))
        finally:
            sandbox.stop()


def _one_sync(
    suite: Suite,
    sandbox: SandboxProcess,
    databases: Databases,
    backend: str,
) -> dict[str, Any]:
    """One full sync into a new database, checked exact, with each budget's use."""
    url = databases.new(backend, "budgets")
    try:
        start = sandbox.admin("GET", "budget")["now"]
        result = suite.sync(sandbox, url)
        end = sandbox.admin("GET", "budget")
        result["checked"] = check_full(sandbox, url)
    finally:
        databases.drop(url)
    # Sandbox seconds from the run's first admitted request (the sync's first call).
    busy = [row for row in end["seconds"] if row[0] >= int(start)]
    first, last = (busy[0][0] if busy else int(start)), int(end["now"])
    per_second = {s: (lst, srch) for s, lst, srch in busy}
    rows = [[s - first, *per_second.get(s, (0, 0))] for s in range(first, last + 1)]
    result["budget_seconds"] = rows
    # The contacts phase, in whole seconds of that timeline (to about a second).
    offset = result.get("contacts_phase_offset") or 0.0
    phase = result.get("contacts_phase_seconds") or result["wall_seconds"]
    inside = [r for r in rows if offset <= r[0] and r[0] + 1 <= offset + phase] or rows
    result["list_per_s_in_phase"] = sum(r[1] for r in inside) / len(inside)
    result["search_per_s_in_phase"] = sum(r[2] for r in inside) / len(inside)
    return result


def _timeline(run: dict[str, Any]) -> str:
    """`16/5 18/5 ...`: list-type and search requests admitted in each second of the run."""
    return " ".join(f"{lst}/{srch}" for _s, lst, srch in run["budget_seconds"])
