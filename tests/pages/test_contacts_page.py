"""The Contacts page: filters in the URL, facets, pagination, sorting, details, empty states, export.

Runs the real app (AppTest) on the `harness` database, filled with a small known set of
contacts through the core's own write functions, and checks what the page shows against the
core's queries for the same filter.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from hubsync_core.clock import utcnow
from hubsync_core.config import Settings
from hubsync_core.segments import Condition, Group, SegmentDef
from hubsync_core.store import contacts as contact_store
from hubsync_core.store import explorer, export, runs, segment_store
from hubsync_core.store.database import Database
from hubsync_core.store.explorer import ContactFilter
from hubsync_core.sync.engine import PORTAL_ID

CONTACTS = 120  # ids 1..120; the last 5 archived
ARCHIVED = range(116, 121)
NOW = datetime.now(UTC).replace(tzinfo=None).replace(microsecond=0)
STAGES = ("lead", "customer", "subscriber", None, "opportunity")


def _row(i: int) -> dict[str, Any]:
    archived = i in ARCHIVED
    return {
        "hubspot_id": str(i),
        "email": None if i % 10 == 0 else f"user{i:03d}@example.com",
        "firstname": f"First{i}",
        "lastname": "=HYPERLINK(1)" if i == 7 else f"Last{i}",
        "company": "Chainge GmbH" if i % 3 == 0 else "Acme",
        "phone": None,
        "jobtitle": "Engineer",
        "lifecyclestage": STAGES[i % 5],
        "properties": {"country": ("Germany", "France", "Canada")[i % 3], "city": f"City{i}"},
        "created_at": NOW - timedelta(days=3 * i),
        "updated_at": NOW - timedelta(days=i),
        "synced_at": NOW,
        "archived": archived,
        "archived_at": NOW - timedelta(hours=1) if archived else None,
        "archived_reason": "archived" if archived else None,
    }


def seed(db: Database, *, portal_id: str | None = "24681357") -> None:
    """120 contacts (5 archived), a list, the portal id, and segments recomputed."""
    with db.transaction() as conn:
        contact_store.upsert_contacts(conn, [_row(i) for i in range(1, CONTACTS + 1)])
        contact_store.replace_lists(
            conn, [{"list_id": "11", "name": "Newsletter", "size": 3, "processing_type": "MANUAL"}]
        )
        contact_store.replace_list_members(conn, "11", ["1", "2", "3"])
        if portal_id:
            runs.set_state(conn, PORTAL_ID, portal_id)  # as the sync records it
    settings = Settings.load({}, dotenv_path=None, secrets_path=None)
    segment_store.recompute(db, segment_store.list_definitions(db, settings), NOW)


@pytest.fixture
def seeded(harness: Any) -> Any:
    seed(harness.db)
    return harness


def open_contacts(harness: Any, **params: str | list[str]) -> AppTest:
    """The app on the Contacts page, with these URL query parameters."""
    at = harness.app()
    at.switch_page("pages/contacts.py")
    for key, value in params.items():
        at.query_params[key] = value
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def total_line(at: AppTest) -> str:
    return next(m.value for m in at.markdown if " contacts" in m.value and m.value.startswith("**"))


def table(at: AppTest) -> Any:
    return at.dataframe[0].value


def url(at: AppTest) -> dict[str, list[str]]:
    """The URL's query parameters, every value as a list."""
    return {k: v if isinstance(v, list) else [v] for k, v in at.query_params.items()}


# --- empty states -------------------------------------------------------------------------


def test_empty_database_says_no_contacts_yet_and_points_to_sync(harness: Any) -> None:
    at = open_contacts(harness)
    assert "No contacts are stored yet" in at.info[-1].value
    assert not at.dataframe
    assert not at.get("download_button")


def test_filter_matching_nothing_says_so_and_clears_filters(seeded: Any) -> None:
    at = open_contacts(seeded, q="no-such-contact-anywhere")
    assert total_line(at).startswith("**0** contacts")
    assert any("No contacts match" in box.value for box in at.info)
    at.button(key="c_clear_empty").click().run()
    assert not at.exception
    assert url(at) == {}
    assert total_line(at).startswith(f"**{CONTACTS - len(ARCHIVED)}** contacts")


