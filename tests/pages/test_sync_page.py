"""The Sync page: starting, live progress, cancel, outcomes, resume, single flight, history."""

from __future__ import annotations

import threading
from datetime import datetime

import pytest

from hubsync_core.store import runs
from hubsync_core.store.database import Database
from hubsync_core.store.models import SyncRun
from hubsync_core.sync.model import SyncOptions, SyncProgress, SyncStats

WAIT = 10  # seconds a background step may take before the test gives up


class GatedRunner:
    """A fake sync: records a run with 3 pages, publishes progress, then waits to be let go.

    Once released it ends `cancelled` if the jobs' cancel event was set, else `succeeded`.
    """

    def __init__(self) -> None:
        self.reported = threading.Event()
        self.release = threading.Event()
        self.options: list[SyncOptions] = []
        self.threads: list[str] = []

    def __call__(self, service, options, on_progress, cancel) -> SyncStats:
        self.options.append(options)
        self.threads.append(threading.current_thread().name)
        db: Database = service.db
        run = runs.create_run(db, "full", "dashboard@test:1", {"mode": options.mode})
        with db.transaction() as conn:
            runs.save_progress(
                conn,
                run.id,
                pages=3,
                contacts=300,
                api_calls=4,
                retries=1,
                rate_limited=2,
                errors=0,
                rejected=0,
                checkpoint={"phase": "contacts", "after": "300"},
                expected_total=600,
            )
        on_progress(
            SyncProgress(
                run_id=run.id,
                mode="full",
                status="running",
                phase="contacts",
                started_at=run.started_at,
                pages=3,
                contacts=300,
                api_calls=4,
                retries=1,
                rate_limited=2,
                expected_total=600,
                elapsed_seconds=3.0,
                rate_limit_remaining=96,
                rate_limit_max=100,
            )
        )
        self.reported.set()
        self.release.wait(WAIT)
        cancelled = cancel is not None and cancel.is_set()
        status = "cancelled" if cancelled else "succeeded"
        message = "Cancelled after 3 pages; the next sync resumes where this one stopped."
        by_segment = {"chainge": 12, "engaged": 40}
        runs.finish_run(
            db,
            run.id,
            status,
            error_message=message if cancelled else None,
            by_segment=by_segment,
            duration_seconds=3.0,
        )
        return SyncStats(
            total_synced=300,
            total_pages=3,
            by_segment=by_segment,
            duration_seconds=3.0,
            run_id=run.id,
            mode="full",
            status=status,
            api_calls=4,
            retries=1,
            rate_limited=2,
            message=message if cancelled else "",
        )


@pytest.fixture
def runner(harness):
    gated = GatedRunner()
    harness.use_runner(gated)
    yield gated
    gated.release.set()


def start_and_wait_for_progress(harness, runner: GatedRunner):
    at = harness.app("sync")
    at.button(key="sync_now").click().run()
    assert runner.reported.wait(WAIT), "the fake sync never reported progress"
    return at.run()  # what the polling fragment draws next


# --- starting -------------------------------------------------------------------------------


def test_sync_now_starts_a_job_with_the_chosen_options(harness) -> None:
    jobs = harness.use_fake_jobs()
    at = harness.app("sync")
    at.radio(key="sync_mode").set_value("full")
    at.checkbox(key="sync_chainge").check()
    at.number_input(key="sync_cap").set_value(50)
    at.button(key="sync_now").click().run()
    assert not at.exception
    assert jobs.started == [
        SyncOptions(mode="full", chainge_only=True, max_contacts=50, owner="dashboard")
    ]


def test_sync_now_defaults_to_auto_mode_and_every_contact(harness) -> None:
    jobs = harness.use_fake_jobs()
    at = harness.app("sync")
    assert [str(o) for o in at.radio(key="sync_mode").options] == ["auto", "full", "incremental"]
    at.button(key="sync_now").click().run()
    assert jobs.started == [SyncOptions(mode="auto", owner="dashboard")]


def test_the_sync_runs_in_the_background_worker_not_the_script(harness, runner) -> None:
    start_and_wait_for_progress(harness, runner)
    assert runner.threads == ["hubsync-sync"]
    assert runner.options == [SyncOptions(mode="auto", owner="dashboard")]


# --- live progress --------------------------------------------------------------------------


def test_live_progress_shows_the_running_numbers(harness, runner) -> None:
    at = start_and_wait_for_progress(harness, runner)
    assert not at.exception
    assert harness.metric(at, "Pages fetched") == "3"
    assert harness.metric(at, "Contacts stored") == "300"
    assert harness.metric(at, "Contacts/s") == "100.0"
    assert harness.metric(at, "Elapsed") == "3.0 s"
    assert harness.metric(at, "ETA") == "3.0 s"
    assert harness.metric(at, "Retries") == "1"
    assert harness.metric(at, "429s") == "2"
    assert harness.metric(at, "Rate-limit headroom") == "96 / 100"
    assert "300 of 600 contacts" in harness.texts(at)  # the progress bar
    assert at.button(key="sync_now").disabled
    assert at.button(key="sync_cancel").label == "Cancel"


