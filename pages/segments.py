"""Segments: the built-in and user-defined segments, an editor with a live preview, and
export/import of the definitions.

The rule model, its validation, the preview and the recompute are the core's
(`hubsync_core.segments`, `hubsync_core.store.segment_store`); this page only turns widgets
into a `SegmentDef` and shows what the core says about it.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

import pandas as pd
import streamlit as st

from hubsync_core import segments as rules
from hubsync_core.clock import utcnow
from hubsync_core.segments import Condition, Group, SegmentDef, SegmentError
from hubsync_core.store import explorer, segment_store
from hubsync_core.store.database import Database
from pages import shared

NEW = "__new__"
#: Groups the row editor shows: the rule and one level of groups inside it. Deeper rules are
#: edited as JSON.
EDITOR_DEPTH = 2
OP_LABELS: dict[str, str] = {
    "eq": "equals",
    "neq": "does not equal",
    "contains": "contains",
    "starts_with": "starts with",
    "in": "is one of (comma-separated)",
    "is_empty": "is empty",
    "is_not_empty": "is not empty",
    "gt": "is greater than / after",
    "lt": "is less than / before",
    "between": "is between",
    "within_last_days": "within the last N days",
    "more_than_days_ago": "N or more days ago",
    "in_list": "is a member of list (id)",
}
MATCH_LABELS = {"all": "all of (AND)", "any": "any of (OR)"}
NO_VALUE_OPS = ("is_empty", "is_not_empty")


_MARKUP = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:=])")


def _plain(text: str) -> str:
    """`text` shown literally where Streamlit renders Markdown (alerts, captions, headings)."""
    return _MARKUP.sub(r"\\\1", text)


# -- form values <-> rule values ---------------------------------------------------------------


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


# -- the editor's draft: a tree of ids; the values live in the widgets keyed by those ids -------


def _next_id() -> int:
    # In session state: the script (and any module-level counter) restarts on every rerun.
    state = st.session_state
    state["sg_next_id"] = state.get("sg_next_id", 0) + 1
    return int(state["sg_next_id"])


def _cond_keys(item_id: int) -> tuple[str, str, str, str]:
    return (f"sg_c{item_id}_field", f"sg_c{item_id}_op", f"sg_c{item_id}_v", f"sg_c{item_id}_v2")


def _tree_from_rule(group: Group) -> dict[str, Any]:
    """The draft tree for a rule, seeding each row's widgets."""
    node: dict[str, Any] = {"id": _next_id(), "items": []}
    st.session_state[f"sg_g{node['id']}_match"] = group.match
    for item in group.items:
        if isinstance(item, Group):
            node["items"].append(_tree_from_rule(item))
        else:
            node["items"].append(_new_condition(item))
    return node


def _new_condition(cond: Condition | None = None) -> dict[str, Any]:
    cond = cond or Condition("company", "contains", "")
    item_id = _next_id()
    field, op, value, value2 = _cond_keys(item_id)
    st.session_state[field] = cond.field
    st.session_state[op] = cond.op
    st.session_state[value] = _text(cond.value)
    st.session_state[value2] = _text(cond.value2)
    return {"id": item_id}


def _rule_from_tree(node: dict[str, Any]) -> Group:
    state = st.session_state
    items: list[Condition | Group] = []
    for item in node["items"]:
        if "items" in item:
            items.append(_rule_from_tree(item))
            continue
        field, op, value, value2 = (state.get(k) for k in _cond_keys(item["id"]))
        op = op or "eq"
        items.append(
            Condition(
                field or "",
                op,
                rules.parse_value(op, value),
                rules.parse_value(op, value2) if op == "between" else None,
            )
        )
    return Group(state.get(f"sg_g{node['id']}_match", "all"), items)


def _depth(group: Group) -> int:
    return 1 + max((_depth(i) for i in group.items if isinstance(i, Group)), default=0)


