"""What the incremental scenarios do to the portal, and the check that the database followed:
edits, archivals and a list change made through the sandbox's admin API."""

from __future__ import annotations

from collections.abc import Sequence

from benchmarks.infra import BenchError, SandboxProcess


def _live_ids(url: str) -> list[str]:
    import sqlalchemy as sa

    from hubsync_core.store.database import Database

    db = Database(url)
    with db.connect() as conn:
        ids = [
            r[0]
            for r in conn.execute(
                sa.text("SELECT hubspot_id FROM contacts WHERE archived = :no ORDER BY hubspot_id"),
                {"no": False},
            )
        ]
    db.dispose()
    return ids


def change_contacts(
    sandbox: SandboxProcess, url: str, count: int, label: str = "Bench"
) -> dict[str, str]:
    """Edit `count` stored contacts (spread over the id range) in the portal; returns
    {id: the new jobtitle}."""
    ids = _live_ids(url)
    step = max(len(ids) // max(count, 1), 1)
    chosen = {hubspot_id: f"{label} {n}" for n, hubspot_id in enumerate(ids[::step][:count])}
    for hubspot_id, title in chosen.items():
        sandbox.admin("PATCH", f"contacts/{hubspot_id}", {"properties": {"jobtitle": title}})
    return chosen


#: Contacts archived before the second incremental run of the incremental scenario.
INCREMENTAL_ARCHIVED = 20


def archive_contacts(sandbox: SandboxProcess, url: str, count: int) -> list[str]:
    """Archive `count` stored live contacts (from the end of the id range) in the portal."""
    chosen = _live_ids(url)[-count:]
    for hubspot_id in chosen:
        sandbox.admin("POST", f"contacts/{hubspot_id}/archive", {})
    return chosen


#: The sandbox portal's manual "Newsletter subscribers" list.
NEWSLETTER_LIST = "15"


def change_list(sandbox: SandboxProcess, url: str) -> None:
    """Add a few stored contacts to one list of the portal."""
    sandbox.admin("POST", f"lists/{NEWSLETTER_LIST}/add", {"ids": _live_ids(url)[:10]})


def check_incremental(
    sandbox: SandboxProcess, url: str, edits: dict[str, str], archived: Sequence[str] = ()
) -> None:
    """The database after an incremental run: the portal's live count, every edit stored,
    every archived contact archived."""
    import sqlalchemy as sa

    from hubsync_core.store.database import Database

    live = sandbox.live_contacts()
    db = Database(url)
    with db.connect() as conn:
        stored = conn.execute(
            sa.text("SELECT count(*) FROM contacts WHERE archived = :no"), {"no": False}
        ).scalar_one()
        titles = dict(
            conn.execute(
                sa.text("SELECT hubspot_id, jobtitle FROM contacts WHERE archived = :no"),
                {"no": False},
            ).all()
        )
    db.dispose()
    wrong = [i for i, title in edits.items() if titles.get(i) != title and i not in archived]
    still_live = [i for i in archived if i in titles]
    if stored != live or wrong or still_live:
        raise BenchError(
            f"incremental run not exact: {stored} live stored of {live}, "
            f"{len(wrong)} edits missing, {len(still_live)} archived still live"
        )
