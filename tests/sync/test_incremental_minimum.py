"""Incremental runs at the minimum of API calls (issue 17 item 3): lists re-read only when the
lists search says they changed, the archived pass run only when one search count says a stored
contact left HubSpot; and exact when lists did change or contacts were archived or merged."""

from __future__ import annotations

from typing import Any

from sync_helpers import (
    Harness,
    HarnessFactory,
    list_members_in_db,
    list_members_in_sandbox,
    modified_in_window,
    pages,
    run_row,
    settle,
    stored_contacts,
)

NEWSLETTER, WEBINAR = "15", "21"  # a manual and a snapshot list of the sandbox portal


def synced(make_harness: HarnessFactory, seed: int) -> Harness:
    h = make_harness(500, seed=seed)
    assert h.run("full").status == "succeeded"
    return h


def incremental(h: Harness) -> tuple[int, int, int]:
    """Run one incremental sync; (API calls, search calls, the window's search pages)."""
    before = h.sandbox.stats
    stats = h.run("incremental")
    after = h.sandbox.stats
    assert (stats.status, stats.mode) == ("succeeded", "incremental"), stats.message
    assert stats.api_calls == after.requests - before.requests
    window = run_row(h.db, stats.run_id).checkpoint["window"]
    window_pages = pages(len(modified_in_window(h.sandbox, window)), 200)
    return stats.api_calls, after.search_requests - before.search_requests, window_pages


def members_in_sandbox(h: Harness) -> dict[str, set[str]]:
    """The sandbox's lists and members, as stored (an empty list has no membership row)."""
    return {k: v for k, v in list_members_in_sandbox(h.sandbox).items() if v}


def lists_snapshot(h: Harness) -> dict[str, dict[str, Any]]:
    return {info["listId"]: info for info in h.sandbox.portal.lists()}


def changed_member_pages(h: Harness, before: dict[str, dict[str, Any]]) -> int:
    """Membership pages of the lists whose lists-search entry changed since `before`."""
    portal = h.sandbox.portal
    return sum(
        pages(len(portal.list_member_ids(info["listId"])), 250)
        for info in portal.lists()
        if before.get(info["listId"]) != info
    )


def test_edits_alone_cost_the_window_the_count_and_the_lists_search(
    make_harness: HarnessFactory,
) -> None:
    h = synced(make_harness, seed=41)
    edited = h.sandbox.portal.live_ids()[10:260]
    for n, hubspot_id in enumerate(edited):
        h.sandbox.portal.update_contact(hubspot_id, {"jobtitle": f"Edited {n}"})
    settle(h.sandbox, edited)

    calls, searches, window_pages = incremental(h)

    assert window_pages == 2  # 250 edits: two pages of 200
    assert searches == window_pages + 1  # the window, and the count: nothing left HubSpot
    assert calls == searches + 1  # and the lists search: no list changed, none re-read
    h.assert_exact()
    assert list_members_in_db(h.db) == members_in_sandbox(h)


def test_a_run_without_changes_costs_three_calls(make_harness: HarnessFactory) -> None:
    h = synced(make_harness, seed=42)

    calls, searches, window_pages = incremental(h)

    assert (calls, searches, window_pages) == (3, 2, 1)
    h.assert_exact()


def test_only_the_lists_that_changed_are_read_again(make_harness: HarnessFactory) -> None:
    h = synced(make_harness, seed=43)
    portal = h.sandbox.portal
    before = lists_snapshot(h)
    grown, shrunk = NEWSLETTER, WEBINAR
    outsider = next(i for i in portal.live_ids() if i not in set(portal.list_member_ids(grown)))
    assert portal.add_to_list(grown, [outsider]) == 1
    assert portal.remove_from_list(shrunk, portal.list_member_ids(shrunk)[:2]) == 2
    assert len(before) > 2  # other lists exist, and stay unread

    calls, searches, _ = incremental(h)

    member_pages = sum(pages(len(portal.list_member_ids(i)), 250) for i in (grown, shrunk))
    assert changed_member_pages(h, before) == member_pages
    assert calls == searches + 1 + member_pages
    assert list_members_in_db(h.db) == members_in_sandbox(h)
    h.assert_exact()


def test_archived_contacts_are_found_when_the_count_differs(
    make_harness: HarnessFactory,
) -> None:
    h = synced(make_harness, seed=44)
    portal = h.sandbox.portal
    before = lists_snapshot(h)
    gone = portal.live_ids()[5:8]
    for hubspot_id in gone:
        portal.archive_contact(hubspot_id)

    calls, searches, window_pages = incremental(h)

    assert searches == window_pages + 1
    archived_pages = pages(len(portal.archived_ids()), 100)
    # The archived pass ran; lists whose members were archived are read again.
    assert calls == searches + archived_pages + 1 + changed_member_pages(h, before)
    archived = stored_contacts(h.db).archived
    assert set(gone) <= set(archived)
    h.assert_exact()
    assert list_members_in_db(h.db) == members_in_sandbox(h)

    # The next run finds both sides equal again and skips the pass.
    calls, searches, window_pages = incremental(h)
    assert calls == searches + 1 and searches == window_pages + 1


def test_merges_settle_through_the_window_without_the_archived_pass(
    make_harness: HarnessFactory,
) -> None:
    h = synced(make_harness, seed=45)
    portal = h.sandbox.portal
    before = lists_snapshot(h)
    ids = portal.live_ids()
    pairs = [(ids[20], ids[21]), (ids[30], ids[31])]
    for winner, loser in pairs:
        portal.merge_contacts(winner, loser)
    settle(h.sandbox, [w for w, _ in pairs])
    assert portal.archived_ids()  # the portal has archived contacts a pass would list
    before_run = lists_snapshot(h)

    calls, searches, window_pages = incremental(h)

    assert searches == window_pages + 1
    # No archived listing: beyond the searches, the lists search and the members of the
    # lists the merges changed.
    assert calls == searches + 1 + changed_member_pages(h, before)
    assert lists_snapshot(h) == before_run
    stored = stored_contacts(h.db)
    assert all(loser in stored.archived for _, loser in pairs)
    h.assert_exact()
    assert list_members_in_db(h.db) == members_in_sandbox(h)
