"""What people read instead of enumeration values: HubSpot's option labels on explorer rows,
facets, one contact and the segment editor's value pickers.

HubSpot stores an enumeration (lifecycle stage, lead status, any custom dropdown) by its
internal value ("1088421376"); people know the option by its label ("Former customer"). The
labels come from the properties API and are stored by each sync (`store.property_options`).

This module is pure shaping over that small `{property: {value: label}}` map: a dict lookup
per cell shown, never SQL over the contacts, so labelling a page of 50 rows costs the same on
200,000 contacts as on 200. Internal values stay what filters, URLs, saved rules, the API's
JSON and (by default) exports hold.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from hubsync_core.columns import BY_NAME, ColumnKind
from hubsync_core.segments import PROPERTY_PREFIX
from hubsync_core.store.explorer import FacetValue, stage_sort_key

#: {property name: {internal value: label}}.
OptionLabels = Mapping[str, Mapping[str, str]]
#: HubSpot's separator between the values of a multiple-checkbox property ("a;b").
MULTI_SEPARATOR = ";"
#: The explorer's facets whose values are options of a property: facet -> column.
FACET_COLUMNS: dict[str, str] = {"lifecycle": "lifecyclestage"}


def column_property(column: str) -> str | None:
    """The enumeration property a column (or a rule field) shows, if it can be one: an
    option column of the registry gives its HubSpot property, other registry columns (text,
    times, memberships) none, `properties.<name>` and any other name is a property name."""
    if column.startswith(PROPERTY_PREFIX):
        return column.removeprefix(PROPERTY_PREFIX)
    known = BY_NAME.get(column)
    if known is None:
        return column
    return known.hubspot_property if known.kind is ColumnKind.CHOICE else None


def properties_of(columns: Iterable[str]) -> set[str]:
    """The properties whose options `columns` may need (what to read from the store)."""
    return {prop for column in columns if (prop := column_property(column))}


def column_options(labels: OptionLabels, columns: Iterable[str]) -> dict[str, Mapping[str, str]]:
    """{column: {value: label}} for each of `columns` that shows an enumeration."""
    found: dict[str, Mapping[str, str]] = {}
    for column in columns:
        prop = column_property(column)
        if prop and labels.get(prop):
            found[column] = labels[prop]
    return found


def label_value(options: Mapping[str, str], value: Any) -> Any:
    """The label of `value` (a multiple-checkbox value "a;b" reads "A; B"); anything that is
    not a known option (text, None, a value HubSpot no longer defines) as it is."""
    if not isinstance(value, str) or not value:
        return value
    found = options.get(value)
    if found is not None:
        return found
    if MULTI_SEPARATOR in value:
        parts = [part for part in value.split(MULTI_SEPARATOR) if part]
        if any(part in options for part in parts):
            return "; ".join(options.get(part, part) for part in parts)
    return value


def label_with_value(options: Mapping[str, str], value: Any) -> Any:
    """ "Former customer (1088421376)": the label, followed by the internal value where the
    two differ beyond case ("lead" reads "Lead"), for details where both help."""
    shown = label_value(options, value)
    if shown is value or not isinstance(shown, str) or shown.casefold() == value.casefold():
        return shown
    return f"{shown} ({value})"


def label_rows(
    rows: Sequence[Mapping[str, Any]], options: Mapping[str, Mapping[str, str]]
) -> list[dict[str, Any]]:
    """Copies of `rows` with each enumeration column (`options`' keys, see `column_options`)
    holding labels; the rows given are left as they are."""
    if not options:
        return [dict(row) for row in rows]
    labelled = []
    for row in rows:
        copy = dict(row)
        for column, by_value in options.items():
            if column in copy:
                copy[column] = label_value(by_value, copy[column])
        labelled.append(copy)
    return labelled


def label_facets(
    facets: Mapping[str, list[FacetValue]], labels: OptionLabels
) -> dict[str, list[FacetValue]]:
    """Facets whose options are enumeration values, with the options' labels (values stay
    what the filter and the URL use); custom stages ordered by label after the default ones."""
    shaped = dict(facets)
    for facet, column in FACET_COLUMNS.items():
        prop = column_property(column)
        options = labels.get(prop) if prop else None
        if facet not in shaped or not options:
            continue
        values = [
            dataclasses.replace(f, label=options.get(f.value, f.label)) for f in shaped[facet]
        ]
        shaped[facet] = sorted(
            values, key=lambda f: (*stage_sort_key(f.value)[:2], f.label.casefold())
        )
    return shaped


def label_contact(contact: Mapping[str, Any], labels: OptionLabels) -> dict[str, Any]:
    """A contact (as `explorer.get_contact` reads it) whose option columns and enumeration
    properties read "label (value)" (see `label_with_value`)."""
    shaped = dict(contact)
    for column, options in column_options(labels, [c for c in contact if c in BY_NAME]).items():
        shaped[column] = label_with_value(options, contact[column])
    properties = contact.get("properties") or {}
    shaped["properties"] = {
        name: label_with_value(labels[name], value) if labels.get(name) else value
        for name, value in properties.items()
    }
    return shaped
