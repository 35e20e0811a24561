"""The data version: one cheap key that changes with every write a face may show (a sync's
pages, clearing contacts, any segment change, from any face), and only then."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from hubsync_core.config import Settings
from hubsync_core.segments import Condition, Group, SegmentDef
from hubsync_core.service import HubSyncService
from hubsync_core.store import runs
from hubsync_core.store.database import Database

LEADS = SegmentDef("Leads", "#336699", Group("all", [Condition("lifecyclestage", "eq", "lead")]))


@pytest.fixture
def service(db: Database, tmp_path: Path) -> Iterator[HubSyncService]:
    settings = Settings.load(
        {"HUBSYNC_DATA_DIR": str(tmp_path), "DATABASE_URL": db.url},
        dotenv_path=None,
        secrets_path=None,
    )
    with HubSyncService(settings, database=db) as made:
        yield made


def test_the_version_is_stable_while_nothing_is_written(service: HubSyncService) -> None:
    first = service.data_version()
    service.segments()
    service.overview()
    assert service.data_version() == first
    assert hash(service.data_version()) == hash(first)  # usable as a cache key


def test_each_page_a_sync_commits_and_its_end_change_the_version(
    service: HubSyncService,
) -> None:
    before = service.data_version()
    run = runs.create_run(service.db, "full", "test", {"mode": "full"})
    assert run.id is not None
    started = service.data_version()
    assert started != before
    progress = dict(api_calls=1, retries=0, rate_limited=0, errors=0, rejected=0, checkpoint={})
    with service.db.transaction() as conn:
        runs.save_progress(conn, run.id, pages=1, contacts=100, **progress)
    one_page = service.data_version()
    assert one_page != started
    runs.finish_run(service.db, run.id, "succeeded", by_segment={}, duration_seconds=1.0)
    assert service.data_version() != one_page


def test_segment_changes_and_clearing_change_the_version(service: HubSyncService) -> None:
    seen = [service.data_version()]

    def changed() -> bool:
        seen.append(service.data_version())
        return seen[-1] != seen[-2]

    service.save_segment(LEADS)
    assert changed()
    exported = service.export_segments("toml", include_builtin=False)
    service.delete_segment("Leads")
    assert changed()
    assert service.import_segments(exported).added == ["Leads"]
    assert changed()
    service.reset_segment("engaged")
    assert changed()
    service.apply_segments()
    assert changed()
    service.clear_contacts()
    assert changed()