def _load_draft(seg: SegmentDef | None) -> None:
    """Start editing `seg` (None: a new segment)."""
    state = st.session_state
    seg = seg or SegmentDef(
        "", rules.DEFAULT_COLOUR, Group("all", [Condition("company", "contains", "")])
    )
    state["sg_name"] = seg.name
    state["sg_colour"] = seg.colour
    state["sg_desc"] = seg.description
    state["sg_builtin"] = seg.builtin
    state["sg_original"] = seg.name or None
    state["sg_tree"] = _tree_from_rule(seg.rule)
    state["sg_json_mode"] = _depth(seg.rule) > EDITOR_DEPTH
    state["sg_json"] = json.dumps(seg.rule.to_dict(), indent=2, ensure_ascii=False)
    state["sg_confirm_delete"] = False


def _find_group(node: dict[str, Any], group_id: int) -> dict[str, Any] | None:
    if node["id"] == group_id:
        return node
    for item in node["items"]:
        if "items" in item and (found := _find_group(item, group_id)):
            return found
    return None


def _add_condition(group_id: int) -> None:
    group = _find_group(st.session_state["sg_tree"], group_id)
    if group is not None:
        group["items"].append(_new_condition())


def _add_group(group_id: int) -> None:
    group = _find_group(st.session_state["sg_tree"], group_id)
    if group is not None:
        group["items"].append(_tree_from_rule(Group("any", [Condition("company", "contains", "")])))


def _remove(group_id: int, item_id: int) -> None:
    group = _find_group(st.session_state["sg_tree"], group_id)
    if group is not None:
        group["items"] = [i for i in group["items"] if i["id"] != item_id]


def _toggle_json() -> None:
    """Switching modes carries the rule across: rows -> JSON text, or JSON text -> rows."""
    state = st.session_state
    if state["sg_json_mode"]:
        try:
            rule = _rule_from_tree(state["sg_tree"])
        except SegmentError as exc:
            state["sg_json_mode"] = False
            state["sg_message"] = ("error", f"Fix the rows first: {exc}")
            return
        state["sg_json"] = json.dumps(rule.to_dict(), indent=2, ensure_ascii=False)
        return
    try:
        rule = rules.rule_from_dict(json.loads(state["sg_json"]))
    except (json.JSONDecodeError, SegmentError) as exc:
        state["sg_json_mode"] = True
        state["sg_message"] = ("error", f"The JSON cannot be shown as rows: {exc}")
        return
    if _depth(rule) > EDITOR_DEPTH:
        state["sg_json_mode"] = True
        state["sg_message"] = (
            "error",
            "This rule nests groups too deeply for rows: edit it as JSON.",
        )
        return
    state["sg_tree"] = _tree_from_rule(rule)


def _draft() -> tuple[SegmentDef | None, str | None]:
    """The segment the editor describes, or why it cannot be read."""
    state = st.session_state
    if state.get("sg_json_mode"):
        try:
            rule = rules.rule_from_dict(json.loads(state.get("sg_json") or "{}"))
        except json.JSONDecodeError as exc:
            return None, f"The rule is not valid JSON: {exc}"
        except SegmentError as exc:
            return None, str(exc)
    else:
        try:
            rule = _rule_from_tree(state["sg_tree"])
        except SegmentError as exc:  # a value that does not fit its operator
            return None, str(exc)
    seg = SegmentDef(
        name=state.get("sg_name", ""),
        colour=state.get("sg_colour", rules.DEFAULT_COLOUR),
        rule=rule,
        builtin=bool(state.get("sg_builtin")),
        description=state.get("sg_desc", ""),
    )
    return seg, None


# -- actions (callbacks: they run before the page is drawn again) ------------------------------


def _save(db: Database, known: set[str], user_names: list[str]) -> None:
    state = st.session_state
    seg, problem = _draft()
    if seg is None:
        state["sg_message"] = ("error", problem)
        return
    try:
        saved = segment_store.save_definition(
            db,
            seg,
            known_properties=known,
            original_name=state.get("sg_original"),
            ref=utcnow(),
        )
    except SegmentError as exc:
        state["sg_message"] = ("error", str(exc))
        return
    state["sg_message"] = ("success", f"Saved “{saved.name}” and recomputed its members.")
    state["sg_choice"] = saved.name
    state["sg_loaded"] = saved.name
    state["sg_original"] = saved.name


