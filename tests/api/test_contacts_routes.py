"""`GET .../contacts` (spec + explorer filters), one contact, the CSV export, `DELETE`."""

from __future__ import annotations

from urllib.parse import parse_qs

import pytest

from hubsync_core import cli
from hubsync_core.store import export
from hubsync_core.store.explorer import ContactFilter

from .conftest import BASE

SPEC_FIELDS = (
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
)


def get_contacts(api, **params):
    answer = api.get(f"{BASE}/contacts", params=params)
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_the_spec_answer_shape_defaults_and_contact_fields(synced):
    page = get_contacts(synced)
    assert list(page) == ["contacts", "total", "limit", "offset", "segment"]
    assert page["limit"] == 100 and page["offset"] == 0 and page["segment"] is None
    assert len(page["contacts"]) == 100 < page["total"]
    first = page["contacts"][0]
    assert list(first)[: len(SPEC_FIELDS)] == list(SPEC_FIELDS)
    assert first["created_at"].endswith("Z") and isinstance(first["properties"], dict)
    ids = [int(c["hubspot_id"]) for c in page["contacts"]]
    assert ids == sorted(ids)  # by id: pages stay put while syncs change updated_at


def test_segment_limit_and_offset_page_through_a_segment(synced):
    whole = get_contacts(synced, segment="chainge", limit=1000)
    assert whole["segment"] == "chainge" and whole["total"] == len(whole["contacts"]) > 2
    assert all("chainge" in c["segments"] for c in whole["contacts"])
    second = get_contacts(synced, segment="chainge", limit=2, offset=2)
    assert second["contacts"] == whole["contacts"][2:4]


def test_search_is_the_specs_name_for_the_dashboards_q(synced):
    term = get_contacts(synced, limit=1)["contacts"][0]["lastname"]
    by_search = get_contacts(synced, search=term, limit=1000)
    assert by_search == get_contacts(synced, q=term, limit=1000)
    assert by_search["total"] >= 1


@pytest.mark.parametrize(
    "query",
    [
        "segment=engaged&segment=high_value&match=all",
        "stage=lead&stage=customer",
        "has_email=no",
        "archived=only",
        "created_from=2025-01-01&modified_to=2026-06-30",
        "segment=cold&stage=(none)",
    ],
)
def test_every_explorer_filter_answers_what_the_cli_finds_for_the_same_url(
    synced, cli_configured, capsys, query
):
    api_page = synced.get(f"{BASE}/contacts?{query}&limit=1000&sort=email&order=desc").json()
    code = cli.main(
        ["contacts", "--query", query, "--format", "json", "--limit", "1000", "--sort", "email"]
    )
    cli_page = __import__("json").loads(capsys.readouterr().out)
    assert code == 0
    assert api_page["total"] == cli_page["total"]
    assert [c["hubspot_id"] for c in api_page["contacts"]] == [
        c["hubspot_id"] for c in cli_page["contacts"]
    ]


def test_sort_and_order(synced):
    ascending = get_contacts(synced, sort="email", order="asc", limit=1000)["contacts"]
    descending = get_contacts(synced, sort="email", order="desc", limit=1000)["contacts"]
    assert [c["hubspot_id"] for c in ascending] != [c["hubspot_id"] for c in descending]
    emails = [c["email"].lower() for c in ascending if c["email"]]
    assert emails[0] <= emails[-1]


@pytest.mark.parametrize(
    ("query", "parameter", "status"),
    [
        ("limit=0", "limit", 422),
        ("limit=1001", "limit", 422),
        ("limit=ten", "limit", 422),
        ("offset=-1", "offset", 422),
        ("sort=password", "sort", 422),
        ("order=up", "order", 422),
        ("created_from=yesterday", "created_from", 422),
        ("has_email=maybe", "has_email", 422),
        ("match=some", "match", 422),
        ("archived=never", "archived", 422),
        ("segmnet=chainge", "segmnet", 400),
    ],
)
def test_a_bad_parameter_gets_4xx_json_naming_it(synced, query, parameter, status):
    answer = synced.get(f"{BASE}/contacts?{query}")
    assert answer.status_code == status
    body = answer.json()
    assert body["status"] == status and body["parameter"] == parameter
    assert f"'{parameter}'" in body["message"]


