"""Settings: read once from the environment, `.env` and `.streamlit/secrets.toml`.

Nothing else in the package reads environment variables: a `Settings` object is built
here, validated, and passed down. Precedence: process environment, then `.env`, then
`.streamlit/secrets.toml` (top-level keys), then the documented defaults.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from dotenv import dotenv_values

DEFAULT_BASE_URL = "https://api.hubapi.com"
#: HubSpot API versions HubSync speaks (see `hubspot.endpoints`); the first is the default.
HUBSPOT_API_VERSIONS: tuple[str, ...] = ("2026-03", "2026-09", "v3")


class SettingsError(ValueError):
    """A setting has a value HubSync cannot use. The message names the setting."""

    def __init__(self, name: str, problem: str) -> None:
        super().__init__(f"{name}: {problem}")
        self.name = name


class Secret:
    """A string that never shows itself in repr, str, logs or f-strings.

    Call `reveal()` at the single place the value is needed (the Authorization header).
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def masked(self) -> str:
        """At most the last 4 characters, the rest hidden: `••••1a2b`."""
        if len(self._value) < 12:
            return "••••"
        return "••••" + self._value[-4:]

    def __bool__(self) -> bool:
        return bool(self._value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __repr__(self) -> str:
        return f"Secret({self.masked()!r})"

    __str__ = __repr__

    def __reduce__(self) -> Any:  # never pickle the value into a cache or a file
        raise TypeError("Secret values cannot be pickled")


def _without_password(url: str) -> str:
    """A database URL safe to show: the password replaced by `***`."""
    scheme, sep, rest = url.partition("://")
    credentials, at, host = rest.rpartition("@")
    if not sep or not at or ":" not in credentials:
        return url
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}"


