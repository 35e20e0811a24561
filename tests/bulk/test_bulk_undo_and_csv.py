"""Undo restores previous values except where HubSpot changed since (reported); a CSV update
reports every row before anything is sent."""

from __future__ import annotations

import sqlalchemy as sa

from hubsync_core.bulk.selection import Selection
from hubsync_core.bulk.undo import CHANGED_SINCE
from hubsync_core.store.models import Contact

CONTACTS = Contact.__table__  # type: ignore[attr-defined]


def _run(service, preview, confirmation=None):
    assert not preview.refused, preview.refusals
    op_id = service.save_bulk(
        preview, actor="user:ops@example.com", confirmation=confirmation or preview.confirmation
    )
    return service.run_bulk(op_id)


def _stage(portal, cid):
    return portal.portal.contact(cid)["properties"]["lifecyclestage"]


def test_undo_restores_every_contact_not_changed_since_and_reports_the_others(portal, service):
    ids = tuple(portal.portal.live_ids()[:150])
    before = {cid: _stage(portal, cid) for cid in ids}
    done = _run(
        service, service.preview_bulk_set(Selection(ids=ids), {"lifecyclestage": "evangelist"})
    )
    written = [i.hubspot_id for i in service.bulk_items(done.id, ["written"])]
    assert written and all(_stage(portal, cid) == "evangelist" for cid in written)
    changed = written[:4]
    for cid in changed:  # someone edits these in HubSpot after the bulk update
        portal.portal.update_contact(cid, {"lifecyclestage": "other"})

    undo = service.preview_bulk_undo(done.id)
    assert undo.undo_of == done.id
    reasons = dict(undo.skipped)
    assert all(reasons[cid].startswith(CHANGED_SINCE) for cid in changed)
    assert any("changed in HubSpot since" in w for w in undo.warnings)
    # Moving a stage back needs it cleared first: those contacts get a clear call too.
    assert any(item.needs_clear for item in undo.items)
    portal.writes.clear()
    result = _run(service, undo)

    assert result.status == "succeeded" and result.undo_of == done.id
    for cid in written:
        assert _stage(portal, cid) == ("other" if cid in changed else before[cid])
    with service.db.connect() as conn:
        stored = dict(
            conn.execute(
                sa.select(CONTACTS.c.hubspot_id, CONTACTS.c.lifecyclestage).where(
                    CONTACTS.c.hubspot_id.in_(written)
                )
            ).all()
        )
    # The database holds what HubSpot answered for every restored contact (the ones changed
    # in HubSpot meanwhile arrive with the next sync).
    restored = [cid for cid in written if cid not in changed]
    assert {cid: stored[cid] for cid in restored} == {cid: before[cid] for cid in restored}


def test_archive_cannot_be_undone_and_says_where_to_restore(portal, service):
    ids = tuple(portal.portal.live_ids()[:2])
    done = _run(service, service.preview_bulk_archive(Selection(ids=ids)), "ARCHIVE")
    undo = service.preview_bulk_undo(done.id)
    assert undo.refused and "90 days" in undo.refusals[0] and "own UI" in undo.refusals[0]


def test_undo_of_a_list_add_removes_what_it_added(portal, service):
    ids = tuple(portal.portal.live_ids()[:30])
    done = _run(service, service.preview_bulk_list(Selection(ids=ids), "57", add=True))
    assert set(ids) <= set(portal.portal.list_member_ids("57"))
    _run(service, service.preview_bulk_undo(done.id))
    assert not set(ids) & set(portal.portal.list_member_ids("57"))


def test_csv_reports_each_row_before_sending_and_writes_the_matched_ones(portal, service):
    live = portal.portal.live_ids()[:3]
    emails = [portal.portal.contact(cid)["properties"]["email"] for cid in live]
    text = "\n".join(
        [
            "email,jobtitle,lifecyclestage",
            f"{emails[0]},Head of Data,Customer",
            f"{emails[1].upper()},Chief Wizard,",
            "nobody@nowhere.invalid,CEO,lead",
            f"{emails[0]},Duplicate,lead",
            f"{emails[2]},Intern,champion",
        ]
    )
    portal.writes.clear()
    preview = service.preview_bulk_csv(text, key="email", name="fix.csv")
    report = {r.line: (r.outcome, r.detail) for r in preview.rows}
    assert report[2][0] == "matched" and report[3][0] == "matched"
    assert report[4] == ("refused", "unknown email")
    assert report[5][0] == "refused" and "duplicate row" in report[5][1]
    assert (
        report[6][0] == "refused" and "invalid value" in report[6][1] and "champion" in report[6][1]
    )
    assert portal.writes.items() == []

    result = _run(service, preview)
    assert result.written == 2, (preview.skipped, preview.rows)
    first = portal.portal.contact(live[0])["properties"]
    assert first["jobtitle"] == "Head of Data" and first["lifecyclestage"] in ("customer",)
    # An empty cell leaves the property alone.
    assert portal.portal.contact(live[1])["properties"]["jobtitle"] == "Chief Wizard"
    assert portal.portal.contact(live[2])["properties"]["jobtitle"] != "Intern"