# --- listing, totals, facets --------------------------------------------------------------


def test_synced_database_lists_live_contacts_with_total(synced_harness: Any) -> None:
    at = open_contacts(synced_harness)
    live = explorer.count_contacts(synced_harness.db)
    assert total_line(at).startswith(f"**{live:,}** contacts")
    assert len(table(at)) == min(live, 50)


def test_archived_contacts_are_hidden_by_default_and_can_be_shown(seeded: Any) -> None:
    at = open_contacts(seeded)
    assert total_line(at).startswith(f"**{CONTACTS - len(ARCHIVED)}** contacts")
    at.radio(key="c_archived").set_value("only").run()
    assert at.query_params["archived"] == "only"
    assert total_line(at).startswith(f"**{len(ARCHIVED)}** contacts")
    assert set(table(at)["hubspot_id"]) == {str(i) for i in ARCHIVED}


def test_segment_options_show_facet_counts_for_the_current_filter(seeded: Any) -> None:
    at = open_contacts(seeded, stage="lead")
    flt = ContactFilter(lifecycle_stages=("lead",))
    expected = {f.value: f.count for f in explorer.facet_counts(seeded.db, flt, "segment")}
    options = at.multiselect(key="c_segments").options
    for key in ("chainge", "engaged", "cold", "high_value"):
        label = next(o for o in options if o.startswith(key + " · "))
        assert label == f"{key} · {expected.get(key, 0):,}"


def test_user_segment_is_offered_by_display_name_and_filters_by_key(seeded: Any) -> None:
    seg = SegmentDef(
        "EU leads",
        "#123456",
        Group(
            "all",
            [
                Condition("properties.country", "in", ["Germany", "France"]),
                Condition("lifecyclestage", "eq", "lead"),
            ],
        ),
    )
    segment_store.save_definition(seeded.db, seg, known_properties=None, ref=NOW)
    members = explorer.count_contacts(seeded.db, ContactFilter(segments=("eu_leads",)))
    assert members > 0
    at = open_contacts(seeded, segment="eu_leads")
    assert f"EU leads · {members:,}" in at.multiselect(key="c_segments").options
    assert at.multiselect(key="c_segments").value == ["eu_leads"]
    assert total_line(at).startswith(f"**{members}** contacts")


# --- the URL is the view ------------------------------------------------------------------


def test_url_query_parameters_prefill_every_filter_widget(seeded: Any) -> None:
    at = open_contacts(
        seeded,
        segment=["chainge", "engaged"],
        match="all",
        q="user0",
        stage=["lead", "customer"],
        created_from="2020-01-01",
        modified_to=(NOW.date()).isoformat(),
        has_email="yes",
        archived="include",
        list="11",
    )
    assert at.multiselect(key="c_segments").value == ["chainge", "engaged"]
    assert at.radio(key="c_match").value == "all"
    assert at.text_input(key="c_q").value == "user0"
    assert at.multiselect(key="c_stages").value == ["lead", "customer"]
    assert at.date_input(key="c_created_from").value == date(2020, 1, 1)
    assert at.date_input(key="c_modified_to").value == NOW.date()
    assert at.date_input(key="c_created_to").value is None
    assert at.radio(key="c_email").value == "yes"
    assert at.radio(key="c_archived").value == "include"
    assert at.multiselect(key="c_lists").value == ["11"]
    flt = ContactFilter.from_query_params(dict(at.query_params))
    assert total_line(at).startswith(f"**{explorer.count_contacts(seeded.db, flt):,}** contacts")


