"""An audited portal: a sandbox synced fully into a database, and helpers to damage the copy."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa
from sync_helpers import fast_client, sandbox_settings

from hubsync_core.clock import utcnow
from hubsync_core.config import Settings
from hubsync_core.hubspot.client import HubSpotClient
from hubsync_core.sandbox import Sandbox, SandboxConfig
from hubsync_core.store.database import Database
from hubsync_core.store.models import Contact
from hubsync_core.sync.engine import run_sync
from hubsync_core.sync.model import SyncOptions

CONTACTS = Contact.__table__  # type: ignore[attr-defined]


@dataclass
class Audited:
    sandbox: Sandbox
    db: Database
    settings: Settings
    client: HubSpotClient

    def later(self, minutes: float = 10) -> datetime:
        """A time past the index lag of every change made so far (the audit's clock)."""
        return utcnow() + timedelta(minutes=minutes)

    def delete_locally(self, ids: list[str]) -> None:
        with self.db.transaction() as conn:
            conn.execute(CONTACTS.delete().where(CONTACTS.c.hubspot_id.in_(ids)))

    def add_locally(self, ids: list[str], *, days_old: float = 3) -> None:
        """Rows for `ids`, last modified `days_old` ago (0: after the copy was proven)."""
        now = utcnow()
        rows = [
            {
                "hubspot_id": i,
                "properties": {"hs_object_id": i},
                "synced_at": now,
                "updated_at": now - timedelta(days=days_old),
                "archived": False,
                "seen_generation": 0,
            }
            for i in ids
        ]
        with self.db.transaction() as conn:
            conn.execute(CONTACTS.insert(), rows)

    def unused_id_after(self, record_id: str) -> str:
        """An id neither HubSpot nor the copy has: the first gap after `record_id`."""
        taken = {*self.sandbox.portal.live_ids(), *self.sandbox.portal.archived_ids()}
        with self.db.connect() as conn:  # merged-away ids are stored (archived) locally
            taken |= set(conn.execute(sa.select(CONTACTS.c.hubspot_id)).scalars())
        candidate = int(record_id) + 1
        while str(candidate) in taken:
            candidate += 1
        return str(candidate)


def make_audited(contacts: int, seed: int, db: Database, **sandbox_config: object) -> Audited:
    config = SandboxConfig(
        contacts=contacts, seed=seed, rate_limit=0, search_rate_limit=0, **sandbox_config
    )
    sandbox = Sandbox(config)
    sandbox.start()
    settings = sandbox_settings(sandbox, db.url, HUBSYNC_AUDIT_AFTER_SYNC="true")
    client = fast_client(sandbox)
    stats = run_sync(settings, db, client, SyncOptions(mode="full"))
    assert stats.status == "succeeded", stats.message
    return Audited(sandbox, db, settings, client)


@pytest.fixture
def audited(sqlite_db: Database) -> Iterator[Audited]:
    """A 3,000-contact portal synced fully into SQLite."""
    made = make_audited(3000, 19, sqlite_db)
    yield made
    made.client.close()
    made.sandbox.stop()
