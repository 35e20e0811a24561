"""The suite's table: one `Row` per scenario and backend, formatted as the README shows it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Row:
    """One line of the table (and of the JSON)."""

    scenario: str
    backend: str
    contacts: int
    seconds: float | None = None
    contacts_per_s: float | None = None
    api_calls: int | None = None
    rate_limited: int | None = None
    cpu_s_per_10k: float | None = None
    peak_rss_mb: float | None = None
    query_p50_ms: float | None = None
    query_p95_ms: float | None = None
    note: str = ""
    runs: list[dict[str, Any]] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)


def brief(run: dict[str, Any]) -> dict[str, Any]:
    """The facts of one run worth keeping in the JSON."""
    keys = (
        "status",
        "mode",
        "total_synced",
        "total_pages",
        "duration_seconds",
        "contacts_phase_seconds",
        "wall_seconds",
        "cpu_seconds",
        "peak_rss_mb",
        "api_calls",
        "rate_limited",
        "retries",
        "sandbox_requests",
        "rounds",
        "checked",
        "sandbox_search_requests",
        "sandbox_429",
        "contacts_per_s",
        "phase_contacts_per_s",
    )
    return {k: run[k] for k in keys if k in run}


def _fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


HEADER = (
    f"{'scenario':34} {'backend':10} {'contacts':>9} {'contacts/s':>10} {'API calls':>9} "
    f"{'429s':>5} {'CPU s/10k':>9} {'peak RSS MB':>11} {'query p50/p95 ms':>16}  note"
)


def format_row(row: Row) -> str:
    query = (
        "-"
        if row.query_p50_ms is None
        else f"{row.query_p50_ms:.0f}/{_fmt(row.query_p95_ms, '.0f')}"
    )
    return (
        f"{row.scenario:34} {row.backend:10} {row.contacts:>9,} "
        f"{_fmt(row.contacts_per_s, ',.0f'):>10} {_fmt(row.api_calls, ',d'):>9} "
        f"{_fmt(row.rate_limited, 'd'):>5} {_fmt(row.cpu_s_per_10k, '.2f'):>9} "
        f"{_fmt(row.peak_rss_mb, '.0f'):>11} {query:>16}  {row.note}"
    )


def table(rows: list[Row]) -> str:
    return "\n".join([HEADER, "-" * len(HEADER), *(format_row(r) for r in rows)])


def phase_note(row: Row) -> str:
    """The contacts phase's own rate (the run also reads archived contacts and lists)."""
    return f"contacts phase {row.extra.get('phase_contacts_per_s') or 0:,.0f}/s"


def short_count(count: int) -> str:
    return f"{count // 1_000_000}M" if count >= 1_000_000 else f"{count // 1000}k"
