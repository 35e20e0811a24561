"""HubSync dashboard: `streamlit run app.py`.

The shell only: page config, sign-in gate, navigation, sidebar and demo banner. Each page is a
file in `pages/`; `pages/components/` holds what they share (never pages themselves: the
navigation below lists the pages explicitly).
"""

from __future__ import annotations

import streamlit as st

from pages.components.frame import render_frame
from pages.components.resources import resources
from pages.components.signin import is_signed_in, render_login

st.set_page_config(page_title="HubSync", page_icon="🔄", layout="wide")

PAGES = [
    st.Page("pages/overview.py", title="Overview", icon="🏠", default=True),
    st.Page("pages/sync.py", title="Sync", icon="🔄", url_path="sync"),
    st.Page("pages/contacts.py", title="Contacts", icon="👥", url_path="contacts"),
    st.Page("pages/insights.py", title="Insights", icon="📊", url_path="insights"),
    st.Page("pages/segments.py", title="Segments", icon="🏷️", url_path="segments"),
    st.Page("pages/changes.py", title="Changes", icon="📝", url_path="changelog"),
    st.Page("pages/settings.py", title="Settings", icon="⚙️", url_path="settings"),
]

signed_in = is_signed_in()
# Navigation is built even before sign-in so that page URLs stay valid; it is hidden until then.
navigation = st.navigation(PAGES, position="sidebar" if signed_in else "hidden")
if not signed_in:
    render_login()
    st.stop()

render_frame(resources())
navigation.run()
