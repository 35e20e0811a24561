"""The API's bearer token: `HUBSYNC_API_TOKEN`, or one generated on first start.

Like notebook servers, `hubsync api` works without setup: with no token configured it
creates a random one in the data folder (`<HUBSYNC_DATA_DIR>/api-token`, mode 0600, so
only its owner can read it) and tells where it is; `hubsync api token --show` prints it.
The value itself is never logged.
"""

from __future__ import annotations

import os
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path

from hubsync_core.config import Secret, Settings

TOKEN_FILE = "api-token"


@dataclass(frozen=True)
class ApiToken:
    """The token the API requires and where it comes from."""

    value: Secret
    #: The file holding a generated token; None when `HUBSYNC_API_TOKEN` is configured.
    path: Path | None
    #: True when this call generated the token (first start).
    created: bool = False

    @property
    def configured(self) -> bool:
        return self.path is None

    def describe(self, settings: Settings) -> str:
        """Where the token is, for people (never the token itself)."""
        if self.path is None:
            source = settings.sources.get("HUBSYNC_API_TOKEN", "the environment")
            return f"HUBSYNC_API_TOKEN (from {source})"
        return str(self.path)


def token_path(settings: Settings) -> Path:
    """Where a generated token is kept."""
    return settings.data_dir / TOKEN_FILE


def resolve_token(settings: Settings) -> ApiToken:
    """`HUBSYNC_API_TOKEN` if configured, else the generated token (created if missing)."""
    if settings.api_token:
        return ApiToken(settings.api_token, None)
    return load_or_create(token_path(settings))


def load_or_create(path: Path) -> ApiToken:
    """Read the token file, or create it with a new random token readable only by its owner."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        # O_EXCL: of two processes starting at once, one creates the file, the other reads it.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        if stat.S_IMODE(path.stat().st_mode) & 0o077:
            os.chmod(path, 0o600)  # someone widened it: only the owner may read a secret
        value = path.read_text(encoding="utf-8").strip()
        if value:
            return ApiToken(Secret(value), path)
        path.unlink()  # an empty file (interrupted creation): make a new token
        return load_or_create(path)
    value = secrets.token_urlsafe(32)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(value + "\n")
    return ApiToken(Secret(value), path, created=True)