def test_changing_filters_writes_them_to_the_url(seeded: Any) -> None:
    at = open_contacts(seeded)
    at.multiselect(key="c_stages").select("lead").run()
    at.text_input(key="c_q").input("chainge").run()
    at.radio(key="c_email").set_value("no").run()
    assert not at.exception
    assert url(at) == {"q": ["chainge"], "stage": ["lead"], "has_email": ["no"]}
    flt = ContactFilter(search="chainge", lifecycle_stages=("lead",), has_email=False)
    assert total_line(at).startswith(f"**{explorer.count_contacts(seeded.db, flt):,}** contacts")
    assert set(table(at)["hubspot_id"]) == {
        r["hubspot_id"] for r in explorer.query_contacts(seeded.db, flt, limit=200).rows
    }


def test_bad_url_values_are_ignored_with_a_warning(seeded: Any) -> None:
    at = open_contacts(seeded, created_from="yesterday", has_email="maybe")
    warnings = " ".join(re.sub(r"\\(.)", r"\1", w.value) for w in at.warning)
    assert "created_from" in warnings and "has_email" in warnings
    assert total_line(at).startswith(f"**{CONTACTS - len(ARCHIVED)}** contacts")


def test_a_filter_change_reads_page_and_facets_in_one_explore_and_paging_reuses_the_facets(
    seeded: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[str, tuple[str, ...]]] = []
    explore, query = explorer.explore, explorer.query_contacts

    def counting_explore(db: Database, flt: ContactFilter, **kwargs: Any) -> Any:
        if kwargs.get("facets"):  # (query_contacts runs explore without facets)
            calls.append(("explore", tuple(kwargs["facets"])))
        return explore(db, flt, **kwargs)

    def counting_query(db: Database, flt: ContactFilter, **kwargs: Any) -> Any:
        calls.append(("query", ()))
        return query(db, flt, **kwargs)

    monkeypatch.setattr(explorer, "explore", counting_explore)
    monkeypatch.setattr(explorer, "query_contacts", counting_query)
    at = open_contacts(seeded, size="25")
    assert calls == [("explore", explorer.FACETS)]
    calls.clear()
    at.get("pagination")[0].set_value(2).run()
    at.selectbox(key="c_sort").set_value("created_at").run()
    assert calls == [("query", ()), ("query", ())]  # the facets of this filter are known
    calls.clear()
    at.multiselect(key="c_stages").select("lead").run()
    assert calls == [("explore", explorer.FACETS)]
    flt = ContactFilter(lifecycle_stages=("lead",))
    expected = {f.value: f.count for f in explorer.facet_counts(seeded.db, flt, "segment")}
    label = next(o for o in at.multiselect(key="c_segments").options if o.startswith("cold"))
    assert label == f"cold · {expected['cold']:,}"


def test_a_typed_column_that_is_no_property_name_is_refused_and_filters_stay(
    seeded: Any,
) -> None:
    at = open_contacts(seeded)
    at.multiselect(key="c_columns").select("not a name!").run()
    assert not at.exception
    assert any("Unknown column" in e.value and "not a name" in e.value for e in at.error)
    assert at.multiselect(key="c_segments").options  # the filters still render
    assert not at.dataframe


# --- sorting and pagination ---------------------------------------------------------------


def test_sort_from_the_url_orders_the_whole_result(seeded: Any) -> None:
    at = open_contacts(seeded, sort="email", order="asc")
    assert at.selectbox(key="c_sort").value == "email"
    assert at.toggle(key="c_desc").value is False
    expected = explorer.query_contacts(seeded.db, sort="email", descending=False, limit=50)
    assert list(table(at)["hubspot_id"]) == [r["hubspot_id"] for r in expected.rows]


def test_changing_the_sort_writes_the_url(seeded: Any) -> None:
    at = open_contacts(seeded)
    at.selectbox(key="c_sort").set_value("created_at").run()
    at.toggle(key="c_desc").set_value(False).run()
    assert at.query_params["sort"] == "created_at"
    assert at.query_params["order"] == "asc"
    assert table(at)["hubspot_id"].iloc[0] == "115"  # the oldest live contact