def default_data_dir() -> Path:
    """`$XDG_DATA_HOME/hubsync`, or `~/.local/share/hubsync`."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "hubsync"


@dataclass(frozen=True)
class Settings:
    """Every setting HubSync reads, validated. See `.env.example` for each one's meaning."""

    access_token: Secret | None = None
    base_url: str = DEFAULT_BASE_URL
    api_version: str = HUBSPOT_API_VERSIONS[0]
    data_dir: Path = field(default_factory=default_data_dir)
    database_url_setting: str | None = None
    chainge_list_id: str | None = None
    engaged_days: int = 30
    cold_days: int = 90
    properties: tuple[str, ...] = ()
    all_properties: bool = False
    max_retries: int = 5
    connect_timeout: float = 5.0
    read_timeout: float = 30.0
    incremental_overlap_minutes: int = 10
    incremental_lag_minutes: int = 1
    search_counts_toward_burst: bool = False
    parallel_fetches: int = 4
    demo_contacts: int = 3000
    demo_latency_ms: int = 120
    daily_budget_share: float = 0.5
    log_level: str = "INFO"
    #: Project/legacy app credentials: the secret signs webhooks (v3), id + secret fetch the
    #: client-credentials token of the Webhooks Journal.
    client_id: str | None = None
    client_secret: Secret | None = None
    #: The receiver's URL exactly as configured in HubSpot (HubSpot signs over it).
    webhook_public_url: str | None = None
    journal_poll_seconds: int = 60
    #: Edits a minute the demo portal makes by itself (0 = none), to show live updates.
    demo_live_activity: int = 3
    #: The demo portal's sync schedule until one is set (0 = off; real portals: off).
    demo_schedule_minutes: int = 5
    #: Bearer token the HTTP API (`hubsync api`) requires; None: a generated one in data_dir.
    api_token: Secret | None = None
    #: How late HubSpot's search index may show a change; the audit calls younger changes
    #: pending instead of drift, and the incremental window looks back at least this far.
    index_lag_seconds: int = 120
    #: Run a counting audit after every incremental sync.
    audit_after_sync: bool = True
    #: "HH:MM" (UTC) for a nightly full audit, a job of the schedule; None = off.
    audit_nightly_at: str | None = None
    sources: Mapping[str, str] = field(default_factory=dict, compare=False)

    @property
    def demo(self) -> bool:
        """True when no token is configured: the app runs against the built-in sandbox."""
        return not self.access_token

    @property
    def database_url(self) -> str:
        if self.database_url_setting:
            return self.database_url_setting
        name = "demo.db" if self.demo else "hubsync.db"
        return f"sqlite:///{self.data_dir / name}"

    def describe(self) -> list[tuple[str, str, str]]:
        """(setting, value as shown, where it came from) for every setting, the token masked."""
        shown: list[tuple[str, str]] = [
            ("HUBSPOT_ACCESS_TOKEN", self.access_token.masked() if self.access_token else "(none)"),
            ("HUBSPOT_BASE_URL", self.base_url),
            ("HUBSPOT_API_VERSION", self.api_version),
            ("DATABASE_URL", _without_password(self.database_url)),
            ("HUBSYNC_DATA_DIR", str(self.data_dir)),
            ("CHAINGE_LIST_ID", self.chainge_list_id or "(none)"),
            ("HUBSYNC_ENGAGED_DAYS", str(self.engaged_days)),
            ("HUBSYNC_COLD_DAYS", str(self.cold_days)),
            (
                "HUBSYNC_PROPERTIES",
                "all" if self.all_properties else (", ".join(self.properties) or "(core only)"),
            ),
            ("HUBSYNC_MAX_RETRIES", str(self.max_retries)),
            ("HUBSYNC_CONNECT_TIMEOUT", f"{self.connect_timeout:g} s"),
            ("HUBSYNC_READ_TIMEOUT", f"{self.read_timeout:g} s"),
            ("HUBSYNC_INCREMENTAL_OVERLAP_MINUTES", str(self.incremental_overlap_minutes)),
            ("HUBSYNC_INCREMENTAL_LAG_MINUTES", str(self.incremental_lag_minutes)),
            ("HUBSYNC_SEARCH_COUNTS_TOWARD_BURST", str(self.search_counts_toward_burst).lower()),
            ("HUBSYNC_PARALLEL_FETCHES", str(self.parallel_fetches)),
            ("HUBSYNC_DEMO_CONTACTS", str(self.demo_contacts)),
            ("HUBSYNC_DEMO_LATENCY_MS", str(self.demo_latency_ms)),
            ("HUBSYNC_DAILY_BUDGET_SHARE", f"{self.daily_budget_share:g}"),
            ("HUBSYNC_LOG_LEVEL", self.log_level),
            ("HUBSPOT_CLIENT_ID", self.client_id or "(none)"),
            (
                "HUBSPOT_CLIENT_SECRET",
                self.client_secret.masked() if self.client_secret else "(none)",
            ),
            ("HUBSYNC_WEBHOOK_PUBLIC_URL", self.webhook_public_url or "(none)"),
            ("HUBSYNC_JOURNAL_POLL_SECONDS", str(self.journal_poll_seconds)),
            ("HUBSYNC_DEMO_LIVE_ACTIVITY", str(self.demo_live_activity)),
            ("HUBSYNC_DEMO_SCHEDULE_MINUTES", str(self.demo_schedule_minutes)),
            (
                "HUBSYNC_API_TOKEN",
                self.api_token.masked() if self.api_token else "(generated on first start)",
            ),
            ("HUBSYNC_INDEX_LAG_SECONDS", str(self.index_lag_seconds)),
            ("HUBSYNC_AUDIT_AFTER_SYNC", str(self.audit_after_sync).lower()),
            ("HUBSYNC_AUDIT_NIGHTLY_AT", self.audit_nightly_at or "off"),
        ]
        return [(name, value, self.sources.get(name, "default")) for name, value in shown]

    def with_overrides(self, **changes: Any) -> Settings:
        return replace(self, **changes)

    @classmethod
    def load(
        cls,
        environ: Mapping[str, str] | None = None,
        *,
        dotenv_path: str | Path | None = ".env",
        secrets_path: str | Path | None = ".streamlit/secrets.toml",
    ) -> Settings:
        """Read and validate settings. Raises `SettingsError` naming the first bad setting."""
        layers: list[tuple[str, Mapping[str, Any]]] = [
            ("environment", os.environ if environ is None else environ)
        ]
        if dotenv_path and Path(dotenv_path).is_file():
            values = {k: v for k, v in dotenv_values(dotenv_path).items() if v is not None}
            layers.append((".env", values))
        if secrets_path and Path(secrets_path).is_file():
            with open(secrets_path, "rb") as fh:
                try:
                    secrets = tomllib.load(fh)
                except tomllib.TOMLDecodeError as exc:
                    raise SettingsError(str(secrets_path), f"is not valid TOML ({exc})") from None
            flat = {k: str(v) for k, v in secrets.items() if not isinstance(v, dict)}
            layers.append(("secrets.toml", flat))
        return _parse(layers)


