"""The sync's hot path (`records.prepare_page`, and `parsing.contact_record` before it) gives
exactly what the reference composition gives: `to_rows` + `merged_ids`, then
`contact_params.prepare_contacts`. Hostile records included, on both dialects."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any

import pytest

from hubsync_core.hubspot.models import ContactRecord
from hubsync_core.hubspot.parsing import contact_record
from hubsync_core.sandbox import Sandbox, SandboxConfig
from hubsync_core.store.contact_params import PreparedContacts, prepare_contacts
from hubsync_core.sync.records import CORE_PROPERTIES, convert_page, prepare_page

SYNCED_AT = datetime(2026, 12, 5, 12, 0, 0, 123456)


def item(contact_id: Any = "101", **properties: Any) -> dict[str, Any]:
    return {
        "id": contact_id,
        "properties": {
            "hs_object_id": str(contact_id),
            "email": "ada@example.com",
            "firstname": "Ada",
            "createdate": "2024-10-30T05:04:42.315Z",
            "lastmodifieddate": "2026-11-29T08:04:28.864Z",
            **properties,
        },
        "createdAt": "2024-10-30T05:04:42.315Z",
        "updatedAt": "2026-11-29T08:04:28.864Z",
        "archived": False,
    }


#: What HubSpot (or something in between) may send, one odd thing at a time.
ODD_ITEMS: list[Any] = [
    item("101"),
    item(" 102 ", email="  spaced@example.com  "),
    item("103", email="   "),
    item("104", firstname="Nul\x00Byte", **{"weird\x00key": "x"}),
    item("105", createdate="not a date"),
    item("106", lastmodifieddate=""),
    item("107", createdate="1730264682315", lastmodifieddate="2026-11-29T09:04:28.864+01:00"),
    item("108", hs_merged_object_ids="77;78; 79 ;x"),
    item("109", hs_merged_object_ids=""),
    item("101"),  # the same id twice in one page
    item("abc"),
    item(""),
    item(None),
    item(True),
    item(12.5),
    item(110),  # a number, not a string
    item("1" * 41),
    item("111", lead_score=42, opted_in=True, tags=["a", "b"], nested={"k": None}),
    item("112", lifecyclestage="customer", company="Acme", phone="+1", jobtitle="CTO"),
    item("113", lastmodifieddate="2026-W01-1T05:04:42.315Z"),
    item("117", createdate="2024-13-45T05:04:42.315Z", lastmodifieddate="1969-12-31T23:59:59.999Z"),
    {**item("114"), "properties": None},
    {**item("115"), "createdAt": 1730264682315, "updatedAt": {"no": "thing"}},
    {**item("116"), "archived": "TRUE", "archivedAt": "2026-01-01T00:00:00.000Z"},
    "not an object",
    None,
]


def reference(
    records: list[ContactRecord], dialect: str, generation: int | None
) -> tuple[PreparedContacts, list[Any], list[Any]]:
    rows, rejections, merges = convert_page(records, SYNCED_AT)
    return prepare_contacts(dialect, rows, generation=generation), rejections, merges


def assert_same(records: list[ContactRecord], dialect: str, generation: int | None) -> None:
    params, rejections, merges = prepare_page(records, SYNCED_AT, dialect, generation)
    want_params, want_rejections, want_merges = reference(records, dialect, generation)
    assert list(params) == list(want_params)
    assert (params.dialect, params.generation) == (dialect, generation)
    assert rejections == want_rejections
    assert merges == want_merges


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
@pytest.mark.parametrize("generation", [None, 7])
def test_prepare_page_equals_rows_then_parameters_for_odd_records(
    dialect: str, generation: int | None
) -> None:
    records = [contact_record(raw) for raw in ODD_ITEMS]

    assert_same(records, dialect, generation)
    params, rejections, merges = prepare_page(records, SYNCED_AT, dialect, generation)
    reasons = {r.reason for r in rejections}
    # The odd ones were seen as odd, not just passed through identically broken.
    assert "altered: NUL bytes removed from values" in reasons
    assert "refused: id repeated within one page" in reasons
    assert "altered: unreadable createdate ignored" in reasons
    assert merges == [("108", ["77", "78", "79"])]
    assert not any("\x00" in str(value) for row in params for value in row)


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_prepare_page_equals_the_reference_on_the_sandboxs_hostile_portal(dialect: str) -> None:
    portal = Sandbox(SandboxConfig(contacts=400, seed=901, hostile=True)).portal
    names = [*CORE_PROPERTIES, "sales_notes", "last_meeting_date", "lead_score"]
    records = [contact_record(raw) for raw in portal.live_contacts(names)]

    assert_same(records, dialect, 3)


def test_contact_record_builds_the_same_frozen_record_as_its_constructor() -> None:
    raw = item("120", lead_score=5)
    record = contact_record(raw)

    expected = ContactRecord(
        id="120",
        properties={**raw["properties"], "lead_score": "5"},
        created_at=raw["createdAt"],
        updated_at=raw["updatedAt"],
        archived=False,
        archived_at=None,
    )
    assert record == expected and repr(record) == repr(expected)
    assert dataclasses.asdict(record) == dataclasses.asdict(expected)
    with pytest.raises(dataclasses.FrozenInstanceError):
        record.id = "121"  # type: ignore[misc]
    assert contact_record({**raw, "archived": "true"}).archived is True
    assert contact_record({**raw, "createdAt": 5}).created_at == "5"
