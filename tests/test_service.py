"""The Python SDK keeps the original spec's names and shapes, backed by the database."""

from __future__ import annotations

import threading
from enum import StrEnum

import pytest
from store.contact_data import LIVE_IDS, add_people
from sync_helpers import sandbox_settings

import hubsync_core
from hubsync_core import ContactSegment, SyncStats, get_sync_service
from hubsync_core.jobs import SyncJobs
from hubsync_core.service import sdk_contacts
from hubsync_core.store.database import Database
from hubsync_core.sync.model import SyncOptions, SyncProgress


def test_the_spec_names_are_importable_from_the_package():
    for name in ("get_sync_service", "ContactSegment", "SyncStats", "HubSyncService"):
        assert hasattr(hubsync_core, name)
    assert [s.value for s in ContactSegment] == ["chainge", "engaged", "cold", "high_value"]


def test_get_sync_service_returns_one_service_per_database(sandbox, tmp_path):
    settings = sandbox_settings(sandbox, f"sqlite:///{tmp_path}/a.db")

    assert get_sync_service(settings) is get_sync_service(settings)


def test_get_contacts_has_the_spec_shape(make_service):
    service = make_service()
    service.sync_all_contacts()

    page = service.get_contacts(segment=ContactSegment.CHAINGE, limit=5, offset=0)

    assert set(page) == {"contacts", "total", "limit", "offset", "segment"}
    assert page["segment"] == "chainge" and page["limit"] == 5 and len(page["contacts"]) <= 5
    contact = page["contacts"][0]
    for key in (
        "email",
        "firstname",
        "lastname",
        "company",
        "phone",
        "jobtitle",
        "hubspot_id",
        "list_memberships",
        "segments",
        "properties",
        "created_at",
        "updated_at",
        "synced_at",
    ):
        assert key in contact
    assert "chainge" in contact["segments"]
    assert contact["updated_at"].endswith("Z")


def test_get_contacts_search_and_paging(make_service):
    service = make_service()
    service.sync_all_contacts()
    everyone = service.get_contacts(limit=1000)

    first = service.get_contacts(limit=10, offset=0)
    second = service.get_contacts(limit=10, offset=10)
    term = everyone["contacts"][0]["lastname"]
    found = service.get_contacts(search=term, limit=1000)

    assert first["total"] == everyone["total"]
    assert {c["hubspot_id"] for c in first["contacts"]}.isdisjoint(
        c["hubspot_id"] for c in second["contacts"]
    )
    assert found["total"] >= 1 and all(
        term.lower()
        in " ".join(str(c[k] or "") for k in ("email", "firstname", "lastname", "company")).lower()
        for c in found["contacts"]
    )


def test_list_memberships_are_list_names(sandbox, make_service):
    service = make_service()
    service.sync_all_contacts()
    chainge_list = next(lst for lst in sandbox.portal.lists() if lst["name"] == "CHAINge")
    member = sandbox.portal.list_member_ids(str(chainge_list["listId"]))[0]

    assert "CHAINge" in service.get_list_memberships(member)
    assert service.get_list_memberships("999999999") == []


def test_get_stats_before_and_after_a_sync(make_service):
    service = make_service()
    assert service.get_stats().status == "never"

    stats = service.sync_all_contacts()

    last = service.get_stats()
    assert isinstance(last, SyncStats)
    assert (last.run_id, last.total_synced, last.by_segment) == (
        stats.run_id,
        stats.total_synced,
        stats.by_segment,
    )
    assert last.dict()["total_synced"] == stats.total_synced


def test_clear_contacts_keeps_history_and_makes_the_next_sync_full(make_service):
    service = make_service(HUBSYNC_INCREMENTAL_LAG_MINUTES="0")
    synced = service.sync_all_contacts()

    removed = service.clear_contacts()

    assert removed >= synced.total_synced
    assert service.get_contacts()["total"] == 0
    assert service.get_stats().run_id == synced.run_id
    assert service.sync_all_contacts().mode == "full"


def test_apply_segments_returns_counts(make_service):
    service = make_service()
    stats = service.sync_all_contacts()

    assert service.apply_segments() == stats.by_segment


def test_background_job_runs_once_and_reports_progress_and_result(make_service):
    service = make_service()
    jobs = SyncJobs(service)
    gate = threading.Event()
    seen: list[SyncProgress] = []
    original = service.sync

    def slow_sync(options, *, on_progress=None, cancel=None):
        def hold(progress: SyncProgress) -> None:
            seen.append(progress)
            if on_progress:
                on_progress(progress)
            gate.wait(timeout=30)

        return original(options, on_progress=hold, cancel=cancel)

    service.sync = slow_sync  # type: ignore[method-assign]
    assert jobs.start(SyncOptions(mode="full", owner="dashboard")) is None
    deadline = threading.Event()
    for _ in range(300):
        if seen:
            break
        deadline.wait(0.05)
    status = jobs.status()
    assert status.running and status.local and status.progress is not None

    refusal = jobs.start(SyncOptions(mode="full", owner="dashboard"))
    assert refusal is not None and "already running" in refusal

    # Another process's view: no local thread, progress from the database row.
    other = SyncJobs(make_service())
    elsewhere = other.status()
    assert elsewhere.running and not elsewhere.local and elsewhere.progress is not None

    gate.set()
    assert jobs.wait(timeout=60)
    done = jobs.status()
    assert not done.running and done.result is not None and done.result.status == "succeeded"


@pytest.fixture
def people(db: Database) -> Database:
    add_people(db)
    return db


class Segment(StrEnum):
    CHAINGE = "chainge"


def test_sdk_contacts_has_the_original_specs_shape(people: Database) -> None:
    result = sdk_contacts(people, segment=Segment.CHAINGE, limit=1, offset=1)
    assert set(result) == {"contacts", "total", "limit", "offset", "segment"}
    assert (result["total"], result["limit"], result["offset"], result["segment"]) == (
        2,
        1,
        1,
        "chainge",
    )
    (dave,) = result["contacts"]
    assert dave == {
        "email": "dave@chainge.io",
        "firstname": "Dave",
        "lastname": "Lee",
        "company": "CHAINGE",
        "phone": None,
        "jobtitle": None,
        "hubspot_id": "11",
        "list_memberships": [],
        "segments": ["chainge", "engaged"],
        "properties": dave["properties"],
        "created_at": "2026-03-05T10:00:00Z",
        "updated_at": "2026-11-25T09:30:00Z",
        "synced_at": "2026-11-28T12:00:00Z",
        "lifecyclestage": "lead",
        "archived": False,
    }
    assert dave["properties"]["company"] == "CHAINGE"


def test_sdk_contacts_pages_live_contacts_by_id_and_searches(people: Database) -> None:
    result = sdk_contacts(people)
    assert [c["hubspot_id"] for c in result["contacts"]] == LIVE_IDS
    assert (result["total"], result["segment"]) == (8, None)
    assert [c["hubspot_id"] for c in sdk_contacts(people, search="acme")["contacts"]] == ["1"]
    assert sdk_contacts(people, segment="cold", limit=0) == {
        "contacts": [],
        "total": 3,
        "limit": 0,
        "offset": 0,
        "segment": "cold",
    }
    assert sdk_contacts(people, offset=50)["contacts"] == []
    assert sdk_contacts(people)["contacts"][2]["email"] is None  # kept without an email
    with pytest.raises(ValueError):
        sdk_contacts(people, limit=-1)
