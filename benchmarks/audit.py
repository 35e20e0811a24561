"""The audit scenario: `hubsync audit` on an exact copy and on a damaged one.

A full sync of N contacts into SQLite, then an audit of the exact copy; then the copy is
damaged behind HubSync's back (37 contacts deleted locally, 5 rows for ids HubSpot does not
have, 50 contacts changed in HubSpot and never synced) and audited, repaired, and audited
again. Calls are the sandbox's own count; the client paces searches at HubSpot's 5/s, which
the sandbox enforces too, so the seconds are what a real portal would cost at that pace.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from benchmarks.infra import BenchError, Databases, SandboxProcess, run_child

DELETED, EXTRA, CHANGED = 37, 5, 50
#: The sandbox answers searches at once: the index lag setting is 0 so changes made just
#: before the audit are drift, as they would be minutes later on a real portal.
AUDIT_ENV = {"HUBSYNC_INDEX_LAG_SECONDS": "0", "HUBSYNC_INCREMENTAL_LAG_MINUTES": "0"}


def _audit(sandbox: SandboxProcess, url: str, *, repair: bool = False) -> dict[str, Any]:
    before = sandbox.stats()
    args = ["audit", "--repair"] if repair else ["audit"]
    result = run_child(args, {**sandbox.env(), "DATABASE_URL": url, **AUDIT_ENV})
    after = sandbox.stats()
    result["sandbox_requests"] = after["requests"] - before["requests"]
    return dict(result)


def _damage(sandbox: SandboxProcess, url: str, seed: int) -> dict[str, set[str]]:
    """Damage the copy; return the ids the audit must name, by kind."""
    import sqlalchemy as sa

    from hubsync_core.clock import utcnow
    from hubsync_core.store.database import Database

    rng = random.Random(seed)
    db = Database(url)
    with db.connect() as conn:
        ids = sorted(
            int(r[0])
            for r in conn.execute(
                sa.text("SELECT hubspot_id FROM contacts WHERE archived = :no"), {"no": False}
            )
        )
    taken = set(ids)
    picked = rng.sample(range(len(ids)), DELETED + CHANGED)
    deleted = {str(ids[k]) for k in picked[:DELETED]}
    changed = {str(ids[k]) for k in picked[DELETED:]}
    extra: set[str] = set()
    while len(extra) < EXTRA:  # ids in the gaps of HubSpot's sparse ids
        candidate = ids[rng.randrange(len(ids))] + 1
        if candidate not in taken:
            extra.add(str(candidate))
    now = utcnow()
    with db.transaction() as conn:
        conn.execute(
            sa.text("DELETE FROM contacts WHERE hubspot_id = :i"), [{"i": i} for i in deleted]
        )
        conn.execute(
            sa.text(
                "INSERT INTO contacts (hubspot_id, properties, synced_at, updated_at, archived, "
                "seen_generation) VALUES (:i, '{}', :now, :now, :no, 0)"
            ),
            [{"i": i, "now": now, "no": False} for i in extra],
        )
    db.dispose()
    for record_id in changed:  # changed in HubSpot; no sync runs before the audit
        sandbox.admin("PATCH", f"contacts/{record_id}", {"properties": {"jobtitle": "Audited"}})
    return {"missing": deleted, "extra": extra, "stale": changed}


def run(
    databases: Databases,
    sizes: tuple[int, ...],
    sync: Callable[..., dict[str, Any]],
    log: Callable[[str], None],
) -> list[dict[str, Any]]:
    """Figures per portal size: exact, damaged, repair, and the audit after the repair."""
    rows = []
    for contacts in sizes:
        sandbox = SandboxProcess.start(contacts, search_rate_limit=5)
        url = databases.new("sqlite", f"audit-{contacts}")
        try:
            synced = sync(sandbox, url, env=AUDIT_ENV)
            exact = _audit(sandbox, url)
            if exact["status"] != "in_sync":
                raise BenchError(f"exact copy not in sync: {exact['verdict']}")
            expected = _damage(sandbox, url, seed=contacts)
            damaged = _audit(sandbox, url)
            named = {kind: set(damaged[kind]) for kind in expected}
            repaired = _audit(sandbox, url, repair=True)
            after = _audit(sandbox, url)
        finally:
            databases.drop(url)
            sandbox.stop()
        figures = {
            "contacts": synced["total_synced"],
            "ranges": exact["ranges"],
            "exact_calls": exact["sandbox_requests"],
            "exact_seconds": exact["wall_seconds"],
            "damaged_calls": damaged["sandbox_requests"],
            "damaged_seconds": damaged["wall_seconds"],
            "damaged_counts": damaged["counts"],
            "named_exactly": named == expected,
            "repair_calls": repaired["sandbox_requests"] - repaired["apiCalls"],
            "repair": repaired["repair"],
            "after_repair": after["status"],
            "after_repair_calls": after["sandbox_requests"],
        }
        log(f"audit {contacts:,}: {figures}")
        rows.append(figures)
    return rows
