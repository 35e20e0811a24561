"""The built-in segments: chainge, engaged, cold and high_value.

They are defined in the same rule model as everyone's own segments (`builtin_segments`), so
there is one mechanism for all of them; their names are their keys and are reserved.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from hubsync_core.segments._values import check_days
from hubsync_core.segments.model import LIST_FIELD, Condition, Group, SegmentDef


class ContactSegment(StrEnum):
    """The built-in segments (the original spec's SDK name); values are their storage keys."""

    CHAINGE = "chainge"
    ENGAGED = "engaged"
    COLD = "cold"
    HIGH_VALUE = "high_value"


BUILTIN_KEYS: tuple[str, ...] = tuple(s.value for s in ContactSegment)


@dataclass(frozen=True)
class BuiltinParams:
    """What the built-in rules depend on (`Settings` carries the same attributes)."""

    engaged_days: int = 30
    cold_days: int = 90
    chainge_list_id: str | None = None


_BUILTIN_STYLE = {
    "chainge": ("#F58518", 'Company contains "chainge" (any case), or member of the CHAINge list.'),
    "engaged": ("#54A24B", "Modified in HubSpot within the last {days} days."),
    "cold": ("#4C78A8", "Not modified in HubSpot for {days} days or more."),
    "high_value": ("#E45756", "Lifecycle stage customer, evangelist or opportunity."),
}


def builtin_segments(settings_or_params: Any = None) -> list[SegmentDef]:
    """The four built-in segments, from `Settings`, `BuiltinParams` or a mapping of the same.

    chainge = company contains "chainge" OR (with ``chainge_list_id``) in that list;
    engaged = updated_at within the last ``engaged_days``; cold = updated_at ``cold_days`` or
    more days ago; high_value = lifecyclestage in (customer, evangelist, opportunity).
    """
    source = settings_or_params if settings_or_params is not None else BuiltinParams()

    def get(name: str, default: Any) -> Any:
        if isinstance(source, Mapping):
            return source.get(name, default)
        return getattr(source, name, default)

    engaged = get("engaged_days", 30)
    cold = get("cold_days", 90)
    list_id = get("chainge_list_id", None)
    for label, days in (("engaged_days", engaged), ("cold_days", cold)):
        check_days(days, f"built-in {label}")
    chainge_items: list[Condition | Group] = [Condition("company", "contains", "chainge")]
    if list_id:
        chainge_items.append(Condition(LIST_FIELD, "in_list", str(list_id)))

    def make(key: str, rule: Group, days: int | None = None) -> SegmentDef:
        colour, text = _BUILTIN_STYLE[key]
        return SegmentDef(key, colour, rule, True, text.format(days=days))

    return [
        make("chainge", Group("any", chainge_items)),
        make(
            "engaged", Group("all", [Condition("updated_at", "within_last_days", engaged)]), engaged
        ),
        make("cold", Group("all", [Condition("updated_at", "more_than_days_ago", cold)]), cold),
        make(
            "high_value",
            Group(
                "all",
                [Condition("lifecyclestage", "in", ["customer", "evangelist", "opportunity"])],
            ),
        ),
    ]
