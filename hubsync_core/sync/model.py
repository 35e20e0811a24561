"""What a sync is asked to do, what it reports while running, and what it returns."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from hubsync_core.clock import iso_z, utcnow
from hubsync_core.run_status import RunStatus

if TYPE_CHECKING:
    from hubsync_core.store.models import SyncRun

SyncMode = Literal["auto", "full", "incremental"]
MODES: tuple[str, ...] = ("auto", "full", "incremental")


@dataclass(frozen=True)
class SyncOptions:
    """Options of one sync run.

    `mode="auto"` runs incrementally once a full sync has completed, fully otherwise, and
    always resumes an unfinished run first. `chainge_only` syncs just the CHAINge contacts.
    """

    mode: SyncMode = "auto"
    batch_size: int = 100
    max_contacts: int | None = None
    chainge_only: bool = False
    #: Re-read every live id to find contacts that vanished without being archived.
    sweep: bool = False
    owner: str = "sdk"

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, got {self.mode!r}")
        if not 1 <= self.batch_size <= 100:
            raise ValueError(
                f"batch_size must be between 1 and 100 (HubSpot's page limit), got {self.batch_size}"
            )
        if self.max_contacts is not None and self.max_contacts < 1:
            raise ValueError(f"max_contacts must be at least 1, got {self.max_contacts}")


@dataclass(frozen=True)
class SyncProgress:
    """A snapshot of a running (or just finished) sync, safe to hand to any thread."""

    run_id: int
    mode: str
    status: str
    phase: str
    started_at: datetime
    pages: int = 0
    contacts: int = 0
    api_calls: int = 0
    retries: int = 0
    rate_limited: int = 0
    errors: int = 0
    rejected: int = 0
    expected_total: int | None = None
    elapsed_seconds: float = 0.0
    rate_limit_remaining: int | None = None
    rate_limit_max: int | None = None
    message: str = ""
    #: The portal's daily API budget as the last response told it.
    daily_limit: int | None = None
    daily_remaining: int | None = None
    #: Work running at the same time as `phase` (e.g. ("lists",) while contacts are read).
    alongside: tuple[str, ...] = ()

    @property
    def phase_label(self) -> str:
        """The phase with what runs alongside it, for people: "contacts (+ lists)"."""
        if not self.alongside:
            return self.phase
        return f"{self.phase} (+ {', '.join(self.alongside)})"

    @classmethod
    def from_run(cls, run: SyncRun, now: datetime) -> SyncProgress:
        """The progress a `sync_runs` row records (a sync running in another process)."""
        end = run.finished_at or now
        return cls(
            run_id=run.id or 0,
            mode=run.mode,
            status=run.status,
            phase=str((run.checkpoint or {}).get("phase", "")),
            alongside=tuple(str(n) for n in (run.checkpoint or {}).get("alongside") or ()),
            started_at=run.started_at,
            **run.counters(),  # type: ignore[arg-type]
            elapsed_seconds=max((end - run.started_at).total_seconds(), 0.0),
            message=run.error_message or "",
        )

    @property
    def contacts_per_second(self) -> float:
        return self.contacts / self.elapsed_seconds if self.elapsed_seconds > 0 else 0.0

    @property
    def eta_seconds(self) -> float | None:
        """Seconds left at the current rate, when the total is known."""
        if not self.expected_total or self.contacts <= 0 or self.status != RunStatus.RUNNING:
            return None
        left = max(self.expected_total - self.contacts, 0)
        rate = self.contacts_per_second
        return left / rate if rate > 0 else None

    @property
    def fraction(self) -> float | None:
        if not self.expected_total:
            return None
        return min(self.contacts / self.expected_total, 1.0)


@dataclass
class SyncStats:
    """The result of a sync: the original spec's statistics plus what happened."""

    total_synced: int = 0
    total_pages: int = 0
    by_segment: dict[str, int] = field(default_factory=dict)
    errors: int = 0
    duration_seconds: float = 0.0
    timestamp: datetime = field(default_factory=utcnow)
    run_id: int | None = None
    mode: str = "full"
    status: str = RunStatus.SUCCEEDED
    api_calls: int = 0
    retries: int = 0
    rate_limited: int = 0
    rejected: int = 0
    archived: int = 0
    message: str = ""
    hint: str = ""
    correlation_id: str | None = None
    warnings: list[str] = field(default_factory=list)
    #: The portal's daily API budget after the run (None where HubSpot did not say).
    daily_limit: int | None = None
    daily_remaining: int | None = None
    #: Work running at the same time as `phase` (e.g. ("lists",) while contacts are read).
    alongside: tuple[str, ...] = ()

    @classmethod
    def from_run(cls, run: SyncRun) -> SyncStats:
        """A stored run as the `SyncStats` it returned."""
        return cls(
            total_synced=run.contacts,
            total_pages=run.pages,
            by_segment=dict(run.by_segment or {}),
            errors=run.errors,
            duration_seconds=run.duration_seconds or 0.0,
            timestamp=run.started_at,
            run_id=run.id,
            mode=run.mode,
            status=run.status,
            api_calls=run.api_calls,
            retries=run.retries,
            rate_limited=run.rate_limited,
            rejected=run.rejected,
            message=run.error_message or "",
            hint=run.error_hint or "",
            correlation_id=run.correlation_id,
        )

    @property
    def ok(self) -> bool:
        return self.status == RunStatus.SUCCEEDED

    def raise_for_status(self) -> SyncStats:
        """Raise `SyncFailed` unless the run succeeded (like `requests.Response.raise_for_status`)."""
        if not self.ok:
            raise SyncFailed(self)
        return self

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["timestamp"] = iso_z(self.timestamp)
        data["duration_seconds"] = round(self.duration_seconds, 3)
        return data

    dict = to_dict  # the original spec's SDK calls `stats.dict()`


class SyncFailed(Exception):
    """A sync ended without succeeding; `stats` says how far it got and why."""

    def __init__(self, stats: SyncStats) -> None:
        self.stats = stats
        text = f"Sync {stats.status}: {stats.message}" if stats.message else f"Sync {stats.status}"
        super().__init__(text)