def _delete(db: Database, name: str) -> None:
    state = st.session_state
    try:
        deleted = segment_store.delete_definition(db, name)
    except SegmentError as exc:
        state["sg_message"] = ("error", str(exc))
        return
    state["sg_message"] = (
        ("success", f"Deleted “{name}”.") if deleted else ("warning", f"“{name}” was already gone.")
    )
    state["sg_choice"] = NEW
    state["sg_loaded"] = None


def _reset_builtin(db: Database, settings: Any, name: str) -> None:
    state = st.session_state
    segment_store.reset_builtin(db, name)
    default = segment_store.get_definition(db, name, settings)
    if default is not None:
        segment_store.recompute(db, [default], utcnow())
    state["sg_message"] = ("success", f"“{name}” is back to its default rule.")
    state["sg_loaded"] = None  # reload the editor from the stored definition


# -- rendering ---------------------------------------------------------------------------------


@st.cache_data(ttl=30, show_spinner=False)
def _preview(
    _db: Database, db_url: str, rule_json: str, minute: str
) -> tuple[int, list[dict[str, Any]]]:
    # Keyed on the rule and the minute: typing the same rule again is instant.
    return segment_store.preview(_db, rules.rule_from_dict(json.loads(rule_json)), utcnow(), 10)


def _overview(defs: list[SegmentDef], counts: dict[str, int]) -> None:
    frame = pd.DataFrame(
        [
            {
                "Colour": seg.colour,
                "Segment": seg.name,
                "Key": seg.key,
                "Kind": "built-in" if seg.builtin else "yours",
                "Members": counts.get(seg.key, 0),
                "Rule": rules.describe_rule(seg.rule),
            }
            for seg in defs
        ]
    )
    styled = frame.style.map(lambda c: f"background-color: {c}; color: {c}", subset=["Colour"])
    st.dataframe(
        styled,
        hide_index=True,
        column_config={"Members": st.column_config.NumberColumn(format="%d")},
        width="stretch",
    )


def _condition_row(group_id: int, item: dict[str, Any], fields: list[str]) -> None:
    field_key, op_key, value_key, value2_key = _cond_keys(item["id"])
    state = st.session_state
    current = state.get(field_key)
    options = fields if current in fields else [*fields, current]
    cols = st.columns([3, 3, 3, 2, 1], vertical_alignment="bottom")
    cols[0].selectbox("Field", options, key=field_key, label_visibility="collapsed")
    cols[1].selectbox(
        "Operator",
        list(OP_LABELS),
        key=op_key,
        format_func=OP_LABELS.get,
        label_visibility="collapsed",
    )
    op = state.get(op_key)
    if op not in NO_VALUE_OPS:
        hint = {
            "in": "Germany, France",
            "within_last_days": "days",
            "more_than_days_ago": "days",
            "in_list": "list id",
        }.get(op or "", "value (text, number or YYYY-MM-DD)")
        cols[2].text_input("Value", key=value_key, placeholder=hint, label_visibility="collapsed")
    if op == "between":
        cols[3].text_input("and", key=value2_key, placeholder="and …", label_visibility="collapsed")
    cols[4].button(
        "✖", key=f"sg_rm_{item['id']}", on_click=_remove, args=(group_id, item["id"]), help="Remove"
    )


