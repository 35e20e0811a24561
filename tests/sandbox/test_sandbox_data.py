"""The generated portal: deterministic, realistic, hostile on demand, lazy at scale."""

from __future__ import annotations

import re
import unicodedata
from typing import Any

import pytest
from sandbox_testkit import NOW, epoch_ms, make_config

from hubsync_core.sandbox import Sandbox

DAY_MS = 86_400_000


@pytest.fixture(scope="module")
def contacts(shared_sandbox: Sandbox) -> list[dict[str, Any]]:
    return list(shared_sandbox.portal.live_contacts())


@pytest.fixture(scope="module")
def hostile() -> list[dict[str, Any]]:
    return list(Sandbox(make_config(hostile=True)).portal.live_contacts())


def _values(contacts: list[dict[str, Any]], prop: str) -> list[Any]:
    return [c["properties"][prop] for c in contacts]


def test_same_seed_gives_the_same_portal() -> None:
    one = Sandbox(make_config(contacts=500)).portal
    two = Sandbox(make_config(contacts=500)).portal
    assert list(one.live_contacts()) == list(two.live_contacts())
    assert one.archived_ids() == two.archived_ids()
    assert one.lists() == two.lists()


def test_another_seed_gives_another_portal() -> None:
    one = list(Sandbox(make_config(contacts=200)).portal.live_contacts())
    two = list(Sandbox(make_config(contacts=200, seed=43)).portal.live_contacts())
    assert _values(one, "email") != _values(two, "email")


def test_names_include_accents_cjk_and_right_to_left_scripts(
    contacts: list[dict[str, Any]],
) -> None:
    names = " ".join(
        f"{c['properties']['firstname'] or ''} {c['properties']['lastname'] or ''}"
        for c in contacts
    )
    assert re.search(r"[éèüößçñå]", names)
    assert re.search(r"[\u4e00-\u9fff\u3040-\u30ff\uac00-\ud7af]", names)  # CJK / kana / hangul
    assert re.search(r"[\u0600-\u06ff]", names)  # Arabic
    assert re.search(r"[\u0590-\u05ff]", names)  # Hebrew
    assert any(unicodedata.bidirectional(ch) in ("R", "AL") for ch in names)


def test_shares_of_missing_emails_and_chainge_companies(contacts: list[dict[str, Any]]) -> None:
    n = len(contacts)
    no_email = sum(not v for v in _values(contacts, "email"))
    chainge = [v for v in _values(contacts, "company") if v and "chainge" in v.lower()]
    assert 0.03 < no_email / n < 0.07
    assert 0.06 < len(chainge) / n < 0.10
    assert len(set(chainge)) >= 4  # mixed spellings: CHAINge, Chainge Labs, chainge, ...


def test_emails_are_unique_outside_hostile_mode(contacts: list[dict[str, Any]]) -> None:
    emails = [v.lower() for v in _values(contacts, "email") if v]
    assert len(emails) == len(set(emails))


def test_sales_fields_are_filled_realistically(contacts: list[dict[str, Any]]) -> None:
    for prop in (
        "jobtitle",
        "phone",
        "country",
        "city",
        "industry_segment",
        "lead_score",
        "region",
    ):
        filled = [v for v in _values(contacts, prop) if v]
        assert len(filled) > 0.5 * len(contacts), prop
        assert len(set(filled)) > 2, prop
    stages = set(_values(contacts, "lifecyclestage"))
    assert {"lead", "customer", "partner", "1088421376", None} <= stages


def test_dates_spread_over_more_than_a_year_with_recent_and_old_changes(
    contacts: list[dict[str, Any]],
) -> None:
    now = int(NOW * 1000)
    created = [epoch_ms(c["createdAt"]) for c in contacts]
    modified = [epoch_ms(c["updatedAt"]) for c in contacts]
    assert max(created) - min(created) > 400 * DAY_MS
    assert all(c <= m <= now for c, m in zip(created, modified, strict=True))
    recent = sum(now - m <= 30 * DAY_MS for m in modified)
    old = sum(now - m > 90 * DAY_MS for m in modified)
    assert recent > 0.1 * len(contacts) and old > 0.2 * len(contacts)


def test_a_bulk_update_left_many_contacts_with_one_identical_timestamp(
    contacts: list[dict[str, Any]],
) -> None:
    stamps: dict[str, int] = {}
    for c in contacts:
        stamps[c["updatedAt"]] = stamps.get(c["updatedAt"], 0) + 1
    assert max(stamps.values()) > 30


def test_long_html_and_formula_looking_values_exist(contacts: list[dict[str, Any]]) -> None:
    values = [v for c in contacts for v in c["properties"].values() if v]
    assert any(len(v) == 10_000 for v in values)
    assert any("<b>" in v or "<p>" in v for v in values)
    for prefix in ("=HYPERLINK(", "+", "@", "-"):
        assert any(v.startswith(prefix) for v in values), prefix


def test_archived_and_merged_contacts_exist(shared_sandbox: Sandbox) -> None:
    portal = shared_sandbox.portal
    assert 0.005 < len(portal.archived_ids()) / portal.config.contacts < 0.02
    merged = [
        c
        for c in portal.live_contacts(["hs_merged_object_ids"])
        if c["properties"]["hs_merged_object_ids"]
    ]
    assert merged


def test_hostile_mode_mixes_in_hostile_values(hostile: list[dict[str, Any]]) -> None:
    values = [v for c in hostile for v in c["properties"].values() if v is not None]
    assert any(len(v) >= 100_000 for v in values)
    assert any("\x00" in v for v in values)
    assert any("<script>" in v for v in values)
    assert any("DROP TABLE" in v for v in values)
    assert any(re.search(r"[\U0001F300-\U0001FAFF]", v) for v in values)
    dates = set(_values(hostile, "last_meeting_date"))
    assert {"2024-02-30", "not a date"} & dates
    stages = set(_values(hostile, "lifecyclestage"))
    assert {"zombie", "LEAD"} & stages
    emails = [v.lower() for v in _values(hostile, "email") if v]
    assert len(emails) > len(set(emails))  # duplicates


def test_a_million_contacts_are_served_lazily() -> None:
    with Sandbox(make_config(contacts=1_000_000)) as sandbox:
        portal = sandbox.portal
        now = portal.now_ms
        pivot = 1_250_000
        body = {
            "filterGroups": [
                {
                    "filters": [
                        {
                            "propertyName": "lastmodifieddate",
                            "operator": "BETWEEN",
                            "value": str(now - 10 * DAY_MS),
                            "highValue": str(now - DAY_MS),
                        },
                        {"propertyName": "hs_object_id", "operator": "GT", "value": str(pivot)},
                    ]
                }
            ],
            "sorts": [{"propertyName": "hs_object_id", "direction": "ASCENDING"}],
            "properties": ["lastmodifieddate"],
            "limit": 200,
        }
        page = portal.search(body)
        assert page["total"] > 10_000
        ids = [int(c["id"]) for c in page["results"]]
        assert ids == sorted(ids) and ids[0] > pivot
        for c in page["results"]:
            assert (
                now - 10 * DAY_MS <= epoch_ms(c["properties"]["lastmodifieddate"]) <= now - DAY_MS
            )
        middle = portal.list_page(None, 100, ["email"], False)
        assert len(middle["results"]) == 100