def test_progress_is_visible_in_a_new_session_as_a_sync_already_running(harness, runner) -> None:
    start_and_wait_for_progress(harness, runner)
    other = harness.app("sync")  # another tab, browser or a reload: a new session
    assert harness.metric(other, "Contacts stored") == "300"
    assert any(
        "A sync is already running (started" in box.value
        and "by dashboard on test pid 1" in box.value
        for box in other.info
    )


def test_completion_shows_sync_complete_with_the_spec_statistics(harness, runner) -> None:
    at = start_and_wait_for_progress(harness, runner)
    runner.release.set()
    assert harness.jobs.wait(WAIT)
    at.run()
    assert not at.exception
    assert "Sync complete" in at.success[0].value
    assert harness.metric(at, "total_synced") == "300"
    assert harness.metric(at, "total_pages") == "3"
    assert harness.metric(at, "errors") == "0"
    assert harness.metric(at, "duration") == "3.0 s"
    by_segment = at.dataframe[0].value
    assert dict(zip(by_segment["segment"], by_segment["contacts"], strict=True)) == {
        "chainge": 12,
        "engaged": 40,
    }
    assert not at.button(key="sync_now").disabled
    assert len(at.dataframe[1].value) == 1  # the history now holds the run


def test_cancel_stops_the_run_which_is_recorded_cancelled_and_offers_resume(
    harness, runner
) -> None:
    at = start_and_wait_for_progress(harness, runner)
    at.button(key="sync_cancel").click().run()
    assert "Stopping after the current page" in harness.texts(at)
    runner.release.set()  # the current page ends
    assert harness.jobs.wait(WAIT)
    at.run()
    assert "Sync cancelled" in at.warning[0].value
    assert runs.latest_run(harness.db).status == "cancelled"
    runner.reported.clear()
    at.button(key="sync_resume").click().run()
    assert runner.reported.wait(WAIT)
    assert harness.jobs.wait(WAIT)
    assert runner.options[-1] == SyncOptions(mode="full", owner="dashboard")


# --- scripted states ------------------------------------------------------------------------


ELSEWHERE = "A sync is already running (started 2026-11-28 09:30 UTC by cli on ops-box pid 4242)"


def running_elsewhere() -> SyncRun:
    """A run held by a CLI sync on another machine."""
    return SyncRun(
        id=7,
        mode="incremental",
        status="running",
        started_at=datetime(2026, 11, 28, 9, 30),
        owner="cli@ops-box:4242",
    )


def test_a_sync_running_in_another_process_shows_its_progress_without_cancel(harness) -> None:
    jobs = harness.use_fake_jobs()
    run = running_elsewhere()
    jobs.state = harness.idle_status(
        running=True, run=run, progress=harness.progress(run_id=7, mode="incremental")
    )
    at = harness.app("sync")
    assert not at.exception
    assert ELSEWHERE in [box.value for box in at.info]
    assert harness.metric(at, "Contacts stored") == "300"
    assert at.button(key="sync_now").disabled
    assert not [b for b in at.button if b.key == "sync_cancel"]
    assert "runs in another process" in harness.texts(at)


def test_a_refused_start_says_a_sync_is_already_running(harness) -> None:
    jobs = harness.use_fake_jobs()
    jobs.refusal = message = ELSEWHERE
    at = harness.app("sync")
    jobs.state = harness.idle_status(
        running=True, run=running_elsewhere(), progress=harness.progress(run_id=7)
    )
    at.button(key="sync_now").click().run()
    assert message in [box.value for box in at.warning]
    assert harness.metric(at, "Pages fetched") == "3"


def test_a_refused_click_is_still_reported_after_the_other_sync_has_ended(harness) -> None:
    jobs = harness.use_fake_jobs()
    jobs.refusal = ELSEWHERE
    at = harness.app("sync")
    jobs.state = harness.idle_status(
        running=True, run=running_elsewhere(), progress=harness.progress(run_id=7)
    )
    at.button(key="sync_now").click().run()
    jobs.state = harness.idle_status()  # the other sync ends before this visitor looks again
    for _ in range(2):  # every redraw says so (pages redraw on their own), not just the first
        at.run()
        assert not at.exception
        warnings = [box.value for box in at.warning]
        assert any("did not start" in text and ELSEWHERE in text for text in warnings), warnings
    jobs.refusal = None
    at.button(key="sync_now").click().run()  # the visitor's next start clears it
    assert not any("did not start" in box.value for box in at.warning)


