"""In Chromium: sync the demo portal, filter Contacts to chainge, export the CSV and check it is
the filtered set (and the CLI's file for the same filter), open a contact, see Insights' charts."""

from __future__ import annotations

import csv
import io
import re
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

from hubsync_core.store import explorer, export
from hubsync_core.store.explorer import ContactFilter

#: The demo portal's custom lifecycle stage and the label its properties API gives it.
CUSTOM_STAGE, CUSTOM_LABEL = "1088421376", "Former customer"


def query_of(page: Any) -> dict[str, list[str]]:
    return parse_qs(urlparse(page.url).query)


def pick_option(page: Any, widget: Any, pattern: str, *, multi: bool = False) -> None:
    """Open a selectbox (or multiselect) and click the option whose label matches `pattern`."""
    widget.locator("input").first.click()
    page.get_by_role("option").filter(has_text=re.compile(pattern)).first.click()
    if multi:  # a multiselect's list stays open for more picks
        page.keyboard.press("Escape")


def test_filter_to_chainge_export_open_a_contact_and_see_insights(
    page: Any, app_server: Any, ui: Any, tmp_path: Path
) -> None:
    ui.ensure_synced(page, app_server)

    # Filter through the UI: the URL follows.
    ui.open_page(page, app_server, "contacts")
    ui.assert_no_exception(page)
    segments = page.locator(".st-key-c_segments")
    pick_option(page, segments, r"^chainge · ", multi=True)
    page.wait_for_url(re.compile(r"segment=chainge"))
    ui.wait_for_app_idle(page)
    assert query_of(page) == {"segment": ["chainge"]}
    flt = ContactFilter(segments=("chainge",))
    db = app_server.database()
    try:
        total = explorer.count_contacts(db, flt)
        assert total > 0
        page.get_by_text(re.compile(rf"^{total:,} contacts · Segment chainge$")).wait_for()

        # Export: every matching row, not only the first page.
        with page.expect_download() as download_info:
            page.locator(".st-key-c_export button").click()
        download = download_info.value
        assert download.suggested_filename == export.csv_filename(flt, date.today())
        exported = Path(download.path()).read_bytes()
        expected = io.BytesIO()
        written = export.write_csv(db, flt, expected)
    finally:
        db.dispose()
    assert written == total
    assert exported == expected.getvalue()
    rows = list(csv.DictReader(io.StringIO(exported.decode("utf-8"))))
    assert len(rows) == total
    assert all("chainge" in row["segments"].split("; ") for row in rows)

    # Open a contact's details.
    picker = page.locator(".st-key-c_pick")
    pick_option(page, picker, r"·")
    page.wait_for_url(re.compile(r"contact=\d+"))
    ui.wait_for_app_idle(page)
    contact_id = query_of(page)["contact"][0]
    page.get_by_role("heading", name=f"Contact {contact_id}").wait_for()
    link = page.get_by_role("link", name=re.compile("Open in HubSpot"))
    assert link.get_attribute("href", timeout=ui.APP_TIMEOUT_MS).endswith(
        f"/record/0-1/{contact_id}"
    )
    page.get_by_text("All HubSpot properties").wait_for()
    ui.assert_no_exception(page)

    # Insights: the charts are drawn.
    ui.open_page(page, app_server, "insights")
    page.locator(".js-plotly-plot").nth(3).wait_for()
    assert page.locator(".js-plotly-plot").count() >= 4
    ui.assert_no_exception(page)
    ui.screenshot(page, "insights")


def test_exported_csv_equals_the_cli_file_for_the_same_filter(
    page: Any, app_server: Any, ui: Any, tmp_path: Path
) -> None:
    ui.ensure_synced(page, app_server)
    ui.open_page(page, app_server, "contacts", "segment=chainge")
    with page.expect_download() as download_info:
        page.locator(".st-key-c_export button").click()
    exported = Path(download_info.value.path()).read_bytes()
    out = tmp_path / "cli.csv"
    done = app_server.cli("contacts", "--format", "csv", "--segment", "chainge", "-o", str(out))
    assert done.returncode == 0, done.stderr
    assert out.read_bytes() == exported
    ui.assert_no_exception(page)


