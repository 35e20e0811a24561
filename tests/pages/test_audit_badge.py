"""The audit badge on the Overview and Sync pages: verdict, time of the check, drift chart."""

from __future__ import annotations

from datetime import timedelta

import pytest

from hubsync_core.audit import AuditReport, RangeDrift
from hubsync_core.clock import utcnow
from hubsync_core.store import audit as audit_store


def _save(db, **changes) -> AuditReport:
    checked = utcnow() - timedelta(minutes=5)
    report = AuditReport(
        checked_at=checked,
        since=checked - timedelta(days=1),
        hubspot_total=1000,
        local_total=1000,
        ranges=2,
        api_calls=4,
        seconds=0.5,
        **changes,
    )
    audit_store.save_report(db, report.as_dict(), None)
    return report


@pytest.mark.parametrize("page", ["overview", "sync"])
def test_the_badge_says_in_sync_and_when_it_was_checked(synced_harness, page) -> None:
    report = _save(synced_harness.db)
    at = synced_harness.app(page)
    assert not at.exception
    badge = [m.value for m in at.markdown if "In sync" in m.value]
    assert badge and "checked " in badge[0] and "(5 min ago)" in badge[0]
    assert report.verdict() in [c.value for c in at.caption]
    assert not at.get("plotly_chart")


@pytest.mark.parametrize("page", ["overview", "sync"])
def test_drift_shows_the_number_of_differences_and_a_chart_per_range(synced_harness, page) -> None:
    _save(
        synced_harness.db,
        missing=["51", "77"],
        stale=["912"],
        range_drift=[RangeDrift(0, 500, missing=2), RangeDrift(500, None, stale=1)],
    )
    at = synced_harness.app(page)
    assert not at.exception
    assert any("3 differences" in m.value for m in at.markdown)
    assert len(at.get("plotly_chart")) == 1


def test_before_any_audit_the_page_says_how_to_run_one(synced_harness) -> None:
    at = synced_harness.app("overview")
    assert any("Not audited yet" in c.value for c in at.caption)