def _group_editor(node: dict[str, Any], fields: list[str], depth: int) -> None:
    st.radio(
        "Contacts matching" if depth == 1 else "This group matches",
        list(MATCH_LABELS),
        key=f"sg_g{node['id']}_match",
        format_func=MATCH_LABELS.get,
        horizontal=True,
    )
    for item in node["items"]:
        if "items" in item:
            with st.container(border=True):
                head = st.columns([6, 1])
                head[0].caption("Group")
                head[1].button(
                    "✖",
                    key=f"sg_rm_{item['id']}",
                    on_click=_remove,
                    args=(node["id"], item["id"]),
                    help="Remove the group",
                )
                _group_editor(item, fields, depth + 1)
        else:
            _condition_row(node["id"], item, fields)
    buttons = st.columns([1, 1, 3])
    buttons[0].button(
        "➕ Condition", key=f"sg_addc_{node['id']}", on_click=_add_condition, args=(node["id"],)
    )
    if depth < EDITOR_DEPTH:
        buttons[1].button(
            "➕ Group", key=f"sg_addg_{node['id']}", on_click=_add_group, args=(node["id"],)
        )


def _editor(db: Database, settings: Any, defs: list[SegmentDef], known: set[str]) -> None:
    state = st.session_state
    builtin = bool(state.get("sg_builtin"))
    original = state.get("sg_original")
    user_names = [d.name for d in defs if not d.builtin]

    top = st.columns([4, 1])
    top[0].text_input(
        "Name",
        key="sg_name",
        disabled=builtin,
        max_chars=rules.MAX_NAME_LENGTH,
        help="Built-in segments keep their name."
        if builtin
        else "Letters, digits, spaces, - and _.",
    )
    top[1].color_picker("Colour", key="sg_colour")
    st.text_input("Description", key="sg_desc")

    fields = sorted(known, key=lambda f: (f.startswith(rules.PROPERTY_PREFIX), f))
    fields.append(rules.LIST_FIELD)
    st.toggle(
        "Edit the rule as JSON (any nesting)",
        key="sg_json_mode",
        on_change=_toggle_json,
    )
    if state["sg_json_mode"]:
        st.text_area(
            "Rule (JSON)",
            key="sg_json",
            height=260,
            help='{"match": "all", "items": [{"field": "lifecyclestage", "op": "eq", '
            '"value": "lead"}, {"match": "any", "items": [...]}]}',
        )
    else:
        _group_editor(state["sg_tree"], fields, 1)

    seg, problem = _draft()
    if seg is not None:
        try:
            others = [n for n in user_names if n != original]
            rules.validate_definition(seg, known_properties=known, existing_names=others)
        except SegmentError as exc:
            problem = str(exc)
    if problem:
        st.error(_plain(problem))
    else:
        assert seg is not None
        st.caption(_plain(f"Rule: {rules.describe_rule(seg.rule)}"))

    # The preview only needs a valid rule (a name can still be missing).
    rule_ok = seg is not None
    if seg is not None:
        try:
            rules.validate_rule(seg.rule)
        except SegmentError:
            rule_ok = False
    if rule_ok and seg is not None:
        count, sample = _preview(
            db, db.url, json.dumps(seg.rule.to_dict(), sort_keys=True), f"{utcnow():%Y%m%d%H%M}"
        )
        st.markdown(f"**Preview:** {count:,} live contacts match")
        if sample:
            st.dataframe(pd.DataFrame(sample), hide_index=True, width="stretch")

    actions = st.columns([1, 1, 3])
    actions[0].button(
        "💾 Save segment",
        type="primary",
        key="sg_save",
        on_click=_save,
        args=(db, known, user_names),
        disabled=bool(problem),
    )
    if builtin:
        actions[1].button(
            "↩️ Reset to default",
            key="sg_reset",
            on_click=_reset_builtin,
            args=(db, settings, original),
        )
    elif original:
        if not state.get("sg_confirm_delete"):
            actions[1].button(
                "🗑️ Delete",
                key="sg_delete",
                on_click=lambda: state.update(sg_confirm_delete=True),
            )
        else:
            st.warning(_plain(f"Delete “{original}” and its membership? This cannot be undone."))
            confirm = st.columns([1, 1, 3])
            confirm[0].button(
                "Yes, delete", key="sg_delete_yes", type="primary", on_click=_delete,
                args=(db, original),
            )  # fmt: skip
            confirm[1].button(
                "Cancel", key="sg_delete_no", on_click=lambda: state.update(sg_confirm_delete=False)
            )


