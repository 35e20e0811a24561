"""Sign-in: Streamlit's built-in OIDC sign-in when secrets.toml has an `[auth]` section.

app.py gates every page with `is_signed_in()` / `render_login()`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import streamlit as st


def auth_config() -> Mapping[str, Any] | None:
    """The `[auth]` section of secrets.toml, or None when sign-in is not configured.

    Fails closed: a secrets file that exists but cannot be read stops the app rather than
    dropping the sign-in it may configure.
    """
    try:
        section = st.secrets.get("auth")
    except FileNotFoundError:  # Streamlit's "no secrets" and "unreadable secrets" alike
        if secrets_file_exists():
            st.error(
                "HubSync cannot start: .streamlit/secrets.toml could not be read, so sign-in "
                "cannot be checked. Fix the file, then reload.",
                icon="⚠️",
            )
            st.stop()
        return None
    return section if isinstance(section, Mapping) and section else None


def secrets_file_exists() -> bool:
    """Whether any of the secrets files Streamlit reads exists."""
    return any(Path(path).expanduser().is_file() for path in st.get_option("secrets.files"))


def login_providers(config: Mapping[str, Any]) -> list[str | None]:
    """Named providers (`[auth.google]`, ...) or `[None]` for the single default provider."""
    named = [name for name, value in config.items() if isinstance(value, Mapping)]
    return [*named] if named and "client_id" not in config else [None]


def is_signed_in() -> bool:
    """True when no sign-in is configured, or the visitor has signed in."""
    if auth_config() is None:
        return True
    return bool(getattr(st.user, "is_logged_in", False))


def render_login() -> None:
    """The sign-in screen shown instead of any page."""
    config = auth_config() or {}
    st.title("🔄 HubSync")
    st.write("Sign in to see this HubSpot portal's contacts.")
    for provider in login_providers(config):
        label = f"Sign in with {provider.title()}" if provider else "Sign in"
        if st.button(label, key=f"login-{provider or 'default'}", type="primary"):
            if provider:
                st.login(provider)
            else:
                st.login()


def render_signed_in_user() -> None:
    """The sidebar's "Signed in as …" and **Sign out**, when sign-in is configured."""
    if auth_config() is not None and getattr(st.user, "is_logged_in", False):
        name = getattr(st.user, "email", None) or getattr(st.user, "name", None) or ""
        st.caption(f"Signed in {('as ' + str(name)) if name else ''}")
        if st.button("Sign out", key="logout"):
            st.logout()
