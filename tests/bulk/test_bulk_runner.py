"""The runner's stops: Cancel between batches and a token HubSpot rejects mid-run both leave
a resumable operation; resuming sends only what was not done."""

from __future__ import annotations

import threading

from hubsync_core.bulk import audit
from hubsync_core.bulk.selection import Selection
from hubsync_core.hubspot import endpoints


def _saved(service, ids, value):
    preview = service.preview_bulk_set(Selection(ids=tuple(ids)), {"jobtitle": value})
    return service.save_bulk(preview, actor="os:test")


def test_cancel_stops_between_batches_and_resume_finishes_the_rest(portal, service, monkeypatch):
    ids = portal.portal.live_ids()[:250]
    op_id = _saved(service, ids, "Cancelled later")
    cancel = threading.Event()
    send = service.client.batch_update

    def send_then_cancel(inputs):
        answer = send(inputs)
        cancel.set()  # Cancel pressed while the first batch was in flight
        return answer

    monkeypatch.setattr(service.client, "batch_update", send_then_cancel)
    stopped = service.run_bulk(op_id, cancel=cancel)
    assert stopped.status == "cancelled" and 0 < stopped.written < len(ids)
    assert [b["status"] for b in audit.batches(service.db, op_id)].count("done") == 1

    portal.writes.clear()
    done = service.run_bulk(op_id)
    assert done.status == "succeeded" and done.written == len(ids)
    assert len(portal.writes.items()) == 2  # only the two batches not sent before
    assert all(portal.portal.contact(i)["properties"]["jobtitle"] == "Cancelled later" for i in ids)


def test_a_rejected_token_stops_the_run_unapplied_and_resume_sends_that_batch(portal, service):
    ids = portal.portal.live_ids()[:150]
    op_id = _saved(service, ids, "After the token")
    portal.fail_next("401", path=endpoints.DEFAULT.contacts_batch("update"))
    stopped = service.run_bulk(op_id)
    assert stopped.status == "failed" and "rejected the access token" in (stopped.message or "")
    assert [b["status"] for b in audit.batches(service.db, op_id)] == ["pending", "pending"]

    done = service.run_bulk(op_id)
    assert done.status == "succeeded" and done.written == len(ids)
