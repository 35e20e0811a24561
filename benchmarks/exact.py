"""The end of every full-sync benchmark run: the database compared with the sandbox's truth
(`GET /_sandbox/truth`): the same live ids, every archived contact flagged, every list with
exactly its live members."""

from __future__ import annotations

from typing import Any

from benchmarks.infra import BenchError, SandboxProcess


def check_counts(runs: list[dict[str, Any]], live: int) -> None:
    """Every full sync stored exactly the portal's live contacts."""
    for run in runs:
        if run["total_synced"] != live:
            raise BenchError(f"a full sync stored {run['total_synced']} of {live} live contacts")


def check_full(sandbox: SandboxProcess, url: str) -> str:
    """Raise `BenchError` unless the database at `url` matches the portal; a short summary."""
    import sqlalchemy as sa

    from hubsync_core.store.database import Database

    truth = sandbox.admin("GET", "truth")
    db = Database(url)
    try:
        with db.connect() as conn:
            rows = conn.execute(sa.text("SELECT hubspot_id, archived FROM contacts")).all()
            members = conn.execute(
                sa.text("SELECT list_id, hubspot_id FROM list_memberships")
            ).all()
    finally:
        db.dispose()
    live = {str(i) for i, archived in rows if not archived}
    flagged = {str(i) for i, archived in rows if archived}
    stored_lists: dict[str, set[str]] = {}
    for list_id, hubspot_id in members:
        stored_lists.setdefault(str(list_id), set()).add(str(hubspot_id))
    wanted_lists = {k: set(v) for k, v in truth["lists"].items() if v}
    problems = []
    if live != set(truth["live"]):
        problems.append(
            f"live ids differ ({len(live - set(truth['live']))} extra, "
            f"{len(set(truth['live']) - live)} missing)"
        )
    if not set(truth["archived"]) <= flagged:
        problems.append(f"{len(set(truth['archived']) - flagged)} archived contacts not flagged")
    if stored_lists != wanted_lists:
        wrong = sorted(
            k
            for k in wanted_lists.keys() | stored_lists.keys()
            if wanted_lists.get(k) != stored_lists.get(k)
        )
        problems.append(f"list memberships differ in lists {wrong}")
    if problems:
        raise BenchError("full sync not exact: " + "; ".join(problems))
    return (
        f"exact: {len(live):,} live, {len(truth['archived']):,} archived, {len(wanted_lists)} lists"
    )
