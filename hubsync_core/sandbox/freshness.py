"""The sandbox's change-event side, wired into the server with a few hook lines:

- every portal mutation becomes HubSpot webhook events (`webhooks.WebhookEmitter`), kept in
  the Webhooks Journal (`journal.Journal`) and delivered to `config.webhook_url`;
- the journal's API (`POST /oauth/v1/token`, `GET /webhooks-journal/journal/2026-03/...`,
  authorised by the client-credentials token, not the CRM token) and its data links;
- admin routes: `POST /_sandbox/webhooks` (target URL, duplicates, reordering),
  `POST /_sandbox/contacts/{id}/gdpr-delete`, `POST /_sandbox/activity` (edits a minute);
- "live activity": a few edits a minute on their own, so a demo shows updates arriving.
"""

from __future__ import annotations

import json
import random
import threading
from typing import Any

from .config import SandboxConfig
from .errors import ApiError
from .journal import DATA, EARLIEST, NEXT, TOKEN, Journal
from .portal import Portal
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
        self._activity_per_minute = 0
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
        self._activity_per_minute = max(0, int(per_minute))
        if self._activity_per_minute and (self._activity is None or not self._activity.is_alive()):
            self._activity = threading.Thread(
                target=self._activity_loop, name="sandbox-activity", daemon=True
            )
            self._activity.start()

    def _activity_loop(self) -> None:
        while self._activity_per_minute and not self._stop.wait(60 / self._activity_per_minute):
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

    def admin_route(self, method: str, path: str, body: dict[str, Any]) -> Any:
        """Admin paths under /_sandbox (None: not one of them)."""
        match = DATA.fullmatch(path)
        if method == "GET" and match:
            return self.journal.data(match["offset"])
        if method == "POST" and path == "/_sandbox/webhooks":
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
        if method == "GET" and path == "/_sandbox/webhooks":
            stats = self.emitter.stats
            return {**stats.__dict__, "journalEvents": len(self.journal)}
        if (
            method == "POST"
            and path.startswith("/_sandbox/contacts/")
            and path.endswith("/gdpr-delete")
        ):
            record_id = path.split("/")[3]
            self.portal.privacy_delete(record_id)
            return {"deleted": record_id}
        if method == "POST" and path == "/_sandbox/activity":
            self.set_activity(int(body.get("perMinute", 0)))
            return {"perMinute": self._activity_per_minute}
        return None


def dumps(obj: Any) -> bytes:
    return json.dumps(obj, ensure_ascii=False).encode("utf-8")
