"""The segment rule editor: rows of conditions in up to `EDITOR_DEPTH` levels of groups, or the
rule as JSON (any nesting).

The draft is a tree of ids kept in the session (`sg_tree`); each row's values live in the
widgets keyed by its id. `draft()` turns the widgets back into a `SegmentDef`; the rule model
and its validation are the core's (`hubsync_core.segments`).
"""

from __future__ import annotations

import json
from typing import Any

import streamlit as st

from hubsync_core import segments as rules
from hubsync_core.segments import Condition, Group, SegmentDef, SegmentError
from pages.components.value_picker import PICKER_OPS, value_picker

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
#: {field: {internal value: label}} of the enumeration fields.
Options = dict[str, dict[str, str]]
VALUE_HINTS = {
    "in": "Germany, France",
    "within_last_days": "days",
    "more_than_days_ago": "days",
    "in_list": "list id",
}


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


# -- the draft: a tree of ids; the values live in the widgets keyed by those ids ---------------


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


def load_draft(seg: SegmentDef | None) -> None:
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


def draft() -> tuple[SegmentDef | None, str | None]:
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


# -- callbacks (they run before the page is drawn again) ---------------------------------------


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


# -- widgets -----------------------------------------------------------------------------------


def _condition_row(group_id: int, item: dict[str, Any], fields: list[str], enums: Options) -> None:
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
    options = enums.get(state.get(field_key) or "")
    if options and op in PICKER_OPS:
        with cols[2]:
            value_picker(value_key, f"sg_c{item['id']}_pick", op, options)
    elif op not in NO_VALUE_OPS:
        hint = VALUE_HINTS.get(op or "", "value (text, number or YYYY-MM-DD)")
        cols[2].text_input("Value", key=value_key, placeholder=hint, label_visibility="collapsed")
    if op == "between":
        cols[3].text_input("and", key=value2_key, placeholder="and …", label_visibility="collapsed")
    cols[4].button(
        "✖", key=f"sg_rm_{item['id']}", on_click=_remove, args=(group_id, item["id"]), help="Remove"
    )


def _group_editor(node: dict[str, Any], fields: list[str], enums: Options, depth: int) -> None:
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
                _group_editor(item, fields, enums, depth + 1)
        else:
            _condition_row(node["id"], item, fields, enums)
    buttons = st.columns([1, 1, 3])
    buttons[0].button(
        "➕ Condition", key=f"sg_addc_{node['id']}", on_click=_add_condition, args=(node["id"],)
    )
    if depth < EDITOR_DEPTH:
        buttons[1].button(
            "➕ Group", key=f"sg_addg_{node['id']}", on_click=_add_group, args=(node["id"],)
        )


def render_rule_editor(fields: list[str], enums: Options | None = None) -> None:
    """The rule as rows (each row's field one of `fields`) or as JSON. `enums`:
    {field: {value: label}} of enumeration fields, whose values are picked by label."""
    st.toggle("Edit the rule as JSON (any nesting)", key="sg_json_mode", on_change=_toggle_json)
    if st.session_state["sg_json_mode"]:
        st.text_area(
            "Rule (JSON)",
            key="sg_json",
            height=260,
            help='{"match": "all", "items": [{"field": "lifecyclestage", "op": "eq", '
            '"value": "lead"}, {"match": "any", "items": [...]}]}',
        )
    else:
        _group_editor(st.session_state["sg_tree"], fields, enums or {}, 1)