def test_a_bookmarked_filter_url_opens_the_same_view(page: Any, app_server: Any, ui: Any) -> None:
    ui.ensure_synced(page, app_server)
    ui.open_page(page, app_server, "contacts", "segment=chainge&stage=lead&has_email=yes")
    ui.assert_no_exception(page)
    flt = ContactFilter(segments=("chainge",), lifecycle_stages=("lead",), has_email=True)
    db = app_server.database()
    try:
        total = explorer.count_contacts(db, flt)
    finally:
        db.dispose()
    page.get_by_text(re.compile(rf"^{total:,} contacts · ")).wait_for()
    # The widgets show the URL's filter (chips titled "option · count").
    page.locator('.st-key-c_segments span[title^="chainge · "]').first.wait_for()
    page.locator('.st-key-c_stages span[title^="Lead · "]').first.wait_for()  # its label
    assert page.locator(".st-key-c_email input[type=radio]").nth(1).is_checked()
    ui.assert_no_exception(page)


def test_a_custom_stage_reads_as_its_label_and_exports_as_value_or_label(
    page: Any, app_server: Any, ui: Any
) -> None:
    """Issue 13's acceptance on the demo portal, whose custom lifecycle stage "1088421376" is
    labelled "Former customer": the explorer's cells and facet and the Insights funnel show
    the label; the CSV holds the value by default and the label when asked."""
    ui.ensure_synced(page, app_server)
    flt = ContactFilter(lifecycle_stages=(CUSTOM_STAGE,))
    db = app_server.database()
    try:
        total = explorer.count_contacts(db, flt)
    finally:
        db.dispose()
    assert total > 0

    ui.open_page(page, app_server, "contacts", f"stage={CUSTOM_STAGE}")
    page.get_by_text(re.compile(rf"^{total:,} contacts · ")).wait_for()
    # The facet chip shows the label and count; the URL keeps the value.
    page.locator(f'.st-key-c_stages span[title="{CUSTOM_LABEL} · {total:,}"]').wait_for()
    assert query_of(page) == {"stage": [CUSTOM_STAGE]}
    # The table's cells (the grid's accessible cells) read the label, never the value.
    grid = page.locator('[data-testid="stDataFrame"]').first
    # The grid draws on a canvas; its accessible cells exist for the columns in view, so
    # scroll the lifecycle stage column into view first.
    grid.hover()
    page.mouse.wheel(600, 0)
    stage_cells = grid.locator('td[role="gridcell"][aria-colindex="8"]')
    stage_cells.first.wait_for(state="attached")
    shown = {stage_cells.nth(i).inner_text() for i in range(stage_cells.count())}
    assert shown == {CUSTOM_LABEL}, shown
    ui.assert_no_exception(page)

    def exported_stages() -> set[str]:
        with page.expect_download() as download_info:
            page.locator(".st-key-c_export button").click()
        text = Path(download_info.value.path()).read_text(encoding="utf-8")
        rows = list(csv.DictReader(io.StringIO(text)))
        assert len(rows) == total
        return {row["lifecyclestage"] for row in rows}

    assert exported_stages() == {CUSTOM_STAGE}  # internal values by default (round-trips)
    page.get_by_text("Export options").click()
    page.locator(".st-key-c_export_values").get_by_text("labels (for reading)").click()
    ui.wait_for_app_idle(page)
    assert exported_stages() == {CUSTOM_LABEL}

    ui.open_page(page, app_server, "insights")
    page.locator(".js-plotly-plot").filter(has_text=CUSTOM_LABEL).first.wait_for()
    assert page.locator(".js-plotly-plot").filter(has_text=CUSTOM_STAGE).count() == 0
    ui.assert_no_exception(page)
