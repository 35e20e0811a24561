"""Checking a value against a HubSpot property definition before anything is sent.

HubSpot refuses a whole batch (400 VALIDATION_ERROR) for one bad enumeration value, so every
value is checked here first: the property exists, is writable, and the value fits its type.
Enumeration values may be given by their label ("Marketing Qualified Lead") or internal value
("marketingqualifiedlead"); the internal value is what is sent. An empty value clears.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime

from hubsync_core.hubspot.writes import WritableProperty

#: The property whose value only moves forward through its options.
LIFECYCLE = "lifecyclestage"
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class ValueRefused(ValueError):
    """A property or value HubSpot would refuse; the message says why, for people."""


@dataclass(frozen=True)
class CheckedValue:
    """A value ready to send: `value` is what HubSpot takes ("" clears)."""

    name: str
    value: str
    shown: str


def check_property(definitions: Mapping[str, WritableProperty], name: str) -> WritableProperty:
    """The definition of a writable property, or `ValueRefused` saying why not."""
    definition = definitions.get(name)
    if definition is None:
        close = sorted(n for n in definitions if name.lower() in n.lower())[:5]
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        raise ValueRefused(
            f"Unknown property {name!r}: HubSpot has no contact property by that name{hint}"
        )
    if definition.read_only:
        raise ValueRefused(
            f"{definition.label} ({name}) is read-only: HubSpot computes it, it cannot be set"
        )
    return definition


def check_value(definition: WritableProperty, raw: str | None) -> CheckedValue:
    """`raw` as HubSpot's value for `definition`, or `ValueRefused` saying why not."""
    text = "" if raw is None else str(raw).strip()
    name = definition.name
    if text == "":
        return CheckedValue(name, "", "(cleared)")
    kind = definition.type
    if kind == "enumeration" and definition.options:
        multi = definition.field_type == "checkbox"
        parts = [p.strip() for p in text.split(";")] if multi else [text]
        values = [_option_value(definition, part) for part in parts]
        value = ";".join(values)
        return CheckedValue(name, value, "; ".join(definition.option_label(v) or v for v in values))
    if kind == "number":
        try:
            number = float(text)
        except ValueError:
            raise ValueRefused(
                f"{definition.label} ({name}) takes a number, not {text!r}"
            ) from None
        if number != number or number in (float("inf"), float("-inf")):
            raise ValueRefused(f"{definition.label} ({name}) takes a finite number")
        return CheckedValue(name, text, text)
    if kind == "bool":
        lowered = text.lower()
        if lowered not in ("true", "false"):
            raise ValueRefused(f"{definition.label} ({name}) takes true or false, not {text!r}")
        return CheckedValue(name, lowered, lowered)
    if kind in ("date", "datetime"):
        return CheckedValue(name, _date_value(definition, text, kind), text)
    return CheckedValue(name, text, text)


def _option_value(definition: WritableProperty, text: str) -> str:
    for option in definition.options:
        if text == option.value:
            return option.value
    for option in definition.options:
        if text.casefold() in (option.label.casefold(), option.value.casefold()):
            return option.value
    shown = ", ".join(f"{o.label} ({o.value})" for o in definition.options)
    raise ValueRefused(
        f"{text!r} is not an option of {definition.label} ({definition.name}); "
        f"the options are: {shown}"
    )


def _date_value(definition: WritableProperty, text: str, kind: str) -> str:
    """Dates as HubSpot takes them: `date` as midnight-UTC epoch ms or YYYY-MM-DD,
    `datetime` as ISO 8601 or epoch ms."""
    if text.isdigit():
        return text
    try:
        if _ISO_DATE.match(text):
            day = date.fromisoformat(text)
            return text if kind == "date" else f"{day.isoformat()}T00:00:00.000Z"
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueRefused(
            f"{definition.label} ({definition.name}) takes a date (YYYY-MM-DD), not {text!r}"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    if kind == "date":
        return moment.date().isoformat()
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def stage_moves_back(definition: WritableProperty, before: str | None, after: str) -> bool:
    """True when setting lifecyclestage from `before` to `after` moves it back through its
    options (HubSpot then needs it cleared first)."""
    if definition.name != LIFECYCLE or not before or not after:
        return False
    order = {option.value: i for i, option in enumerate(definition.options)}
    if before not in order or after not in order:
        return False
    return order[after] < order[before]