def test_pagination_pages_through_the_result_server_side(seeded: Any) -> None:
    at = open_contacts(seeded, size="25")
    live = CONTACTS - len(ARCHIVED)
    pager = at.get("pagination")[0]
    assert pager.num_pages == -(-live // 25)
    first_page = list(table(at)["hubspot_id"])
    pager.set_value(2).run()
    assert at.query_params["page"] == "2"
    second_page = list(table(at)["hubspot_id"])
    expected = explorer.query_contacts(seeded.db, limit=25, offset=25)
    assert second_page == [r["hubspot_id"] for r in expected.rows]
    assert not set(first_page) & set(second_page)


def test_a_page_number_in_the_url_opens_that_page_and_a_filter_change_resets_it(
    seeded: Any,
) -> None:
    at = open_contacts(seeded, size="25", page="5")
    live = CONTACTS - len(ARCHIVED)
    assert len(table(at)) == live - 4 * 25
    assert at.get("pagination")[0].value == 5
    at.multiselect(key="c_stages").select("lead").run()
    assert "page" not in at.query_params


# --- one contact --------------------------------------------------------------------------


def test_contact_in_the_url_shows_all_its_details_and_hubspot_link(seeded: Any) -> None:
    at = open_contacts(seeded, contact="3")
    assert any(h.value == "Contact 3" for h in at.subheader)
    shown = " ".join(t.value for t in at.text)
    assert "First3 Last3" in shown and "user003@example.com" in shown
    assert "chainge" in shown  # its segments
    frames = [d.value for d in at.dataframe]
    lists = next(f for f in frames if "list_id" in f.columns)
    assert list(lists["name"]) == ["Newsletter"]
    props = next(f for f in frames if "Property" in f.columns)
    assert dict(zip(props["Property"], props["Value"], strict=True))["country"] == "Germany"
    link = at.get("link_button")[0]
    assert link.proto.url == "https://app.hubspot.com/contacts/24681357/record/0-1/3"
    assert any("Demo portal" in c.value for c in at.caption)
    assert any("not archived" in s.value for s in at.success)


def test_contact_details_without_a_known_portal_id_say_why_there_is_no_link(
    harness: Any,
) -> None:
    seed(harness.db, portal_id=None)
    at = open_contacts(harness, contact="3")
    assert not at.get("link_button")
    assert any("portal id is not known yet" in c.value for c in at.caption)


def test_archived_contact_details_say_it_is_archived(seeded: Any) -> None:
    at = open_contacts(seeded, archived="only", contact="118")
    assert any("Archived in HubSpot" in w.value for w in at.warning)


def test_picking_a_contact_opens_it_and_close_hides_it(seeded: Any) -> None:
    at = open_contacts(seeded, sort="hubspot_id", order="asc")
    at.selectbox(key="c_pick").set_value("2").run()
    assert at.query_params["contact"] == "2"
    assert any(h.value == "Contact 2" for h in at.subheader)
    at.button(key="c_close").click().run()
    assert "contact" not in at.query_params
    assert not any(h.value.startswith("Contact ") for h in at.subheader)


def test_values_are_shown_as_text_not_markup(seeded: Any) -> None:
    at = open_contacts(seeded, contact="7")
    # The page never asks Streamlit to render HTML, and the formula-like name is plain text.
    assert all(not m.allow_html for m in at.markdown)
    assert "First7 =HYPERLINK(1)" in " ".join(t.value for t in at.text)


# --- export -------------------------------------------------------------------------------


def test_export_button_names_the_file_after_the_filter_and_counts_every_row(seeded: Any) -> None:
    at = open_contacts(seeded, segment="chainge")
    button = at.get("download_button")[0]
    total = explorer.count_contacts(seeded.db, ContactFilter(segments=("chainge",)))
    assert f"Export CSV ({total:,} rows)" in button.proto.label
    today = utcnow().date()  # the file is named after the UTC day
    name = export.csv_filename(ContactFilter(segments=("chainge",)), today)
    assert name == f"hubspot-contacts-chainge-{today.isoformat()}.csv"
    assert any(name in c.value for c in at.caption)
