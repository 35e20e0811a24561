"""Settings: the connection (and a test of it), where each setting comes from, the database,
the segment windows, and clearing all contacts.

Settings are read from the environment, `.env` and `.streamlit/secrets.toml`; this page shows
them and never echoes the token (masked: last 4 characters at most).
"""

from __future__ import annotations

import streamlit as st

from pages.components import formatting as fmt
from pages.components.resources import resources

app = resources()
service = app.service
state = st.session_state
CONFIRM_WORD = "CLEAR"


def test_connection() -> None:
    state["connection_check"] = app.check_connection(app.settings)


def clear_contacts() -> None:
    state["cleared_count"] = service.clear_contacts()
    state["clear_confirm"] = ""


st.title("⚙️ Settings")

# --- connection -----------------------------------------------------------------------------
st.subheader("Connection")
if app.settings.demo:
    st.markdown("**Portal:** 🧪 Demo portal (no token configured)")
else:
    token = app.settings.access_token
    source = app.settings.sources.get("HUBSPOT_ACCESS_TOKEN", "?")
    st.markdown(f"**Portal:** 🟢 HubSpot at `{app.settings.base_url}`")
    st.markdown(f"**Token:** `{token.masked() if token else ''}` (from {source})")
with st.expander("How to connect your HubSpot portal"):
    st.markdown(fmt.CONNECT_HELP)
st.button("Test connection", key="test_connection", on_click=test_connection)
check = state.get("connection_check")
if check is not None:
    if check.ok:
        st.success(f"{check.message}.", icon="✅")
    else:
        st.error(f"Connection problem: {check.message}", icon="❌")
    if check.portal_id:
        cols = st.columns(3)
        cols[0].metric("Portal id", check.portal_id)
        cols[1].metric("Time zone", check.time_zone or "—")
        cols[2].metric("Rate-limit headroom", fmt.headroom_of(check.rate_limit))
        if room := fmt.rate_limit_text(check.rate_limit):
            st.caption(f"Rate limit: {room}")
    if check.token_kind:
        st.caption(f"Token: {check.token_kind}")
    if check.daily_limit is not None and check.daily_remaining is not None:
        st.caption(
            f"Daily API budget: {check.daily_remaining:,} of {check.daily_limit:,} calls left "
            "today (resets at midnight in the portal's time zone)"
        )
    if check.portal_id:
        st.dataframe(fmt.scope_rows(check.scope_rows()), hide_index=True)
    if check.missing_scopes:
        st.markdown("**Missing scopes:** " + ", ".join(f"`{s}`" for s in check.missing_scopes))
    if check.correlation_id:
        st.caption(f"HubSpot correlation id: `{check.correlation_id}`")
    if check.hint:
        st.markdown(f"**What to do next:** {check.hint}")

# --- where settings come from ---------------------------------------------------------------
st.subheader("Where settings come from")
st.caption(
    "Precedence: the process environment, then `.env`, then top-level keys of "
    "`.streamlit/secrets.toml`, then the default. See `.env.example` for each one."
)
st.dataframe(fmt.setting_rows(app.settings.describe()), hide_index=True)

# --- database -------------------------------------------------------------------------------
st.subheader("Database")
cols = st.columns([3, 1])
cols[0].markdown(f"**Location:** `{service.database_location()}`")
cols[1].metric("Size", fmt.size(service.database_size()))

# --- segment windows ------------------------------------------------------------------------
st.subheader("Segment windows")
definitions = service.segments()
st.dataframe(
    [
        {"segment": seg.name, "rule": seg.description or "(custom rule)"}
        for seg in definitions
        if seg.builtin
    ],
    hide_index=True,
)
st.page_link("pages/segments.py", label="Edit segments and their windows", icon="🏷️")

# --- clear ----------------------------------------------------------------------------------
st.subheader("Clear all contacts")
st.write(
    "Deletes every stored contact with its segment and list memberships. "
    "Sync history stays; the next sync fetches everything again."
)
running = app.jobs.status().running
if running:
    st.caption("A sync is running: wait for it to finish before clearing.")
st.text_input(f"Type {CONFIRM_WORD} to confirm", key="clear_confirm")
st.button(
    "Clear all contacts",
    key="clear_contacts",
    type="primary",
    on_click=clear_contacts,
    disabled=running or state.get("clear_confirm", "").strip() != CONFIRM_WORD,
)
if "cleared_count" in state:
    st.success(
        f"Removed {state.pop('cleared_count'):,} contacts. Sync history was kept.", icon="🧹"
    )
