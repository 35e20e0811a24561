"""Full sync against the sandbox: exactness, idempotence, resume, caps, errors, single flight."""

from __future__ import annotations

import threading
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import func, select
from sync_helpers import LIST_PATH, fast_client

from hubsync_core.segments import builtin_segments, segments_for
from hubsync_core.store import lock, runs
from hubsync_core.store.database import Database
from hubsync_core.store.models import Contact, ContactSegmentRow, RejectedRecord
from hubsync_core.sync.model import SyncOptions, SyncProgress
from hubsync_core.sync.records import CORE_PROPERTIES


def stored_live(db: Database) -> dict[str, dict[str, Any]]:
    with db.connect() as conn:
        rows = conn.execute(
            select(Contact.hubspot_id, Contact.properties).where(Contact.archived.is_(False))
        ).all()
    return {hubspot_id: dict(props) for hubspot_id, props in rows}


def sandbox_live(sandbox: Any) -> dict[str, dict[str, Any]]:
    return {c["id"]: c["properties"] for c in sandbox.portal.live_contacts(CORE_PROPERTIES)}


def table_snapshot(db: Database) -> list[tuple[Any, ...]]:
    """Every stored contact column but synced_at (and the sweep's bookkeeping), in id order."""
    columns = [
        c for c in Contact.__table__.columns if c.name not in {"synced_at", "seen_generation"}
    ]
    with db.connect() as conn:
        return [tuple(r) for r in conn.execute(select(*columns).order_by(Contact.hubspot_id))]


def test_full_sync_stores_exactly_the_portals_live_contacts(sandbox, make_service, db):
    service = make_service()

    stats = service.sync_all_contacts(mode="full")

    assert stats.status == "succeeded", stats.message
    expected = sandbox_live(sandbox)
    assert stored_live(db) == expected
    assert stats.total_synced == len(expected)
    assert stats.total_pages >= len(expected) // 100


def test_full_sync_tags_segments_as_the_rules_say(sandbox, make_service, db):
    service = make_service()
    before = datetime.utcnow()
    stats = service.sync_all_contacts(mode="full")
    definitions = builtin_segments(service.settings)

    with db.connect() as conn:
        stored = {
            (segment, hubspot_id)
            for segment, hubspot_id in conn.execute(
                select(ContactSegmentRow.segment, ContactSegmentRow.hubspot_id)
            )
        }
        contacts = [dict(r._mapping) for r in conn.execute(select(Contact.__table__))]
    expected = {
        (segment, c["hubspot_id"])
        for c in contacts
        if not c["archived"]
        for segment in segments_for(c, definitions, before)
    }
    # Contacts right at a window's edge could flip between `before` and the run's own
    # reference time; the generated portal has none that close, so the sets are equal.
    assert stored == expected
    assert stats.by_segment == {
        seg.key: sum(1 for s, _ in expected if s == seg.key) for seg in definitions
    }
    assert stats.by_segment["chainge"] > 0


def test_syncing_twice_changes_nothing_but_synced_at(make_service, db):
    service = make_service()
    service.sync_all_contacts(mode="full")
    first = table_snapshot(db)

    again = service.sync_all_contacts(mode="full")

    assert again.status == "succeeded"
    assert table_snapshot(db) == first


def test_properties_requested_include_core_and_configured_ones(sandbox, make_service, db):
    service = make_service(HUBSYNC_PROPERTIES="industry_segment,lead_score")
    service.sync_all_contacts(mode="full", max_contacts=5)

    one = next(iter(stored_live(db).values()))
    for name in (*CORE_PROPERTIES, "industry_segment", "lead_score"):
        if name in {"hs_merged_object_ids", "country", "city", "industry_segment", "lead_score"}:
            continue  # may be null, but the key is there when requested
        assert name in one
    assert "lead_score" in one and "industry_segment" in one


def test_max_contacts_caps_the_run_without_marking_it_complete(make_service, db):
    service = make_service()

    stats = service.sync_all_contacts(max_contacts=150, batch_size=100)

    assert stats.status == "succeeded"
    assert stats.total_synced == 150
    assert len(stored_live(db)) == 150
    assert runs.get_state(db, "high_water_mark") is None  # the next auto sync is full again


def test_batch_size_over_hubspots_limit_is_refused(make_service):
    with pytest.raises(ValueError, match="batch_size"):
        make_service().sync_all_contacts(batch_size=101)


