"""The sandbox's change-event side, wired into the server with a few hook lines:

- every portal mutation becomes HubSpot webhook events (`webhooks.WebhookEmitter`), kept in
  the Webhooks Journal (`journal.Journal`) and delivered to `config.webhook_url`;
- the journal's API (`POST /oauth/v1/token`, `GET /webhooks-journal/journal/2026-03/...`,
  authorised by the client-credentials token, not the CRM token) and its data links;
- admin routes (`ADMIN_ROUTES`): `POST /_sandbox/webhooks` (target URL, duplicates,
  reordering), `GET /_sandbox/webhooks` (delivery counts), `POST /_sandbox/contacts/{id}/
  gdpr-delete`, `POST /_sandbox/activity` (edits a minute), the journal's data links;
- "live activity": a few edits a minute on their own, so a demo shows updates arriving.
"""

from __future__ import annotations

import random
import threading
from typing import Any

from .config import SandboxConfig
from .errors import ApiError
from .journal import EARLIEST, NEXT, TOKEN, Journal
from .portal import Portal
from .routing import AdminRequest, AdminRoute, admin_route
from .webhooks import DeliveryOptions, WebhookEmitter

_STAGES = ("lead", "marketingqualifiedlead", "salesqualifiedlead", "opportunity", "customer")
_TITLES = ("CTO", "Head of Sales", "Engineer", "Founder", "Buyer", "Analyst")


class SandboxFreshness:
    """Events, journal, deliveries and live activity of one sandbox."""

    def __init__(self, config: SandboxConfig, portal: Portal) -> None:
        self.portal = portal
        self.journal = Journal(config.client_id, config.client_secret)
        self.emitter = WebhookEmitter(
            config.portal_id,
            config.client_secret,
            DeliveryOptions(url=config.webhook_url, seed=config.seed),
            journal=self.journal.append,
        )
        portal.listeners.append(self.emitter.on_change)
        self.activity_per_minute = 0
        self._stop = threading.Event()
        self._activity: threading.Thread | None = None
        self._rng = random.Random(config.seed)

    def start(self) -> None:
        self.emitter.start()

    def stop(self) -> None:
        self._stop.set()
        if self._activity is not None:
            self._activity.join(timeout=2)
        self.emitter.stop()

    # ---- live activity ------------------------------------------------------------------------
    def set_activity(self, per_minute: int) -> None:
        """Make `per_minute` edits a minute on random live contacts (0 stops)."""
        self.activity_per_minute = max(0, int(per_minute))
        if self.activity_per_minute and (self._activity is None or not self._activity.is_alive()):
            self._activity = threading.Thread(
                target=self._activity_loop, name="sandbox-activity", daemon=True
            )
            self._activity.start()

    def _activity_loop(self) -> None:
        while self.activity_per_minute and not self._stop.wait(60 / self.activity_per_minute):
            try:
                self.edit_once()
            except (KeyError, ValueError):
                continue  # the contact picked went away meanwhile

    def edit_once(self) -> str | None:
        """One plausible edit (a job title or a stage moving on, now and then a new
        contact); returns the id changed."""
        ids = self.portal.live_ids()
        if not ids or self._rng.random() < 0.1:
            n = self._rng.randrange(10**6)
            return self.portal.create_contact(
                {"email": f"live{n}@example.com", "firstname": "Live", "lastname": f"Lead {n}"}
            )
        target = self._rng.choice(ids)
        if self._rng.random() < 0.5:
            change = {"jobtitle": self._rng.choice(_TITLES)}
        else:
            change = {"lifecyclestage": self._rng.choice(_STAGES)}
        self.portal.update_contact(target, change)
        return target

    # ---- routes -------------------------------------------------------------------------------
    def api_route(
        self, method: str, path: str, raw: bytes, authorization: str | None, base_url: str
    ) -> tuple[int, Any] | None:
        """Answer the journal and token paths (None: not one of them)."""
        if method == "POST" and path == TOKEN:
            return 200, self.journal.issue_token(raw)
        if method == "GET" and (EARLIEST.fullmatch(path) or NEXT.fullmatch(path)):
            if not self.journal.authorised(authorization):
                raise ApiError(
                    401,
                    "The journal needs a client-credentials token of the app "
                    "(scope webhooks-journal-data-access).",
                    "INVALID_AUTHENTICATION",
                )
            return self.journal.answer(path, base_url)
        return None

    def configure_webhooks(self, body: dict[str, Any]) -> dict[str, Any]:
        """Set the delivery target and behaviour; returns the settings now in force."""
        options = self.emitter.options
        if "url" in body:
            options.url = body["url"] or None
        options.duplicate_rate = float(body.get("duplicateRate", options.duplicate_rate))
        options.reorder = bool(body.get("reorder", options.reorder))
        options.retry_base = float(body.get("retryBaseSeconds", options.retry_base))
        return {
            "url": options.url,
            "duplicateRate": options.duplicate_rate,
            "reorder": options.reorder,
            "retryBaseSeconds": options.retry_base,
        }


# ---- admin routes (/_sandbox/...) -------------------------------------------------------------
def _journal_data(req: AdminRequest) -> Any:
    return req.sandbox.freshness.journal.data(req.id)


def _configure(req: AdminRequest) -> Any:
    return req.sandbox.freshness.configure_webhooks(req.body)


def _delivery_stats(req: AdminRequest) -> Any:
    freshness = req.sandbox.freshness
    return {**freshness.emitter.stats.__dict__, "journalEvents": len(freshness.journal)}


def _gdpr_delete(req: AdminRequest) -> Any:
    req.sandbox.portal.privacy_delete(req.id)
    return {"deleted": req.id}


def _activity(req: AdminRequest) -> Any:
    freshness = req.sandbox.freshness
    freshness.set_activity(int(req.body.get("perMinute", 0)))
    return {"perMinute": freshness.activity_per_minute}


ADMIN_ROUTES: tuple[AdminRoute, ...] = (
    admin_route("GET", "journal-data/{id}", _journal_data),
    admin_route("POST", "webhooks", _configure),
    admin_route("GET", "webhooks", _delivery_stats),
    admin_route("POST", "contacts/{id}/gdpr-delete", _gdpr_delete),
    admin_route("POST", "activity", _activity),
)
