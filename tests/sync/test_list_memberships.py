"""List memberships (Lists v3) through full and incremental syncs, the CHAINge list, and a
token without `crm.lists.read` (issue 6 item 5)."""

from __future__ import annotations

from sync_helpers import (
    HarnessFactory,
    ids_sample,
    list_members_in_db,
    list_members_in_sandbox,
    segment_members_in_db,
    stored_contacts,
    table_rows,
)

from hubsync_core.sandbox.config import SCOPE_CONTACTS, SCOPE_SCHEMAS
from hubsync_core.service import HubSyncService
from hubsync_core.sync.lists import LISTS_SCOPE_WARNING

NEWSLETTER, WEBINAR, CUSTOMERS_EMEA, CHAINGE_LIST = "15", "21", "34", "12"


def _ascii_lower(text: str) -> str:
    return text.translate(str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz"))


def _chainge_companies(h) -> set[str]:  # type: ignore[no-untyped-def]
    return {
        c["id"]
        for c in h.sandbox.portal.live_contacts(["company"])
        if c["properties"]["company"] and "chainge" in _ascii_lower(c["properties"]["company"])
    }


def test_full_sync_stores_every_list_and_exactly_its_live_members(
    make_harness: HarnessFactory,
) -> None:
    h = make_harness(1200, seed=31)
    service = HubSyncService(h.settings, database=h.db, client=h.client)

    assert service.sync_all_contacts(mode="full").ok

    expected = list_members_in_sandbox(h.sandbox)
    assert len(expected[NEWSLETTER]) > 250  # read over more than one memberships page
    stored = list_members_in_db(h.db)
    assert {k: v for k, v in expected.items() if v} == stored
    names = {row["list_id"]: row["name"] for row in table_rows(h.db, "hubspot_lists")}
    assert names == {info["listId"]: info["name"] for info in h.sandbox.portal.lists()}
    for hubspot_id in ids_sample(expected[NEWSLETTER], 5, seed=1):
        wanted = sorted(names[i] for i, members in expected.items() if hubspot_id in members)
        assert sorted(service.get_list_memberships(hubspot_id)) == wanted
    h.assert_exact()


def test_membership_changes_arrive_through_incremental(make_harness: HarnessFactory) -> None:
    h = make_harness(1200, seed=32)
    assert h.run("full").status == "succeeded"
    portal = h.sandbox.portal
    outsiders = sorted(set(portal.live_ids()) - set(portal.list_member_ids(WEBINAR)), key=int)
    joined = ids_sample(outsiders, 7, seed=2)
    left = ids_sample(portal.list_member_ids(NEWSLETTER), 9, seed=3)
    archived_member = portal.list_member_ids(CUSTOMERS_EMEA)[0]
    assert portal.add_to_list(WEBINAR, joined) == 7
    assert portal.remove_from_list(NEWSLETTER, left) == 9
    portal.archive_contact(archived_member)

    assert h.run("incremental").status == "succeeded"

    stored = list_members_in_db(h.db)
    assert set(joined) <= stored[WEBINAR]
    assert not set(left) & stored[NEWSLETTER]
    assert archived_member not in stored.get(CUSTOMERS_EMEA, set())
    assert stored == {k: v for k, v in list_members_in_sandbox(h.sandbox).items() if v}
    h.assert_exact()


def test_chainge_list_members_join_the_chainge_segment(make_harness: HarnessFactory) -> None:
    h = make_harness(1000, seed=33, env={"CHAINGE_LIST_ID": NEWSLETTER})
    assert h.run("full").status == "succeeded"

    def expected() -> set[str]:
        return _chainge_companies(h) | set(h.sandbox.portal.list_member_ids(NEWSLETTER))

    assert segment_members_in_db(h.db)["chainge"] == expected()
    assert set(h.sandbox.portal.list_member_ids(NEWSLETTER)) - _chainge_companies(h)
    # A contact added to the list later joins the segment with the next incremental.
    newcomer = next(
        i
        for i in h.sandbox.portal.live_ids()
        if i not in expected() and i not in _chainge_companies(h)
    )
    h.sandbox.portal.add_to_list(NEWSLETTER, [newcomer])

    assert h.run("incremental").status == "succeeded"

    assert newcomer in segment_members_in_db(h.db)["chainge"]
    assert segment_members_in_db(h.db)["chainge"] == expected()


def test_sync_chainge_list_syncs_only_the_members_of_chainge_list_id(
    make_harness: HarnessFactory,
) -> None:
    h = make_harness(1200, seed=34, env={"CHAINGE_LIST_ID": CHAINGE_LIST})
    service = HubSyncService(h.settings, database=h.db, client=h.client)

    stats = service.sync_chainge_list()

    assert (stats.status, stats.mode) == ("succeeded", "chainge"), stats.message
    members = set(h.sandbox.portal.list_member_ids(CHAINGE_LIST))
    assert members
    assert set(stored_contacts(h.db).live) == members
    assert stats.total_synced == len(members)


def test_sync_chainge_list_without_list_id_searches_chainge_companies(
    make_harness: HarnessFactory,
) -> None:
    h = make_harness(1200, seed=35)
    service = HubSyncService(h.settings, database=h.db, client=h.client)

    stats = service.sync_chainge_list()

    assert stats.status == "succeeded", stats.message
    expected = _chainge_companies(h)
    assert expected
    assert set(stored_contacts(h.db).live) == expected
    assert segment_members_in_db(h.db)["chainge"] == expected


def test_token_without_lists_scope_syncs_contacts_with_a_warning(
    make_harness: HarnessFactory,
) -> None:
    h = make_harness(700, seed=36, scopes=(SCOPE_CONTACTS, SCOPE_SCHEMAS))

    full = h.run("full")
    incremental = h.run("incremental")

    for stats in (full, incremental):
        assert stats.status == "succeeded", stats.message
        assert stats.warnings == [LISTS_SCOPE_WARNING]
    assert "crm.lists.read" in LISTS_SCOPE_WARNING
    assert table_rows(h.db, "list_memberships") == []
    h.assert_exact()