def _portability(db: Database, defs: list[SegmentDef], known: set[str]) -> None:
    st.subheader("Export and import")
    cols = st.columns(2)
    today = datetime.now().date().isoformat()
    cols[0].download_button(
        "⬇️ Export as TOML",
        data=lambda: rules.dump_definitions(defs, "toml"),
        file_name=f"hubsync-segments-{today}.toml",
        mime="application/toml",
        on_click="ignore",
        key="sg_export_toml",
    )
    cols[1].download_button(
        "⬇️ Export as JSON",
        data=lambda: rules.dump_definitions(defs, "json"),
        file_name=f"hubsync-segments-{today}.json",
        mime="application/json",
        on_click="ignore",
        key="sg_export_json",
    )
    upload_key = f"sg_upload_{st.session_state.get('sg_uploads', 0)}"
    upload = st.file_uploader("Import definitions", type=["toml", "json"], key=upload_key)
    if upload is None:
        return
    fmt = "json" if upload.name.lower().endswith(".json") else "toml"
    try:
        loaded = rules.load_definitions(upload.getvalue().decode("utf-8"), fmt)
    except (SegmentError, UnicodeDecodeError) as exc:
        st.error(_plain(f"{upload.name}: {exc}"))
        return
    st.text(f"{upload.name}: " + (", ".join(seg.name for seg in loaded) or "no segments"))
    st.checkbox("Replace segments that already exist", key="sg_replace")
    st.button("Import", key="sg_import", on_click=_import, args=(db, loaded, known))


def _import(db: Database, loaded: list[SegmentDef], known: set[str]) -> None:
    state = st.session_state
    try:
        result = segment_store.import_definitions(
            db,
            loaded,
            known_properties=known,
            replace_existing=bool(state.get("sg_replace")),
            ref=utcnow(),
        )
    except SegmentError as exc:
        state["sg_message"] = ("error", f"Nothing was imported: {exc}")
        return
    parts = [
        f"{label}: {', '.join(names)}"
        for label, names in (
            ("added", result.added),
            ("replaced", result.replaced),
            ("skipped (already there)", result.skipped),
        )
        if names
    ]
    state["sg_message"] = ("success", "Imported. " + "; ".join(parts))
    state["sg_loaded"] = None  # the edited segment may have been replaced: reload it
    state["sg_uploads"] = state.get("sg_uploads", 0) + 1  # a fresh, empty uploader


def main() -> None:
    # First: it reruns through app.py (sign-in gate, frame) when this page was opened directly.
    service = shared.get_service()
    st.title("🏷️ Segments")
    db, settings = service.db, service.settings
    state = st.session_state

    defs = segment_store.list_definitions(db, settings)
    counts = {f.value: f.count for f in explorer.facet_counts(db, None, "segment")}
    known = segment_store.known_properties(db)
    st.caption(
        "Segments tag contacts by rules over their fields and HubSpot properties. Membership is "
        "recomputed after every sync and whenever a segment is saved."
    )
    _overview(defs, counts)

    names = [d.name for d in defs]
    if state.get("sg_choice") not in (NEW, *names):
        state["sg_choice"] = NEW
    st.subheader("Create or edit")
    choice = st.selectbox(
        "Segment",
        [NEW, *names],
        key="sg_choice",
        format_func=lambda n: "➕ New segment" if n == NEW else n,
    )
    # Reload when another segment is chosen, or when Streamlit dropped the editor's widget
    # state (it does for widgets not drawn, e.g. after a visit to another page).
    if state.get("sg_loaded", "") != choice or "sg_tree" not in state or "sg_name" not in state:
        _load_draft(None if choice == NEW else next(d for d in defs if d.name == choice))
        state["sg_loaded"] = choice

    if message := state.pop("sg_message", None):
        kind, text = message
        getattr(st, kind)(_plain(text))
    with st.container(border=True):
        _editor(db, settings, defs, known)
    _portability(db, defs, known)


main()
