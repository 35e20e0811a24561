"""Hostile data (issue 8 item 4): whatever HubSpot sends is stored or refused with a recorded
reason, never silently dropped (stored + refused == received), and exports safely.

Two sources: the sandbox's `hostile=True` portal (100 KB values, NUL bytes, scripts, SQL
fragments, CSV-formula prefixes, RTL and zero-width text, emoji, invalid dates, unknown
lifecycle stages, duplicate emails), and `responses`-mocked answers with what the sandbox
never sends (ids beyond 64 bits, ids that are not numbers, missing or unexpected fields).
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import responses
from sync_helpers import (
    Harness,
    HarnessFactory,
    dump_database_text,
    run_row,
    stored_contacts,
    table_rows,
)

from hubsync_core.config import Secret, Settings
from hubsync_core.hubspot import endpoints
from hubsync_core.hubspot.client import HubSpotClient
from hubsync_core.hubspot.pacing import RateLimiter
from hubsync_core.store import explorer
from hubsync_core.store.database import Database
from hubsync_core.store.export import EXPORT_COLUMNS, neutralise, write_csv
from hubsync_core.sync.engine import run_sync
from hubsync_core.sync.model import SyncOptions

HOSTILE_PROPERTIES = "sales_notes,last_meeting_date,lead_score,industry_segment"
NUL_REASON = "altered: NUL bytes removed from values"
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _has_nul(contact: dict[str, Any]) -> bool:
    return any("\x00" in k or "\x00" in (v or "") for k, v in contact["properties"].items())


@pytest.fixture
def hostile_harness(make_harness: HarnessFactory) -> Harness:
    return make_harness(
        1500, seed=901, hostile=True, env={"HUBSYNC_PROPERTIES": HOSTILE_PROPERTIES}
    )


def test_hostile_portal_is_stored_exactly_with_every_alteration_recorded(
    hostile_harness: Harness,
) -> None:
    h = hostile_harness
    received = list(h.sandbox.portal.live_contacts(h.properties))

    stats = h.run("full")

    assert stats.status == "succeeded", stats.message
    h.assert_exact()  # values equal the sandbox's, NUL bytes removed
    run = run_row(h.db, stats.run_id)
    rejected = [r for r in table_rows(h.db, "rejected_records") if r["run_id"] == run.id]
    refused = [r for r in rejected if r["reason"].startswith("refused")]
    assert run.contacts + len(refused) == len(received)
    altered = {r["hubspot_id"] for r in rejected if r["reason"] == NUL_REASON}
    assert altered == {c["id"] for c in received if _has_nul(c)}
    assert altered, "the hostile portal has NUL bytes"
    assert run.rejected == stats.rejected == len(rejected)
    text = dump_database_text(h.db)
    assert "\x00" not in text
    live = stored_contacts(h.db).live
    companies = [row["company"] or "" for row in live.values()]
    assert max(len(c) for c in companies) == 100_000
    assert "<img src=x onerror=alert(1)>" in companies
    assert "=cmd|' /C calc'!A0" in companies
    firstnames = {row["firstname"] for row in live.values()}
    assert {"<script>alert('xss')</script>", "Robert'); DROP TABLE contacts;--"} <= firstnames
    assert "\u202eesrever\u202c" in firstnames
    stages = {row["lifecyclestage"] for row in live.values()}
    assert {"zombie", "LEAD", "customer "} & stages
    emails = [row["email"] for row in live.values()]
    assert emails.count("duplicate@example.com") >= 2
    # The tables still work after all of it.
    assert stats.by_segment and sum(stats.by_segment.values()) > 0
    assert explorer.count_contacts(h.db) == len(received)


def test_hostile_values_arriving_through_incremental_are_cleaned_and_recorded(
    hostile_harness: Harness,
) -> None:
    h = hostile_harness
    assert h.run("full").status == "succeeded"
    target = h.sandbox.portal.live_ids()[4]
    h.sandbox.portal.update_contact(
        target, {"firstname": "Null\x00Byte", "company": '=HYPERLINK("http://evil")'}
    )

    stats = h.run("incremental")

    assert stats.status == "succeeded"
    row = stored_contacts(h.db).live[target]
    assert (row["firstname"], row["company"]) == ("NullByte", '=HYPERLINK("http://evil")')
    assert any(
        r["hubspot_id"] == target and r["reason"] == NUL_REASON and r["run_id"] == stats.run_id
        for r in table_rows(h.db, "rejected_records")
    )
    h.assert_exact()


def test_hostile_values_export_as_inert_text(hostile_harness: Harness) -> None:
    h = hostile_harness
    assert h.run("full").status == "succeeded"
    out = io.StringIO()
    columns = [*EXPORT_COLUMNS, "properties"]

    written = write_csv(h.db, None, out, columns=columns)

    text = out.getvalue()
    assert "\x00" not in text
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert rows[0] == columns and written == len(rows) - 1 == h.sandbox.portal.live_count()
    for row in rows[1:]:
        for cell in row:
            if cell.startswith("'"):
                continue
            assert not cell.startswith(FORMULA_START), cell[:40]
            assert not cell.lstrip().startswith(FORMULA_START[:4]), cell[:40]
    live = stored_contacts(h.db).live
    by_id = {row[0]: dict(zip(columns, row, strict=True)) for row in rows[1:]}
    for hubspot_id, stored in live.items():
        exported = by_id[hubspot_id]
        for name in ("email", "firstname", "lastname", "company", "jobtitle", "phone"):
            assert exported[name] == neutralise(stored[name] or "")
    assert any(len(r["company"]) == 100_000 for r in by_id.values())


# -- responses-mocked answers -----------------------------------------------------------------

BASE = "https://hubspot.test"
Mocked = tuple[Settings, Database, HubSpotClient, responses.RequestsMock]
BIG_ID = "123456789012345678901234567890"  # beyond 64 bits: stored as the string it is
HUGE = "x" * 100_000


def _record(record_id: Any, **properties: Any) -> dict[str, Any]:
    return {
        "id": record_id,
        "properties": properties,
        "createdAt": "2024-01-02T03:04:05.000Z",
        "updatedAt": "2024-05-06T07:08:09.000Z",
        "archived": False,
    }


def _mock_portal(mock: responses.RequestsMock, pages: list[list[Any]]) -> None:
    """A HubSpot that serves `pages` of contacts (cursor "p<n>") and nothing else."""

    def contacts(request: Any) -> tuple[int, dict[str, str], str]:
        query = parse_qs(urlsplit(request.url).query)
        if query.get("archived") == ["true"]:
            return 200, {}, json.dumps({"results": []})
        index = int(query.get("after", ["p0"])[0][1:])
        body: dict[str, Any] = {"results": pages[index]}
        if index + 1 < len(pages):
            body["paging"] = {"next": {"after": f"p{index + 1}", "link": "?"}}
        return 200, {}, json.dumps(body)

    mock.add_callback(
        responses.GET,
        re.compile(re.escape(BASE + endpoints.DEFAULT.contacts) + r"(\?.*)?$"),
        contacts,
    )
    total = sum(len(p) for p in pages)
    mock.add(
        responses.POST,
        f"{BASE}{endpoints.DEFAULT.contacts_search}",
        json={"total": total, "results": []},
    )
    mock.add(
        responses.POST,
        f"{BASE}{endpoints.DEFAULT.lists_search}",
        json={"lists": [], "hasMore": False},
    )
    mock.add(responses.GET, f"{BASE}/account-info/v3/details", json={"portalId": 1})
    # The account's API usage is not readable with this token (as for OAuth apps).
    mock.add(responses.GET, f"{BASE}{endpoints.API_USAGE_DAILY}", status=403, json={})


@pytest.fixture
def mocked(sqlite_db: Database) -> Iterator[Mocked]:
    settings = Settings.load(
        {
            "HUBSPOT_ACCESS_TOKEN": "mock-token",
            "HUBSPOT_BASE_URL": BASE,
            "DATABASE_URL": sqlite_db.url,
        },
        dotenv_path=None,
        secrets_path=None,
    )
    client = HubSpotClient(
        Secret("mock-token"),
        BASE,
        backoff_base=0.001,
        backoff_cap=0.002,
        rate_limiter=RateLimiter(max_requests=10**6, search_per_second=0),
    )
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield settings, sqlite_db, client, mock
    client.close()


def _sync_mocked(mocked: Mocked) -> Any:
    settings, db, client, _ = mocked
    return run_sync(settings, db, client, SyncOptions(mode="full"))


def test_odd_answers_are_stored_or_refused_with_a_reason(
    mocked: Mocked,
) -> None:
    page1 = [
        _record("101", email="dup@example.com", firstname="Plain"),
        _record(BIG_ID, email="big@example.com"),
        _record("abc-1", email="letters@example.com"),
        _record("9" * 41, email="too-long-id@example.com"),
        _record(102, email="dup@example.com"),  # a number, not a string; duplicate email
        {"id": "103"},  # no properties, no dates at all
        {**_record("104", email="extra@example.com"), "surprise": {"nested": [1, 2]}},
        _record("105", company={"name": "ACME"}, lead_score=7, vip=True, notes=None),
        _record("106", firstname="Nul\x00l", **{"weird\x00key": "v"}),
        _record("107", sales_notes=HUGE),
        _record("108", createdate="not a date", lastmodifieddate="2024-02-30T00:00:00Z"),
    ]
    page2 = [_record("109", email="=1+1"), _record("110", firstname="שָׁלוֹם 🚀")]
    _mock_portal(mocked[3], [page1, page2])

    stats = _sync_mocked(mocked)

    db = mocked[1]
    assert stats.status == "succeeded", stats.message
    received = len(page1) + len(page2)
    rejected = table_rows(db, "rejected_records")
    refused = [r for r in rejected if r["reason"].startswith("refused")]
    stored = stored_contacts(db).live
    assert len(stored) + len(refused) == received == stats.total_synced + len(refused)
    assert set(stored) == {"101", BIG_ID, "102", "103", "104", "105", "106", "107", "108"} | {
        "109",
        "110",
    }
    reasons = {(r["hubspot_id"], r["reason"]) for r in rejected}
    assert (None, "refused: id is not a HubSpot numeric id") in reasons
    assert ("106", "altered: NUL bytes removed from values") in reasons
    assert ("108", "altered: unreadable createdate ignored") in reasons
    assert ("108", "altered: unreadable lastmodifieddate ignored") in reasons
    assert sum(r["reason"] == "refused: id is not a HubSpot numeric id" for r in refused) == 2
    samples = {r["sample"] for r in refused if r["hubspot_id"] is None}
    assert "'abc-1'" in samples
    assert stored["101"]["email"] == stored["102"]["email"] == "dup@example.com"
    assert stored["103"]["properties"] == {}
    assert stored["105"]["properties"] == {
        "company": '{"name":"ACME"}',
        "lead_score": "7",
        "vip": "true",
        "notes": None,
    }
    assert stored["106"]["firstname"] == "Null" and "weirdkey" in stored["106"]["properties"]
    assert stored["107"]["properties"]["sales_notes"] == HUGE
    assert stored["108"]["created_at"] is not None  # fell back to createdAt
    assert stored["110"]["firstname"] == "שָׁלוֹם 🚀"
    assert "\x00" not in dump_database_text(db)
    out = io.StringIO()
    write_csv(db, None, out, columns=["hubspot_id", "email"])
    assert "'=1+1" in out.getvalue() and BIG_ID in out.getvalue()


def test_records_without_a_usable_id_are_refused_with_a_reason(
    mocked: Mocked,
) -> None:
    page = [
        _record("201", email="ok@example.com"),
        {"properties": {"email": "no-id@example.com"}},
        _record(None, email="null-id@example.com"),
        _record(1.5, email="float-id@example.com"),
        "not even an object",
        _record("201", email="second-copy@example.com"),  # the same id twice in one page
    ]
    _mock_portal(mocked[3], [page])

    stats = _sync_mocked(mocked)

    db = mocked[1]
    assert stats.status == "succeeded"
    refused = [r for r in table_rows(db, "rejected_records") if r["reason"].startswith("refused")]
    assert len(stored_contacts(db).live) + len(refused) == len(page)
    assert stored_contacts(db).live["201"]["email"] == "ok@example.com"  # the first copy wins
