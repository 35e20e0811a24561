"""Building blocks the dashboard's pages share (never pages themselves).

app.py lists its pages explicitly with `st.navigation`, so nothing in this package is ever
shown as a page. One concern per module:

- `resources`: the process-wide service and jobs, and the settings they are built from.
- `signin`: Streamlit's built-in OIDC sign-in gate.
- `frame`: the sidebar and the demo banner around every page.
- `formatting`: how numbers, times, statuses and literal text are shown.
- `sync_panel`: the live progress and the outcome of a sync.
- `filter_bar`: the Contacts explorer's filters and their URL form.
- `contact_table`, `contact_detail`: the Contacts table, its export, and one contact.
- `rule_editor`, `segment_files`: the segment rule editor, and segment export/import.
"""
