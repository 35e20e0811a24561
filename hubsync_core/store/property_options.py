"""Enumeration property options: HubSpot's internal value and the label a person reads.

HubSpot stores an enumeration (lifecycle stage, lead status, any custom dropdown) by its
internal value, which for custom options is often a number ("1088421376"); people know the
option by its label ("Former customer"). Each sync replaces the stored options with what the
properties API says, so labels follow renames in HubSpot. Values stay what is stored, filtered
and exported by default; labels are for display (and an export that asks for them).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import sqlalchemy as sa
from sqlalchemy import Column, Text
from sqlalchemy.engine import Connection
from sqlmodel import Field, SQLModel

from hubsync_core.store.database import Database

#: {property name: {internal value: label}}.
OptionLabels = Mapping[str, Mapping[str, str]]


class PropertyOption(SQLModel, table=True):
    """One option of one enumeration property, as the properties API listed it."""

    __tablename__ = "property_options"

    property_name: str = Field(primary_key=True, max_length=200)
    value: str = Field(primary_key=True, max_length=400)
    label: str = Field(sa_column=Column(Text, nullable=False))
    display_order: int = Field(default=0)


OPTIONS = PropertyOption.__table__  # type: ignore[attr-defined]


def create_table(conn: Connection) -> None:
    """Schema step: the options table."""
    SQLModel.metadata.create_all(conn, tables=[OPTIONS])


def replace_options(conn: Connection, options: Iterable[tuple[str, str, str, int]]) -> int:
    """Replace every stored option with `options` ((property, value, label, order) rows) in
    the caller's transaction; returns how many were stored."""
    rows = {
        (prop, value): {"property_name": prop, "value": value, "label": label, "display_order": n}
        for prop, value, label, n in options
    }
    conn.execute(OPTIONS.delete())
    if rows:
        conn.execute(OPTIONS.insert(), list(rows.values()))
    return len(rows)


def option_labels(
    db: Database | Connection, properties: Iterable[str] | None = None
) -> dict[str, dict[str, str]]:
    """{property: {value: label}} for every stored option (or only those of `properties`),
    in HubSpot's display order."""
    query = sa.select(OPTIONS.c.property_name, OPTIONS.c.value, OPTIONS.c.label).order_by(
        OPTIONS.c.property_name, OPTIONS.c.display_order, OPTIONS.c.value
    )
    if properties is not None:
        # A page needs the options of the few columns it shows, not of every property.
        query = query.where(OPTIONS.c.property_name.in_(sorted(set(properties))))
    if isinstance(db, Connection):
        result = db.execute(query).all()
    else:
        with db.connect() as conn:
            result = conn.execute(query).all()
    labels: dict[str, dict[str, str]] = {}
    for prop, value, label in result:
        labels.setdefault(prop, {})[value] = label
    return labels


def label_of(labels: OptionLabels, prop: str, value: str | None) -> str | None:
    """The label of `value` for `prop` (the value itself when the option is unknown)."""
    if value is None:
        return None
    return labels.get(prop, {}).get(value, value)
