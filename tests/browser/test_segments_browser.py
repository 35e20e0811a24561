"""In Chromium: create "EU leads" (country in a list AND lifecycle stage lead) on the Segments page,
see its preview count, filter Contacts by it, export it, find it in the Insights segment chart, and
`hubsync segments list` lists it; then edit and delete a segment in the browser."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sync_helpers import wait_for

from hubsync_core.segments import Condition, Group
from hubsync_core.store import explorer, export, segment_store
from hubsync_core.store.explorer import ContactFilter

EU_COUNTRIES = "Germany, France, Spain, Italy, Netherlands, Austria, Belgium"
EU_LEADS = Group(
    "all",
    [
        Condition("properties.country", "in", [c.strip() for c in EU_COUNTRIES.split(",")]),
        Condition("lifecyclestage", "eq", "lead"),
    ],
)


def choose(page: Any, widget: Any, option: str) -> None:
    """Pick `option` (exact label) in a selectbox, typing to narrow long lists."""
    box = widget.locator("input").first
    box.click()
    box.fill(option)
    page.get_by_role("option", name=option, exact=True).click()


def rows(page: Any) -> Any:
    """The editor's condition rows' field selectboxes, in order."""
    return page.locator("[class*='st-key-sg_c'][class*='_field']")


def row_op(page: Any, index: int) -> Any:
    return page.locator("[class*='st-key-sg_c'][class*='_op']").nth(index)


def fill_text(page: Any, ui: Any, locator: Any, text: str) -> None:
    """Type into a text input and commit it (Enter), then wait for the rerun."""
    locator.fill(text)
    locator.press("Enter")
    ui.wait_for_app_idle(page)


def test_eu_leads_created_in_the_browser_filters_exports_charts_and_is_listed(
    page: Any, app_server: Any, ui: Any
) -> None:
    ui.ensure_synced(page, app_server)
    ui.open_page(page, app_server, "segments")
    ui.assert_no_exception(page)

    fill_text(page, ui, page.locator(".st-key-sg_name input"), "EU leads")
    choose(page, rows(page).nth(0), "properties.country")
    ui.wait_for_app_idle(page)
    choose(page, row_op(page, 0), "is one of (comma-separated)")
    ui.wait_for_app_idle(page)
    fill_text(page, ui, page.get_by_placeholder("Germany, France"), EU_COUNTRIES)
    page.get_by_role("button", name="➕ Condition").click()
    rows(page).nth(1).wait_for()
    ui.wait_for_app_idle(page)
    choose(page, rows(page).nth(1), "lifecyclestage")
    ui.wait_for_app_idle(page)
    choose(page, row_op(page, 1), "equals")
    ui.wait_for_app_idle(page)
    # An enumeration's value is picked by label: the custom stage reads as "Former customer"
    # (with the value the rule will hold); the rule saves "lead", not "Lead".
    picker = page.locator("[class*='st-key-sg_c'][class*='_pick']").first
    picker.locator("input").first.click()
    page.get_by_role("option", name="Former customer (1088421376)", exact=True).wait_for()
    page.keyboard.press("Escape")
    choose(page, picker, "Lead")
    ui.wait_for_app_idle(page)

    # The live preview counts what the core's preview counts for the same rule.
    db = app_server.database()
    try:
        expected, _ = segment_store.preview(db, EU_LEADS, datetime.now(UTC).replace(tzinfo=None))
    finally:
        db.dispose()
    assert expected > 0
    page.get_by_text(re.compile(rf"^Preview: {expected:,} live contacts match$")).wait_for()
    ui.assert_no_exception(page)

    page.get_by_role("button", name="💾 Save segment").click()
    page.get_by_text("Saved “EU leads” and recomputed its members.").wait_for()
    ui.assert_no_exception(page)
    flt = ContactFilter(segments=("eu_leads",))
    db = app_server.database()
    try:
        assert explorer.count_contacts(db, flt) == expected
    finally:
        db.dispose()

    # The CLI lists it.
    listed = app_server.cli("segments", "list")
    assert listed.returncode == 0, listed.stderr
    assert "EU leads" in listed.stdout

    # Contacts: filter by it through the segment picker, then export.
    ui.open_page(page, app_server, "contacts")
    widget = page.locator(".st-key-c_segments")
    widget.locator("input").first.click()
    page.get_by_role("option", name=f"EU leads · {expected:,}", exact=True).click()
    page.keyboard.press("Escape")
    page.wait_for_url(re.compile(r"segment=eu_leads"))
    ui.wait_for_app_idle(page)
    page.get_by_text(re.compile(rf"^{expected:,} contacts · Segment eu_leads$")).wait_for()
    with page.expect_download() as download_info:
        page.locator(".st-key-c_export button").click()
    download = download_info.value
    assert download.suggested_filename.startswith("hubspot-contacts-eu-leads-")
    exported = Path(download.path()).read_bytes()
    db = app_server.database()
    try:
        reference = io.BytesIO()
        export.write_csv(db, flt, reference)
    finally:
        db.dispose()
    assert exported == reference.getvalue()
    table = list(csv.DictReader(io.StringIO(exported.decode("utf-8"))))
    assert len(table) == expected
    assert {row["lifecyclestage"] for row in table} == {"lead"}
    ui.assert_no_exception(page)

    # Insights: the segment chart has a bar for it.
    ui.open_page(page, app_server, "insights")
    page.locator(".js-plotly-plot").filter(has_text="EU leads").first.wait_for()
    ui.assert_no_exception(page)


def test_a_segment_is_edited_and_deleted_in_the_browser(
    page: Any, app_server: Any, ui: Any
) -> None:
    ui.ensure_synced(page, app_server)
    ui.open_page(page, app_server, "segments")
    fill_text(page, ui, page.locator(".st-key-sg_name input"), "Browser temp")
    values = page.locator("[class*='st-key-sg_c'][class*='_v'] input")
    fill_text(page, ui, values.nth(0), "chainge")
    page.get_by_role("button", name="💾 Save segment").click()
    page.get_by_text("Saved “Browser temp” and recomputed its members.").wait_for()

    # Edit: company contains "chainge labs" instead.
    fill_text(page, ui, values.nth(0), "chainge labs")
    page.get_by_role("button", name="💾 Save segment").click()
    # The first save's message is still on screen: wait for the edit itself to be stored.
    edited = Group("all", [Condition("company", "contains", "chainge labs")])
    db = app_server.database()
    try:

        def stored_rule() -> Any:
            saved = segment_store.get_definition(db, "Browser temp")
            return saved is not None and saved.rule == edited

        wait_for(stored_rule)
    finally:
        db.dispose()
    page.get_by_text("Saved “Browser temp” and recomputed its members.").wait_for()

    # Delete, confirming.
    page.get_by_role("button", name="🗑️ Delete").click()
    page.get_by_role("button", name="Yes, delete").click()
    page.get_by_text("Deleted “Browser temp”.").wait_for()
    ui.assert_no_exception(page)
    db = app_server.database()
    try:
        assert segment_store.get_definition(db, "Browser temp") is None
    finally:
        db.dispose()
