"""Round trips a full sync spends outside its contacts walk, from the sandbox's request log
(`GET /_sandbox/requests`): a figure the machine's load does not change.

The walk is the contacts list cursor (and the id-range searches after its first page); a
call B follows call A when B arrived after A was answered. The longest such chain among the
calls answered before the walk's first page is what the walk waited for; the longest among
the calls made after the walk's last answer is what the run added at its end.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from benchmarks.infra import SandboxProcess
from hubsync_core.hubspot import endpoints

PATHS = endpoints.DEFAULT


def last_seq(sandbox: SandboxProcess) -> int:
    """The newest request number so far (0 when none)."""
    entries = sandbox.admin("GET", "requests")
    return max((int(e["seq"]) for e in entries), default=0)


def outside_walk(sandbox: SandboxProcess, since: int) -> dict[str, int]:
    """{before, after}: round trips outside the walk of the run whose requests follow `since`;
    {overlapping}: other calls made while the walk was under way."""
    entries = [e for e in sandbox.admin("GET", "requests") if int(e["seq"]) > since]
    walk = [
        e
        for e in entries
        if e["method"] == "GET"
        and e["path"] == PATHS.contacts
        and e["query"].get("archived") != "true"
    ]
    if not walk:
        return {"before": 0, "after": 0, "overlapping": 0}
    start = min(e["seq"] for e in walk)
    live = [e for e in entries if e["seq"] >= start and (e in walk or _is_search(e))]
    end = max(e["answered"] or e["seq"] for e in live)
    before = [e for e in entries if e["seq"] < start and (e["answered"] or 0) < start]
    after = [e for e in entries if e["seq"] > end]
    during = [e for e in entries if start < e["seq"] <= end and e not in live]
    return {"before": _chain(before), "after": _chain(after), "overlapping": len(during)}


def _is_search(entry: dict[str, Any]) -> bool:
    return bool(entry["method"] == "POST" and entry["path"] == PATHS.contacts_search)


def _chain(entries: Sequence[dict[str, Any]]) -> int:
    """The longest chain of calls each made after the previous one was answered."""
    depth: dict[int, int] = {}
    ordered = sorted(entries, key=lambda e: e["seq"])
    for n, entry in enumerate(ordered):
        depth[n] = 1 + max(
            (depth[m] for m in range(n) if entry["seq"] > (ordered[m]["answered"] or 0)),
            default=0,
        )
    return max(depth.values(), default=0)
