"""The issue's acceptance at test scale: set a stage for a segment, add a segment to a static
list, archive ticked contacts; afterwards HubSpot (the sandbox) and the database agree with the
intent, in at most ceil(n/100) + 5 write calls per operation."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from hubsync_core.bulk.selection import Selection
from hubsync_core.sandbox import Sandbox, SandboxConfig
from hubsync_core.service import HubSyncService
from hubsync_core.store.models import Contact, ListMembership

from .helpers import synced_service

CONTACTS = Contact.__table__  # type: ignore[attr-defined]
MEMBERS = ListMembership.__table__  # type: ignore[attr-defined]
STATIC_LIST = "57"  # "Trade show leads (empty)", a MANUAL list in the sandbox


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Sandbox, HubSyncService]]:
    config = SandboxConfig(contacts=2000, seed=11, rate_limit=0, search_rate_limit=0)
    with Sandbox(config) as sandbox:
        path: Path = tmp_path_factory.mktemp("bulk") / "acceptance.db"
        with synced_service(sandbox, path) as service:
            yield sandbox, service


def _run(sandbox: Sandbox, service: HubSyncService, preview, confirmation=None) -> tuple[int, int]:
    """Save and run a preview; (operation id, write requests the sandbox received)."""
    assert not preview.refused, preview.refusals
    sandbox.writes.clear()
    op_id = service.save_bulk(
        preview, actor="os:test", confirmation=confirmation or preview.confirmation
    )
    result = service.run_bulk(op_id)
    assert result.status == "succeeded", result
    assert result.written == len(preview.items)
    return op_id, len(sandbox.writes.items())


def _stored(service: HubSyncService, ids: list[str], column: str) -> dict[str, object]:
    with service.db.connect() as conn:
        rows = conn.execute(
            sa.select(CONTACTS.c.hubspot_id, CONTACTS.c[column]).where(
                CONTACTS.c.hubspot_id.in_(ids)
            )
        ).all()
    return dict(rows)


def test_set_stage_for_the_cold_segment_reaches_hubspot_and_the_database(rig) -> None:
    sandbox, service = rig
    preview = service.preview_bulk_set(
        Selection(query="segment=cold"), {"lifecyclestage": "Former customer"}
    )
    ids = [item.hubspot_id for item in preview.items]
    assert len(ids) > 300, "the cold segment should be a real share of the portal"
    assert preview.sample and preview.sample[0].after == "lifecyclestage: Former customer"

    _op, calls = _run(sandbox, service, preview)

    assert calls <= math.ceil(len(ids) / 100) + 5
    for cid in ids:
        assert sandbox.portal.contact(cid)["properties"]["lifecyclestage"] == "1088421376"
    assert set(_stored(service, ids, "lifecyclestage").values()) == {"1088421376"}


def test_add_the_chainge_segment_to_a_static_list(rig) -> None:
    sandbox, service = rig
    preview = service.preview_bulk_list(Selection(query="segment=chainge"), STATIC_LIST, add=True)
    ids = [item.hubspot_id for item in preview.items]
    assert ids

    _op, calls = _run(sandbox, service, preview)

    assert calls <= math.ceil(len(ids) / 100) + 5
    assert set(ids) <= set(sandbox.portal.list_member_ids(STATIC_LIST))
    with service.db.connect() as conn:
        stored = set(
            conn.execute(
                sa.select(MEMBERS.c.hubspot_id).where(MEMBERS.c.list_id == STATIC_LIST)
            ).scalars()
        )
    assert set(ids) <= stored
    # Asking again finds them all members already: nothing to send.
    again = service.preview_bulk_list(Selection(query="segment=chainge"), STATIC_LIST, add=True)
    assert not again.items and again.skipped_counts() == {"already in the list": len(ids)}


def test_archive_25_ticked_contacts_needs_the_word_and_archives_them(rig) -> None:
    sandbox, service = rig
    ticked = tuple(sandbox.portal.live_ids()[100:125])
    preview = service.preview_bulk_archive(Selection(ids=ticked))
    assert preview.confirmation == "ARCHIVE"
    assert any("90 days" in notice for notice in preview.notices)
    with pytest.raises(ValueError, match="ARCHIVE"):
        service.save_bulk(preview, actor="os:test", confirmation="yes")

    _op, calls = _run(sandbox, service, preview, confirmation="ARCHIVE")

    assert calls <= 1 + 5
    assert all(sandbox.portal.contact(cid)["archived"] for cid in ticked)
    assert set(_stored(service, list(ticked), "archived").values()) == {True}