def test_exhausted_retries_end_partial_and_the_next_run_resumes_exactly(sandbox, make_service, db):
    service = make_service(client=fast_client(sandbox, max_retries=2))
    stop_after_pages = 4

    def fail_mid_run(progress: SyncProgress) -> None:
        if progress.phase == "contacts" and progress.pages == stop_after_pages:
            # The first try and both retries of the walk's next page (the lists, read
            # alongside the walk, must not take any of them).
            sandbox.fail_next("503", count=3, path=LIST_PATH)

    partial = service.sync_all_contacts(mode="full", on_progress=fail_mid_run)
    assert partial.status == "partial"
    assert "resume" in partial.hint.lower()
    stored_before = len(stored_live(db))
    assert 0 < stored_before < len(sandbox_live(sandbox))

    requests_before = sandbox.stats.requests
    resumed = service.sync_all_contacts(mode="full")

    assert resumed.status == "succeeded"
    assert stored_live(db) == sandbox_live(sandbox)
    # Finished pages are not fetched again: the resumed run reads only what was left.
    contact_pages_left = -(-(len(sandbox_live(sandbox)) - stored_before) // 100)
    assert resumed.total_synced == len(sandbox_live(sandbox)) - stored_before
    assert sandbox.stats.requests - requests_before < contact_pages_left + 15
    latest = runs.latest_run(db)
    assert latest is not None and latest.resumed_from == partial.run_id


def test_cancel_stops_after_the_current_page_and_the_next_run_resumes(sandbox, make_service, db):
    service = make_service()
    cancel = threading.Event()

    def cancel_at_page_three(progress: SyncProgress) -> None:
        if progress.pages == 3:
            cancel.set()

    cancelled = service.sync_all_contacts(
        mode="full", on_progress=cancel_at_page_three, cancel=cancel
    )

    assert cancelled.status == "cancelled"
    assert cancelled.total_synced == 300
    run = runs.get_run(db, cancelled.run_id)
    assert run is not None and run.status == "cancelled"
    assert lock.current_holder(db) is None

    resumed = service.sync_all_contacts()
    assert resumed.status == "succeeded" and resumed.mode == "full"
    assert stored_live(db) == sandbox_live(sandbox)


def test_rejected_token_fails_at_once_with_hubspots_message(sandbox, make_service, db):
    service = make_service()
    sandbox.revoke_token()

    stats = service.sync_all_contacts(mode="full")

    assert stats.status == "failed"
    assert stats.message == "HubSpot rejected the access token"
    assert stats.correlation_id
    assert "token" in stats.hint.lower()
    with pytest.raises(Exception, match="rejected the access token"):
        stats.raise_for_status()
    run = runs.get_run(db, stats.run_id)
    assert run is not None and run.status == "failed" and run.correlation_id == stats.correlation_id


def test_a_second_sync_on_the_same_database_is_refused_while_one_runs(make_service, db):
    service = make_service()
    entered, release = threading.Event(), threading.Event()
    results: list[Any] = []

    def hold(progress: SyncProgress) -> None:
        entered.set()
        release.wait(timeout=30)

    worker = threading.Thread(
        target=lambda: results.append(service.sync_all_contacts(mode="full", on_progress=hold))
    )
    worker.start()
    assert entered.wait(timeout=30)
    try:
        from hubsync_core import SyncAlreadyRunning

        with pytest.raises(SyncAlreadyRunning, match="A sync is already running"):
            make_service().sync(SyncOptions(mode="full", owner="cli"))
    finally:
        release.set()
        worker.join(timeout=60)
    assert results and results[0].status == "succeeded"


def test_auto_mode_runs_full_first_then_incremental(make_service):
    service = make_service(HUBSYNC_INCREMENTAL_LAG_MINUTES="0")

    first = service.sync_all_contacts()
    second = service.sync_all_contacts()

    assert (first.mode, second.mode) == ("full", "incremental")
    assert second.status == "succeeded"


def test_explicit_incremental_before_any_full_sync_says_what_to_do(make_service):
    stats = make_service().sync_all_contacts(mode="incremental")

    assert stats.status == "failed"
    assert "full sync" in stats.message


def test_chainge_only_sync_stores_just_chainge_companies(sandbox, make_service, db):
    service = make_service()

    stats = service.sync_chainge_list()

    assert stats.status == "succeeded"
    companies = {p.get("company") or "" for p in stored_live(db).values()}
    assert companies and all("chainge" in c.lower() for c in companies)
    expected = {
        cid
        for cid, p in sandbox_live(sandbox).items()
        if "chainge" in (p.get("company") or "").lower()
    }
    assert set(stored_live(db)) == expected
    assert stats.by_segment["chainge"] == len(expected)


def test_contacts_without_email_are_kept_and_counted(sandbox, make_service, db):
    make_service().sync_all_contacts(mode="full")

    without = [cid for cid, p in sandbox_live(sandbox).items() if not p.get("email")]
    assert without, "the generated portal has contacts without email"
    with db.connect() as conn:
        stored_without = conn.execute(
            select(func.count()).select_from(Contact).where(Contact.email.is_(None))
        ).scalar_one()
    assert stored_without >= len(without)


def test_nothing_is_rejected_from_a_well_formed_portal(make_service, db):
    stats = make_service().sync_all_contacts(mode="full")

    with db.connect() as conn:
        rejected = conn.execute(select(func.count()).select_from(RejectedRecord)).scalar_one()
    assert stats.rejected == rejected
