"""The Overview page: totals, segments, the last sync, and what a new user sees."""

from __future__ import annotations

from hubsync_core.connection import DEMO_EXPLANATION
from hubsync_core.store.overview import overview as read_overview


def test_an_empty_database_prompts_to_sync(harness) -> None:
    at = harness.app()
    assert not at.exception
    assert any("No contacts are stored yet" in box.value for box in at.info)
    assert "Never synced." in [c.value for c in at.caption]
    assert not at.metric


def test_a_new_user_without_a_token_sees_the_demo_portal_and_how_to_connect(harness) -> None:
    at = harness.app()
    notice = [box.value for box in at.info if box.value == DEMO_EXPLANATION]
    assert notice and "HUBSPOT_ACCESS_TOKEN" in notice[0]


def test_a_real_portal_shows_no_demo_notice(harness) -> None:
    harness.use_token("pat-na1-00000000-1111-2222-3333-444444444444")
    at = harness.app()
    assert DEMO_EXPLANATION not in [box.value for box in at.info]


def test_a_synced_database_shows_totals_and_segment_counts(synced_harness) -> None:
    expected = read_overview(synced_harness.db)
    at = synced_harness.app()
    assert not at.exception
    assert synced_harness.metric(at, "Contacts") == f"{expected.total:,}"
    assert synced_harness.metric(at, "Archived") == f"{expected.archived:,}"
    assert expected.by_segment
    for name, count in expected.by_segment.items():
        assert synced_harness.metric(at, name) == f"{count:,}"
    assert not any("No contacts are stored yet" in box.value for box in at.info)


def test_the_last_sync_says_when_how_long_and_how_it_went(synced_harness) -> None:
    last = read_overview(synced_harness.db).last_run
    at = synced_harness.app()
    assert synced_harness.metric(at, "Started") == f"{last.started_at:%Y-%m-%d %H:%M} UTC"
    assert synced_harness.metric(at, "Outcome") == "✅ succeeded"
    assert synced_harness.metric(at, "Took").endswith(" s")
    assert synced_harness.metric(at, "Contacts synced") == f"{last.contacts:,}"


def test_a_failed_last_sync_shows_why_and_the_last_success(synced_harness) -> None:
    synced_harness.finished_run(
        "failed",
        message="Authentication failed: the access token is invalid or expired.",
        hint="Create a new access token and set HUBSPOT_ACCESS_TOKEN.",
    )
    at = synced_harness.app()
    assert synced_harness.metric(at, "Outcome") == "❌ failed"
    assert "Authentication failed" in at.warning[0].value
    captions = [c.value for c in at.caption]
    assert "What to do next: Create a new access token and set HUBSPOT_ACCESS_TOKEN." in captions
    assert any(c.startswith("Last successful sync: ") for c in captions)
