"""`POST /api/integrations/hubspot/webhooks`: HubSpot's webhook deliveries.

Authenticated by HubSpot's v3 signature (not the API's bearer token): the raw body is read
before any parsing, checked against `HUBSPOT_CLIENT_SECRET` over the public URL configured in
HubSpot (`HUBSYNC_WEBHOOK_PUBLIC_URL`), and the events are committed to the inbox before
the 200 goes out. Refused → 401 and nothing stored; not events → 400; inbox unwritable →
503, so HubSpot retries. The app's background worker applies the events within seconds.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel

from hubsync_core.api.context import PREFIX, get_service
from hubsync_core.api.errors import ApiError, ErrorBody
from hubsync_core.webhooks.events import BadEvents
from hubsync_core.webhooks.receiver import InboxUnavailable, WebhookRefused

router = APIRouter(prefix=PREFIX, tags=["webhooks"])


class WebhookReceipt(BaseModel):
    """Events newly stored, and duplicates of events already stored (by eventId)."""

    stored: int
    duplicates: int


@router.post(
    "/webhooks",
    response_model=WebhookReceipt,
    summary="Receive HubSpot webhook events (signature v3)",
    responses={
        400: {"model": ErrorBody, "description": "Not a list of HubSpot events"},
        401: {"model": ErrorBody, "description": "Bad, missing or stale signature"},
        503: {"model": ErrorBody, "description": "Events not stored; HubSpot retries"},
    },
)
async def receive_webhooks(request: Request) -> WebhookReceipt:
    """Verify the delivery's signature, store its events durably, then acknowledge."""
    body = await request.body()
    receiver = get_service(request).webhook_receiver()
    try:
        receipt = await run_in_threadpool(
            receiver.receive, request.method, request.url.query, body, dict(request.headers)
        )
    except WebhookRefused as exc:
        raise ApiError(
            401,
            f"Webhook refused: {exc}",
            "Check HUBSPOT_CLIENT_SECRET and that HUBSYNC_WEBHOOK_PUBLIC_URL is the target URL "
            "configured in HubSpot, exactly.",
        ) from None
    except BadEvents as exc:
        raise ApiError(400, f"Not a HubSpot webhook delivery: {exc}") from None
    except InboxUnavailable as exc:
        raise ApiError(503, str(exc), "HubSpot retries the delivery.") from None
    return WebhookReceipt(stored=receipt.stored, duplicates=receipt.duplicates)
