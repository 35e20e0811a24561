"""The Sync page's "Keeping data fresh" panel and the sidebar's schedule line."""

from __future__ import annotations


def test_the_schedule_is_set_from_the_sync_page_and_shown_in_the_sidebar(harness) -> None:
    harness.use_token("pat-na1-00000000-0000-0000-0000-000000000000")  # a real portal: off
    at = harness.app("sync")
    assert "Schedule: off" in harness.texts(at)
    assert "Nightly audit" not in harness.texts(at)  # off unless HUBSYNC_AUDIT_NIGHTLY_AT
    assert "Live updates: 0 events in the last hour" in harness.texts(at)
    at.selectbox(key="schedule_period").select("15m").run()
    assert harness.service.schedule().every_minutes == 15
    at.run()
    assert "every 15 min, next sync in 15 min" in harness.texts(at)
    assert "⏱️ Scheduled sync: every 15 min" in harness.texts(at)
    at.selectbox(key="schedule_period").select("off").run()
    assert harness.service.schedule().every_minutes is None


def test_the_sync_page_shows_the_nightly_audit_when_one_is_set(harness) -> None:
    harness.use_token("pat-na1-00000000-0000-0000-0000-000000000000")
    harness.environ["HUBSYNC_AUDIT_NIGHTLY_AT"] = "03:00"
    assert "Nightly audit: every night at 03:00 UTC, next " in harness.texts(harness.app("sync"))


def test_live_updates_count_the_last_hours_events(harness) -> None:
    harness.use_token("pat-na1-00000000-0000-0000-0000-000000000000")
    harness.resources(harness.settings())
    from hubsync_core.webhooks.receiver import store

    events = [
        {
            "eventId": str(n),
            "objectId": "101",
            "occurredAt": 1_780_000_000_000 + n,
            "subscriptionType": "contact.propertyChange",
        }
        for n in range(3)
    ]
    store(harness.service.db, events, "webhook")
    at = harness.app("sync")
    text = harness.texts(at)
    assert "Live updates: 3 events in the last hour, last at" in text
    assert "3 waiting to be applied" in text
