"""Contacts of one driving set counted by (stage, segments, lists): the total and every
facet the driver leaves open follow from one grouped statement (see PERFORMANCE.md)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Literal, NamedTuple

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

from hubsync_core.store.explorer.filters import NO_STAGE, ContactFilter
from hubsync_core.store.explorer.sql import CONTACTS, MEMBERS, SEGMENTS
from hubsync_core.store.models import SEARCH_SEPARATOR

#: Drivers of a `Cube`: the carried search ids, the filter's own rows, or the members of
#: its segment or list selection.
Driver = Literal["ids", "rows", "segments", "lists"]


class Group(NamedTuple):
    """Contacts sharing a stage and memberships; a membership is None where not looked up."""

    stage: str | None
    segments: frozenset[str] | None
    lists: frozenset[str] | None
    count: int


class Cube:
    """The contacts of one driving set, counted by (stage, segments, lists).

    The total and every facet the driver leaves open follow from it in Python, so a filter
    change reads the set once, with one index lookup per contact and membership kind,
    instead of once per number shown. `segments` / `lists` of a group are None where they
    were not looked up (rows that cannot count for them); the driver's own selection holds
    for every row (a "segments" cube cannot count the segment facet).
    """

    def __init__(self, flt: ContactFilter, driver: Driver, rows: Iterable[Sequence[Any]]):
        self.flt = flt
        self.driver = driver
        self.groups: list[Group] = []
        for stage, members, n in rows:
            segments, _, lists = members.partition(PART_SEPARATOR)
            self.groups.append(Group(stage, _member_set(segments), _member_set(lists), int(n)))
        named = set(flt.lifecycle_stages) - {NO_STAGE}
        self._named, self._no_stage = named, NO_STAGE in flt.lifecycle_stages

    def answers(self, facet: str | None) -> bool:
        """Whether this cube counts `facet` (None: the total)."""
        return {"segment": "segments", "list": "lists"}.get(facet or "") != self.driver

    def stage_ok(self, stage: str | None) -> bool:
        if not self.flt.lifecycle_stages:
            return True
        if stage is None or stage == "":
            return self._no_stage
        return stage in self._named

    def _segments_ok(self, segments: frozenset[str] | None) -> bool:
        flt = self.flt
        if self.driver == "segments" or not flt.segments:
            return True
        assert segments is not None
        if flt.segment_match == "all":
            return all(key in segments for key in flt.segments)
        return any(key in segments for key in flt.segments)

    def _lists_ok(self, lists: frozenset[str] | None) -> bool:
        if self.driver == "lists" or not self.flt.list_ids:
            return True
        assert lists is not None
        return any(list_id in lists for list_id in self.flt.list_ids)

    def total(self) -> int:
        return sum(
            n
            for stage, segments, lists, n in self.groups
            if self.stage_ok(stage) and self._segments_ok(segments) and self._lists_ok(lists)
        )

    def stage_counts(self) -> dict[str | None, int]:
        counts: dict[str | None, int] = {}
        for stage, segments, lists, n in self.groups:
            if self._segments_ok(segments) and self._lists_ok(lists):
                counts[stage] = counts.get(stage, 0) + n
        return counts

    def segment_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for stage, segments, lists, n in self.groups:
            if self.stage_ok(stage) and self._lists_ok(lists):
                assert segments is not None
                for key in segments:
                    counts[key] = counts.get(key, 0) + n
        return counts

    def list_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for stage, segments, lists, n in self.groups:
            if self.stage_ok(stage) and self._segments_ok(segments):
                assert lists is not None
                for list_id in lists:
                    counts[list_id] = counts.get(list_id, 0) + n
        return counts


#: Cube keys: "segments␞lists", each part the keys joined by ␟, or ␝ where not looked up.
PART_SEPARATOR = "\x1e"
_NOT_LOOKED_UP = "\x1d"


def _member_set(joined: str) -> frozenset[str] | None:
    if joined == _NOT_LOOKED_UP:
        return None
    return frozenset(joined.split(SEARCH_SEPARATOR)) if joined else frozenset()


def joined_cube(
    where: list[ColumnElement[bool]],
    need_segments: ColumnElement[bool] | bool,
    need_lists: ColumnElement[bool] | bool,
) -> sa.Select[Any]:
    """`Cube`'s statement for PostgreSQL: each driving row's memberships from a LATERAL
    aggregate, one probe of the (hubspot_id, key) index per row that needs them, then
    grouped (why not a hash join: PERFORMANCE.md, "Counts and facets")."""
    c = CONTACTS.c
    source: Any = CONTACTS
    parts: list[ColumnElement[str]] = []
    for table, key, need in (
        (SEGMENTS, SEGMENTS.c.segment, need_segments),
        (MEMBERS, MEMBERS.c.list_id, need_lists),
    ):
        if need is False:
            parts.append(sa.literal(_NOT_LOOKED_UP, sa.Text))
            continue
        probe = [table.c.hubspot_id == c.hubspot_id]
        if need is not True:
            probe.append(need)  # a one-time filter per row: no probe for rows not needing it
        # An aggregate without GROUP BY gives one row for every contact (NULL: no members).
        found_keys = (
            sa.select(sa.func.string_agg(key, SEARCH_SEPARATOR).label("member_keys"))
            .where(*probe)
            .lateral(f"explore_{table.name}")
        )
        source = source.join(found_keys, sa.true())
        found = sa.func.coalesce(found_keys.c["member_keys"], "", type_=sa.Text)
        parts.append(
            found
            if need is True
            else sa.case((need, found), else_=sa.literal(_NOT_LOOKED_UP, sa.Text))
        )
    members = parts[0] + sa.literal(PART_SEPARATOR, sa.Text) + parts[1]
    return (
        sa.select(c.lifecyclestage, members, sa.func.count())
        .select_from(source)
        .where(*where)
        .group_by(*(sa.literal_column(str(i)) for i in (1, 2)))
    )


def membership_keys(
    table: sa.Table, value: sa.Column[Any], when: ColumnElement[bool] | bool, dialect: str
) -> ColumnElement[str]:
    """Each row's member keys joined by the separator ('' for none) where `when`, else
    `_NOT_LOOKED_UP`: one lookup in the (hubspot_id, key) index per row."""
    if when is False:
        return sa.literal(_NOT_LOOKED_UP, sa.Text)
    if dialect == "sqlite":
        joined = sa.func.group_concat(value, SEARCH_SEPARATOR)
    else:
        joined = sa.func.string_agg(value, SEARCH_SEPARATOR)
    found = sa.func.coalesce(
        sa.select(joined).where(table.c.hubspot_id == CONTACTS.c.hubspot_id).scalar_subquery(),
        "",
        type_=sa.Text,
    )
    if when is True:
        return found
    return sa.case((when, found), else_=sa.literal(_NOT_LOOKED_UP, sa.Text))
