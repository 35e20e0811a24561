"""Issue 15's acceptance at test scale: a synced portal changes (property changes, creations,
deletions, merges, privacy deletions), the sandbox delivers the webhooks to the real API
server (10 % twice, batches reordered), and the API process's applier makes the database
equal the portal with at most one API call per 30 changed contacts."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from sqlalchemy import select
from sync_helpers import assert_db_equals_sandbox, dump_database_text, quiet_sandbox

from hubsync_core.service import HubSyncService
from hubsync_core.store import inbox
from hubsync_core.sync.model import SyncOptions


def _bench_module():  # type: ignore[no-untyped-def]
    """The benchmark's harness (`benchmarks/freshness.py`), loaded by path: under pytest the
    name `benchmarks` is the tests' own package (tests/benchmarks)."""
    path = Path(__file__).resolve().parents[2] / "benchmarks" / "freshness.py"
    spec = importlib.util.spec_from_file_location("hubsync_bench_freshness", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


bench = _bench_module()
ChangeMix, api_server, run_changes, settings_for = (
    bench.ChangeMix,
    bench.api_server,
    bench.run_changes,
    bench.settings_for,
)


def test_webhooks_bring_the_database_to_the_portal_with_few_api_calls(tmp_path: Path) -> None:
    sandbox = quiet_sandbox(2000, seed=21)
    try:

        def make(url: str) -> HubSyncService:
            db = f"sqlite:///{tmp_path / 'fresh.db'}"
            return HubSyncService(settings_for(sandbox, db, url, tmp_path), owner="test")

        with api_server(make) as (service, url):
            service.sync(SyncOptions(mode="full", owner="test")).raise_for_status()
            report = run_changes(sandbox, service, url, ChangeMix())
            assert_db_equals_sandbox(service.db, sandbox, service.settings)
            assert report.duplicates_sent > 0
            assert report.api_calls * 30 <= report.changed_contacts, report
            text = dump_database_text(service.db)
            for erased in report.erased_ids:
                assert service.get_contact(erased) is None
            with service.db.connect() as conn:
                audited = {r[0] for r in conn.execute(select(inbox.PRIVACY.c.hubspot_id))}
            assert audited == set(report.erased_ids)
            assert "fresh49@example.com" in text
    finally:
        sandbox.stop()
