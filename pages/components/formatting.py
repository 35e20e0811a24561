"""How the dashboard shows numbers, times, statuses and literal text (presentation only:
every value comes from `hubsync_core`)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from hubsync_core.clock import naive_utc, utcnow
from hubsync_core.hubspot.models import RateLimitStatus
from hubsync_core.run_status import RunStatus
from hubsync_core.sync.model import SyncProgress

STATUS_LABELS = {
    RunStatus.RUNNING: "🔄 running",
    RunStatus.SUCCEEDED: "✅ succeeded",
    RunStatus.PARTIAL: "⚠️ partial",
    RunStatus.FAILED: "❌ failed",
    RunStatus.CANCELLED: "⏹️ cancelled",
    RunStatus.INTERRUPTED: "⚡ interrupted",
}

_MARKUP = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:=])")


def plain(text: str) -> str:
    """`text` shown literally where Streamlit renders Markdown (alerts, captions, headings)."""
    return _MARKUP.sub(r"\\\1", text)


def status_label(status: str) -> str:
    """A run status with its icon: `✅ succeeded`."""
    return STATUS_LABELS.get(status, status)


def when(value: datetime | None, now: datetime | None = None) -> str:
    """`2026-11-28 06:14 UTC (5 min ago)`; stored times are naive UTC."""
    if value is None:
        return "—"
    value = naive_utc(value)
    now = naive_utc(now) if now else utcnow()
    return f"{value:%Y-%m-%d %H:%M} UTC ({ago((now - value).total_seconds())})"


def ago(seconds: float) -> str:
    """`just now`, `5 min ago`, `3 h ago`, `2 days ago`."""
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{int(seconds // 60)} min ago"
    if seconds < 86400:
        return f"{int(seconds // 3600)} h ago"
    return f"{int(seconds // 86400)} days ago"


def duration(seconds: float | None) -> str:
    """`4.2 s`, `3 min 05 s`, `1 h 02 min`."""
    if seconds is None:
        return "—"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def number(value: int | None) -> str:
    """`1,234`, or `—` when unknown."""
    return "—" if value is None else f"{value:,}"


def size(num_bytes: int | None) -> str:
    """`512 bytes`, `1.5 MB`, or `unknown`."""
    if num_bytes is None:
        return "unknown"
    value = float(num_bytes)
    for unit in ("bytes", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:,.0f} {unit}" if unit == "bytes" else f"{value:,.1f} {unit}"
        value /= 1024
    return f"{num_bytes} bytes"  # pragma: no cover


def headroom(progress: SyncProgress) -> str:
    """`87 / 100` requests left in HubSpot's current window, when the headers said."""
    return _headroom(progress.rate_limit_remaining, progress.rate_limit_max)


def headroom_of(limit: RateLimitStatus) -> str:
    """The same for the headers a connection test saw."""
    return _headroom(limit.remaining, limit.max)


def _headroom(remaining: int | None, maximum: int | None) -> str:
    if remaining is None:
        return "—"
    return f"{remaining} / {maximum}" if maximum else str(remaining)


def rate_limit_text(limit: RateLimitStatus) -> str | None:
    """`97 of 100 requests left per 10 s; 249,000 of 250,000 today`, when HubSpot said."""
    if limit.remaining is None:
        return None
    seconds = (limit.interval_ms or 10_000) / 1000
    text = f"{limit.remaining} of {limit.max} requests left per {seconds:g} s"
    if limit.daily_remaining is not None and limit.daily is not None:
        text += f"; {limit.daily_remaining:,} of {limit.daily:,} today"
    return text


def setting_rows(described: list[tuple[str, str, str]]) -> list[dict[str, Any]]:
    """Settings table rows from `Settings.describe()` (token masked, URL without password)."""
    return [{"setting": name, "value": value, "from": source} for name, value, source in described]


#: The Settings page's "How to connect" text (the README's "Connect your HubSpot portal").
CONNECT_HELP = """
1. In HubSpot (as a super admin), open your account's settings and create a **service key**
   under the integrations settings (new private apps can no longer be created since
   October 2026; existing private-app tokens keep working).
2. Scopes: `crm.objects.contacts.read` and `crm.lists.read` to sync. Add
   `crm.objects.contacts.write` and `crm.lists.write` only for bulk operations.
3. Put the key in `.env` as `HUBSPOT_ACCESS_TOKEN=...` and restart the dashboard.
4. **Test connection** below shows the scopes granted and the daily API budget left.
"""


def scope_rows(rows: list[tuple[str, str, bool | None]]) -> list[dict[str, Any]]:
    """The scopes table: granted (✅), missing (❌) or unknown (—), and what each is for."""
    mark = {True: "✅ granted", False: "❌ missing", None: "— unknown"}
    return [{"scope": name, "status": mark[granted], "for": why} for name, why, granted in rows]


def daily_budget(limit: int | None, remaining: int | None, used: int | None = None) -> str | None:
    """`249,000 of 250,000 API calls left today (this run used 42)`, when HubSpot said."""
    if limit is None or remaining is None:
        return None
    text = f"{remaining:,} of {limit:,} API calls left today"
    return f"{text} (this run used {used:,})" if used is not None else text