def test_one_contact_and_404_for_an_unknown_id(synced):
    listed = get_contacts(synced, limit=1)["contacts"][0]
    one = synced.get(f"{BASE}/contacts/{listed['hubspot_id']}").json()
    assert {k: one[k] for k in listed} == listed
    assert {"lists", "archived_at", "archived_reason"} <= set(one)
    missing = synced.get(f"{BASE}/contacts/999999999")
    assert (
        missing.status_code == 404 and missing.json()["message"] == "No contact with id 999999999"
    )


def test_archived_contacts_are_found_by_id(synced):
    archived = get_contacts(synced, archived="only", limit=1)["contacts"]
    assert archived, "the sandbox archives some contacts"
    one = synced.get(f"{BASE}/contacts/{archived[0]['hubspot_id']}").json()
    assert one["archived"] is True


@pytest.mark.parametrize(
    "query", ["segment=chainge", "segment=cold&stage=lead&has_email=yes&q=a", ""]
)
def test_csv_equals_the_cli_and_dashboard_export_byte_for_byte(
    synced, service, cli_configured, capsysbinary, query
):
    answer = synced.get(f"{BASE}/contacts.csv?{query}")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/csv")
    argv = ["contacts", "--format", "csv"] + (["--query", query] if query else [])
    assert cli.main(argv) == 0
    from_cli = capsysbinary.readouterr().out
    flt = ContactFilter.from_query_params(parse_qs(query))
    dashboard = export.csv_bytes(service.db, flt)
    assert answer.content == from_cli == dashboard
    assert answer.content.count(b"\r\n") > 1
    slug = flt.slug()
    assert f'filename="hubspot-contacts-{slug}-' in answer.headers["content-disposition"]


def test_csv_columns_and_sort_follow_the_cli_options(synced, cli_configured, capsysbinary):
    answer = synced.get(
        f"{BASE}/contacts.csv?segment=chainge&columns=email,company&sort=email&order=asc"
    )
    argv = ["contacts", "--format", "csv", "--segment", "chainge", "--columns", "email,company"]
    cli.main([*argv, "--sort", "email", "--ascending"])
    assert answer.content == capsysbinary.readouterr().out
    assert answer.content.startswith(b"email,company\r\n")
    bad = synced.get(f"{BASE}/contacts.csv?columns=email,no such column")
    assert bad.status_code == 422 and bad.json()["parameter"] == "columns"
    assert synced.get(f"{BASE}/contacts.csv?limit=5").json()["parameter"] == "limit"


def test_csv_holds_internal_values_by_default_and_labels_when_asked(
    synced, service, cli_configured, capsysbinary
):
    query = "stage=lead&stage=salesqualifiedlead&columns=hubspot_id,lifecyclestage"
    internal = synced.get(f"{BASE}/contacts.csv?{query}")
    labelled = synced.get(f"{BASE}/contacts.csv?{query}&labels=true")
    assert internal.status_code == labelled.status_code == 200
    assert {line.split(b",")[1] for line in internal.content.splitlines()[1:]} == {
        b"lead",
        b"salesqualifiedlead",
    }
    assert {line.split(b",")[1] for line in labelled.content.splitlines()[1:]} == {
        b"Lead",
        b"Sales Qualified Lead",
    }
    # The same bytes as the CLI's --labels and the SDK's labels=True.
    argv = ["contacts", "--format", "csv", "--query", "stage=lead&stage=salesqualifiedlead"]
    assert cli.main([*argv, "--columns", "hubspot_id,lifecyclestage", "--labels"]) == 0
    assert labelled.content == capsysbinary.readouterr().out
    flt = ContactFilter(lifecycle_stages=("lead", "salesqualifiedlead"))
    sdk = service.iter_contacts_csv(flt, columns=["hubspot_id", "lifecyclestage"], labels=True)
    assert labelled.content == "".join(sdk).encode("utf-8")


def test_delete_needs_confirm_and_answers_the_number_deleted(synced):
    total = get_contacts(synced, archived="include", limit=1)["total"]
    refused = synced.delete(f"{BASE}/contacts")
    assert refused.status_code == 400 and refused.json()["parameter"] == "confirm"
    assert "confirm=true" in refused.json()["hint"]
    assert get_contacts(synced, archived="include", limit=1)["total"] == total
    deleted = synced.delete(f"{BASE}/contacts", params={"confirm": "true"})
    assert deleted.json() == {"deleted": total}
    assert get_contacts(synced, archived="include")["total"] == 0