def _demo_schedule(minutes: int) -> int:
    if 0 < minutes < 5:
        raise SettingsError(
            "HUBSYNC_DEMO_SCHEDULE_MINUTES", f"must be 0 (off) or at least 5, got {minutes}"
        )
    return minutes


def _parse(layers: list[tuple[str, Mapping[str, Any]]]) -> Settings:
    sources: dict[str, str] = {}

    def get(*names: str) -> str | None:
        for source, values in layers:
            for name in names:
                raw = values.get(name)
                if raw is not None and str(raw).strip() != "":
                    sources[names[0]] = source
                    return str(raw).strip()
        return None

    def integer(name: str, default: int, minimum: int = 0, maximum: int | None = None) -> int:
        raw = get(name)
        if raw is None:
            return default
        try:
            value = int(raw)
        except ValueError:
            raise SettingsError(name, f"must be a whole number, got {raw!r}") from None
        if value < minimum or (maximum is not None and value > maximum):
            upper = f" and at most {maximum}" if maximum is not None else ""
            raise SettingsError(name, f"must be at least {minimum}{upper}, got {value}")
        return value

    def number(name: str, default: float) -> float:
        raw = get(name)
        if raw is None:
            return default
        try:
            value = float(raw)
        except ValueError:
            raise SettingsError(name, f"must be a number of seconds, got {raw!r}") from None
        if value <= 0:
            raise SettingsError(name, f"must be more than 0, got {raw}")
        return value

    def boolean(name: str, default: bool) -> bool:
        raw = get(name)
        if raw is None:
            return default
        lowered = raw.lower()
        if lowered in {"1", "true", "yes", "on"}:
            return True
        if lowered in {"0", "false", "no", "off"}:
            return False
        raise SettingsError(name, f"must be true or false, got {raw!r}")

    token = get("HUBSPOT_ACCESS_TOKEN", "HUBSPOT_API_KEY")
    if token is not None and any(ch.isspace() for ch in token):
        raise SettingsError("HUBSPOT_ACCESS_TOKEN", "must not contain spaces")

    base_url = (get("HUBSPOT_BASE_URL") or DEFAULT_BASE_URL).rstrip("/")
    if not base_url.startswith(("http://", "https://")):
        raise SettingsError(
            "HUBSPOT_BASE_URL", f"must start with http:// or https://, got {base_url!r}"
        )

    api_version = (get("HUBSPOT_API_VERSION") or HUBSPOT_API_VERSIONS[0]).strip().lower()
    if api_version not in HUBSPOT_API_VERSIONS:
        raise SettingsError(
            "HUBSPOT_API_VERSION",
            f"must be one of {', '.join(HUBSPOT_API_VERSIONS)}, got {api_version!r}",
        )

    database_url = get("DATABASE_URL")
    if database_url is not None:
        if database_url.startswith("postgres://"):
            database_url = "postgresql+psycopg://" + database_url.removeprefix("postgres://")
        elif database_url.startswith("postgresql://"):
            database_url = "postgresql+psycopg://" + database_url.removeprefix("postgresql://")
        if not database_url.startswith(("sqlite:", "postgresql")):
            raise SettingsError("DATABASE_URL", "must be a sqlite:/// or postgresql+psycopg:// URL")

    list_id = get("CHAINGE_LIST_ID")
    if list_id is not None and not list_id.isdigit():
        raise SettingsError(
            "CHAINGE_LIST_ID", f"must be a numeric HubSpot list id, got {list_id!r}"
        )

    engaged = integer("HUBSYNC_ENGAGED_DAYS", 30, minimum=1, maximum=3650)
    cold = integer("HUBSYNC_COLD_DAYS", 90, minimum=1, maximum=3650)
    if cold < engaged:
        raise SettingsError(
            "HUBSYNC_COLD_DAYS",
            f"must not be less than HUBSYNC_ENGAGED_DAYS ({engaged}), got {cold}",
        )

    raw_props = get("HUBSYNC_PROPERTIES") or ""
    all_properties = raw_props.strip().lower() == "all"
    properties: tuple[str, ...] = ()
    if raw_props and not all_properties:
        names = [p.strip() for p in raw_props.replace(";", ",").split(",") if p.strip()]
        for name in names:
            if not all(ch.isalnum() or ch in "_-" for ch in name):
                raise SettingsError(
                    "HUBSYNC_PROPERTIES", f"{name!r} is not a HubSpot property name"
                )
        properties = tuple(dict.fromkeys(n.lower() for n in names))

    data_dir_raw = get("HUBSYNC_DATA_DIR")
    data_dir = Path(data_dir_raw).expanduser() if data_dir_raw else default_data_dir()

    log_level = (get("HUBSYNC_LOG_LEVEL") or "INFO").upper()
    if log_level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
        raise SettingsError(
            "HUBSYNC_LOG_LEVEL", f"must be DEBUG, INFO, WARNING or ERROR, got {log_level!r}"
        )

    client_secret = get("HUBSPOT_CLIENT_SECRET")
    public_url = get("HUBSYNC_WEBHOOK_PUBLIC_URL")
    if public_url is not None and not public_url.startswith(("http://", "https://")):
        raise SettingsError(
            "HUBSYNC_WEBHOOK_PUBLIC_URL", f"must start with http:// or https://, got {public_url!r}"
        )
    api_token = get("HUBSYNC_API_TOKEN")
    if api_token is not None and (any(ch.isspace() for ch in api_token) or len(api_token) < 16):
        raise SettingsError("HUBSYNC_API_TOKEN", "must be at least 16 characters without spaces")

    share_raw = get("HUBSYNC_DAILY_BUDGET_SHARE")
    try:
        share = 0.5 if share_raw is None else float(share_raw)
    except ValueError:
        share = -1.0
    if not 0 < share <= 1:
        raise SettingsError(
            "HUBSYNC_DAILY_BUDGET_SHARE",
            f"must be a share of the daily API budget above 0 and at most 1, got {share_raw!r}",
        )

    nightly = (get("HUBSYNC_AUDIT_NIGHTLY_AT") or "off").strip().lower()
    if nightly == "off":
        audit_nightly_at = None
    else:
        hour, _, minute = nightly.partition(":")
        if not (hour.isdigit() and minute.isdigit() and int(hour) < 24 and int(minute) < 60):
            raise SettingsError(
                "HUBSYNC_AUDIT_NIGHTLY_AT", f"must be HH:MM (UTC) or off, got {nightly!r}"
            )
        audit_nightly_at = f"{int(hour):02d}:{int(minute):02d}"

    return Settings(
        access_token=Secret(token) if token else None,
        base_url=base_url,
        api_version=api_version,
        data_dir=data_dir,
        database_url_setting=database_url,
        chainge_list_id=list_id,
        engaged_days=engaged,
        cold_days=cold,
        properties=properties,
        all_properties=all_properties,
        max_retries=integer("HUBSYNC_MAX_RETRIES", 5, minimum=0, maximum=20),
        connect_timeout=number("HUBSYNC_CONNECT_TIMEOUT", 5.0),
        read_timeout=number("HUBSYNC_READ_TIMEOUT", 30.0),
        incremental_overlap_minutes=integer(
            "HUBSYNC_INCREMENTAL_OVERLAP_MINUTES", 10, maximum=1440
        ),
        incremental_lag_minutes=integer("HUBSYNC_INCREMENTAL_LAG_MINUTES", 1, maximum=60),
        search_counts_toward_burst=boolean("HUBSYNC_SEARCH_COUNTS_TOWARD_BURST", False),
        parallel_fetches=integer("HUBSYNC_PARALLEL_FETCHES", 4, minimum=1, maximum=8),
        demo_contacts=integer("HUBSYNC_DEMO_CONTACTS", 3000, minimum=1, maximum=1_000_000),
        demo_latency_ms=integer("HUBSYNC_DEMO_LATENCY_MS", 120, maximum=5000),
        daily_budget_share=share,
        log_level=log_level,
        client_id=get("HUBSPOT_CLIENT_ID"),
        client_secret=Secret(client_secret) if client_secret else None,
        webhook_public_url=public_url,
        journal_poll_seconds=integer("HUBSYNC_JOURNAL_POLL_SECONDS", 60, minimum=5, maximum=3600),
        demo_live_activity=integer("HUBSYNC_DEMO_LIVE_ACTIVITY", 3, maximum=600),
        demo_schedule_minutes=_demo_schedule(integer("HUBSYNC_DEMO_SCHEDULE_MINUTES", 5)),
        api_token=Secret(api_token) if api_token else None,
        index_lag_seconds=integer("HUBSYNC_INDEX_LAG_SECONDS", 120, maximum=3600),
        audit_after_sync=boolean("HUBSYNC_AUDIT_AFTER_SYNC", True),
        audit_nightly_at=audit_nightly_at,
        sources=sources,
    )
