"""Fixed costs hidden (issue 17 item 2): the calls that depend on no other call are made
alongside the contacts walk, each task's failure stays its own, and the archived listing
still follows the last live read.

The order is proven from the sandbox's request log, and created on purpose with its gates:
a request held at a gate stays unanswered until the test opens it, so "the lists were read
while the contacts walk waited for its next page" can only come true in a client that
issues them concurrently. No sleeps, no timing thresholds: every wait is for a condition,
with a deadline that only a broken client reaches.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sync_helpers import (
    LIST_PATH,
    SEARCH_PATH,
    Harness,
    HarnessFactory,
    list_members_in_db,
    list_members_in_sandbox,
    run_row,
    stored_contacts,
)

from hubsync_core.hubspot import endpoints
from hubsync_core.sandbox.request_log import LoggedRequest
from hubsync_core.sync.model import SyncProgress, SyncStats

PATHS = endpoints.DEFAULT
LISTS_SEARCH = PATHS.lists_search
LISTS_PREFIX = LISTS_SEARCH.rsplit("/", 1)[0]
#: Long enough never to be reached by a client that behaves; only a wrong one waits it out.
DEADLINE = 30.0


def kind(entry: LoggedRequest) -> str:
    """What a logged request was, as the sync sees it."""
    path = entry.path
    if path == LISTS_SEARCH:
        return "lists-search"
    if path.startswith(LISTS_PREFIX) and path.endswith("/memberships"):
        return "memberships"
    if path == SEARCH_PATH:
        return "search"
    if path == PATHS.contact_properties:
        return "properties"
    if path == endpoints.ACCOUNT_DETAILS:
        return "account"
    if path == LIST_PATH:
        return "archived" if entry.param("archived") == "true" else "walk"
    return path


def next_walk_page(entry: LoggedRequest) -> bool:
    """The contacts walk asking for a page after its first one."""
    return entry.param("archived") != "true" and entry.param("after") is not None


class Background:
    """One `Harness.run` in a thread (the test holds and releases its requests)."""

    def __init__(self, h: Harness, **kwargs: Any) -> None:
        self.stats: SyncStats | None = None
        self.progress: list[SyncProgress] = []
        self._thread = threading.Thread(target=self._run, args=(h, kwargs), daemon=True)
        self._thread.start()

    def _run(self, h: Harness, kwargs: dict[str, Any]) -> None:
        self.stats = h.run(on_progress=self.progress.append, **kwargs)

    def result(self) -> SyncStats:
        self._thread.join(DEADLINE * 2)
        assert self.stats is not None, "the run did not end"
        return self.stats


def every_list_read(h: Harness) -> Callable[[list[LoggedRequest]], bool]:
    """True once the lists search, every list's members and the option labels (properties)
    have all been answered."""
    wanted = {
        f"{LISTS_PREFIX}/{list_id}/memberships" for list_id in list_members_in_sandbox(h.sandbox)
    }

    def condition(items: list[LoggedRequest]) -> bool:
        answered = [e for e in items if e.answered is not None]
        kinds = {kind(e) for e in answered}
        read = {e.path for e in answered if kind(e) == "memberships"}
        return {"lists-search", "properties"} <= kinds and wanted <= read

    return condition


def test_lists_and_labels_are_read_while_the_contacts_walk_waits(
    make_sqlite_harness: HarnessFactory,
) -> None:
    h = make_sqlite_harness(600, seed=171)
    gate = h.sandbox.requests.hold("GET", LIST_PATH, when=next_walk_page)
    run = Background(h, mode="full")

    # The walk's second page stays unanswered until every list has been read: only a sync
    # that reads lists alongside the walk gets there.
    overlapped = h.sandbox.requests.wait_until(every_list_read(h), DEADLINE)
    gate.open()
    stats = run.result()

    assert overlapped, [kind(e) for e in h.sandbox.requests.items()]
    assert stats.status == "succeeded", stats.message
    assert gate.held == 1
    expected = list_members_in_sandbox(h.sandbox)
    assert list_members_in_db(h.db) == {k: v for k, v in expected.items() if v}
    h.assert_exact()


def test_calls_before_the_walk_are_made_together(make_sqlite_harness: HarnessFactory) -> None:
    """The portal's details (first run) and the expected total are asked for at once: the
    total search arrives while the details call is held."""
    h = make_sqlite_harness(300, seed=172)
    gate = h.sandbox.requests.hold("GET", endpoints.ACCOUNT_DETAILS)
    run = Background(h, mode="full")

    together = h.sandbox.requests.wait_until(
        lambda items: any(kind(e) == "search" for e in items), DEADLINE
    )
    gate.open()
    stats = run.result()

    assert together
    assert stats.status == "succeeded", stats.message
    h.assert_exact()


def test_the_archived_listing_starts_after_the_last_live_read(
    make_sqlite_harness: HarnessFactory,
) -> None:
    """Exactness: a contact archived while the walk runs, after its page was read, is only
    seen by an archived listing read after that; so no archived page is asked for before
    every page of the live walk was answered (lists still go alongside)."""
    h = make_sqlite_harness(900, seed=173)
    first = h.sandbox.portal.live_ids()[0]

    def archive_mid_walk(progress: SyncProgress) -> None:
        if progress.phase == "contacts" and progress.pages == 2:
            h.sandbox.portal.archive_contact(first)

    stats = h.run("full", on_progress=archive_mid_walk)

    assert stats.status == "succeeded", stats.message
    items = h.sandbox.requests.items()
    live = [e for e in items if kind(e) == "walk"]
    archived = [e for e in items if kind(e) == "archived"]
    assert live and archived
    assert all(e.answered is not None and e.answered < archived[0].seq for e in live)
    assert stored_contacts(h.db).archived[first]["archived_reason"] == "archived"
    h.assert_exact()


def test_the_phase_tells_what_runs_alongside_it(make_sqlite_harness: HarnessFactory) -> None:
    """While the lists are read during the contacts walk, the progress (in process and from
    the run's row, as another process sees it) names them next to the phase."""
    h = make_sqlite_harness(300, seed=174)
    gate = h.sandbox.requests.hold("POST", LISTS_SEARCH)
    run = Background(h, mode="full")

    def walked_a_page() -> bool:
        return any(p.pages >= 1 and p.phase == "contacts" for p in run.progress)

    h.sandbox.requests.wait_until(lambda items: walked_a_page(), DEADLINE)
    shown = [p for p in run.progress if p.pages >= 1 and p.phase == "contacts"]
    row = run_row(h.db, shown[0].run_id) if shown else None
    gate.open()
    stats = run.result()

    # The option labels (one quick properties read) may or may not still be running too.
    assert shown and "lists" in shown[0].alongside, shown[:1]
    assert set(shown[0].alongside) <= {"lists", "options"}
    assert row is not None
    assert "lists" in SyncProgress.from_run(row, datetime.now()).alongside
    assert stats.status == "succeeded", stats.message
    assert run.progress[-1].alongside == ()
    assert "alongside" not in (run_row(h.db, stats.run_id).checkpoint or {})


def test_a_failed_list_read_is_reported_by_the_lists_phase_and_resumed_there(
    make_sqlite_harness: HarnessFactory,
) -> None:
    """The lists fail while the walk goes on: every contact is still stored, the run ends
    partial with the lists' own error, and the next run resumes at the lists."""
    h = make_sqlite_harness(600, seed=175)
    h.sandbox.fail_next("503", count=4, path=LISTS_PREFIX)  # every attempt of one call

    stats = h.run("full")

    assert stats.status == "partial"
    assert len(stored_contacts(h.db).live) == len(h.sandbox.portal.live_ids())
    assert run_row(h.db, stats.run_id).checkpoint["phase"] == "lists"
    assert not [e for e in h.sandbox.requests.items() if kind(e) == "memberships"]
    again = h.run("full")
    assert again.status == "succeeded", again.message
    expected = list_members_in_sandbox(h.sandbox)
    assert list_members_in_db(h.db) == {k: v for k, v in expected.items() if v}
    h.assert_exact()


def test_the_walks_failure_stays_the_walks_and_the_lists_failure_is_told_too(
    make_sqlite_harness: HarnessFactory,
) -> None:
    """Both fail at once: the run reports the contacts walk's error (its first phase), and
    the lists' failure is a warning of its own, neither swallowed nor mistaken for it."""
    h = make_sqlite_harness(300, seed=176)
    h.sandbox.fail_next("503", count=4, path=LISTS_PREFIX)  # every attempt of one call
    gate = h.sandbox.requests.hold("GET", LIST_PATH, when=next_walk_page)
    run = Background(h, mode="full")
    listed = h.sandbox.requests.wait_until(
        lambda items: sum(kind(e) == "lists-search" and bool(e.answered) for e in items) >= 4,
        DEADLINE,
    )
    # Seeded faults go to whichever matching request comes first: set once the lists
    # failed and only the walk (held at its second page) is left to ask.
    h.sandbox.fail_next("502", count=10, path=LIST_PATH)
    gate.open()
    stats = run.result()

    assert listed
    assert stats.status == "partial"
    assert "502" in stats.message, stats.message
    told = [w for w in stats.warnings if "lists" in w and "failed" in w]
    assert len(told) == 1 and "503" in told[0], stats.warnings


def test_a_failed_archived_listing_is_the_archived_phases_failure_and_resumed_there(
    make_harness: HarnessFactory,
) -> None:
    """The archived listing, read by a task as the contacts phase closes, fails: the run ends
    partial at the archived phase with that error, and the next run finishes exactly."""
    h = make_harness(600, seed=177)
    gate = h.sandbox.requests.hold("GET", LIST_PATH, when=lambda e: e.param("archived") == "true")
    run = Background(h, mode="full")
    held = h.sandbox.requests.wait_until(lambda items: gate.held == 1, DEADLINE)
    # Only the archived listing asks now (the walk is over): the faults can only be its own.
    h.sandbox.fail_next("503", count=4, path=LIST_PATH)
    gate.open()
    stats = run.result()

    assert held
    assert stats.status == "partial" and "503" in stats.message, stats.message
    assert run_row(h.db, stats.run_id).checkpoint["phase"] == "archived"
    assert len(stored_contacts(h.db).live) == len(h.sandbox.portal.live_ids())
    again = h.run("full")
    assert again.status == "succeeded", again.message
    h.assert_exact()