def test_progress_without_a_known_total_has_no_bar_and_no_eta(harness) -> None:
    jobs = harness.use_fake_jobs()
    jobs.state = harness.idle_status(
        running=True,
        local=True,
        progress=harness.progress(expected_total=None, rate_limit_remaining=None),
    )
    at = harness.app("sync")
    assert harness.metric(at, "ETA") == "—"
    assert harness.metric(at, "Rate-limit headroom") == "—"
    assert not at.get("progress")


def test_a_starting_sync_without_progress_yet_says_so(harness) -> None:
    jobs = harness.use_fake_jobs()
    jobs.state = harness.idle_status(running=True, local=True)
    at = harness.app("sync")
    assert "Starting the sync" in harness.texts(at)


FAILURES = {
    "bad token": (
        "failed",
        "Authentication failed: the access token is invalid or expired.",
        "Create a new access token (private app or service key) and set HUBSPOT_ACCESS_TOKEN.",
    ),
    "missing scope": (
        "failed",
        "This token lacks the scope crm.objects.contacts.read.",
        "Add the missing scopes to the private app or service key, then sync again.",
    ),
    "daily limit": (
        "failed",
        "HubSpot's daily API limit for this portal is spent.",
        "HubSpot's daily API limit resets at midnight in the portal's time zone; sync again then.",
    ),
    "network": (
        "partial",
        "HubSpot did not answer after 5 retries (connection reset).",
        "HubSpot or the network is having trouble; the run kept what it stored, sync again to resume.",
    ),
}


@pytest.mark.parametrize("kind", FAILURES)
def test_a_failure_says_what_happened_its_correlation_id_and_what_to_do(harness, kind) -> None:
    status, message, hint = FAILURES[kind]
    harness.use_fake_jobs()
    harness.finished_run(
        status, message=message, hint=hint, correlation_id="c0ffee-1234", contacts=200, pages=2
    )
    at = harness.app("sync")
    assert not at.exception
    shown = [box.value for box in (*at.error, *at.warning)]
    assert any(message in text and status in text.lower() for text in shown), shown
    assert "c0ffee-1234" in harness.texts(at)
    assert f"**What to do next:** {hint}" in [m.value for m in at.markdown]
    assert at.button(key="sync_resume").label == "Resume"


@pytest.mark.parametrize("status", ["partial", "cancelled", "interrupted", "failed"])
def test_resume_starts_a_sync_in_the_same_mode(harness, status: str) -> None:
    jobs = harness.use_fake_jobs()
    harness.finished_run(status, mode="incremental", message="stopped", pages=1, contacts=100)
    at = harness.app("sync")
    at.button(key="sync_resume").click().run()
    assert jobs.started == [SyncOptions(mode="incremental", owner="dashboard")]


def test_a_succeeded_run_offers_no_resume(harness) -> None:
    harness.use_fake_jobs()
    harness.finished_run("succeeded", contacts=500, pages=5, by_segment={"cold": 3})
    at = harness.app("sync")
    assert "Sync complete" in at.success[0].value
    assert not [b for b in at.button if b.key == "sync_resume"]


def test_incremental_before_any_full_sync_explains_itself(harness) -> None:
    jobs = harness.use_fake_jobs()
    message = "Incremental sync needs a completed full sync first: run a full sync."
    jobs.state = harness.idle_status(
        result=SyncStats(mode="incremental", status="failed", message=message)
    )
    at = harness.app("sync")
    assert any(message in box.value for box in at.error)
    assert not [b for b in at.button if b.key == "sync_resume"]


def test_a_crashed_worker_is_reported(harness) -> None:
    jobs = harness.use_fake_jobs()
    jobs.state = harness.idle_status(error="The sync stopped unexpectedly: OSError: disk full")
    at = harness.app("sync")
    assert "The sync stopped unexpectedly: OSError: disk full" in [b.value for b in at.error]


def test_no_sync_yet_invites_to_sync(harness) -> None:
    at = harness.app("sync")
    assert any("No sync yet" in box.value for box in at.info)
    assert "No sync has run yet." in [c.value for c in at.caption]


def test_the_history_lists_every_run_with_its_counters(harness) -> None:
    harness.use_fake_jobs()
    harness.finished_run("succeeded", contacts=500, pages=5)
    harness.finished_run("partial", mode="incremental", contacts=20, pages=1, message="503")
    at = harness.app("sync")
    table = at.dataframe[-1].value
    assert list(table.columns) == [
        "run",
        "mode",
        "status",
        "started (UTC)",
        "duration",
        "contacts",
        "pages",
        "API calls",
        "retries",
        "429s",
        "errors",
    ]
    assert list(table["mode"]) == ["incremental", "full"]  # newest first
    assert list(table["status"]) == ["⚠️ partial", "✅ succeeded"]
    assert list(table["contacts"]) == [20, 500]
    assert list(table["pages"]) == [1, 5]
    assert list(table["API calls"]) == [2, 6]
    assert list(table["duration"]) == ["12.5 s", "12.5 s"]
