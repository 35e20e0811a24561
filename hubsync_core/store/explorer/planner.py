"""The query planner: the SQL for one filter on one connection, chosen to stay fast at size."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy import Connection
from sqlalchemy.sql.elements import ColumnElement

from hubsync_core.store.explorer.cube import (
    PART_SEPARATOR,
    Cube,
    Driver,
    Group,
    joined_cube,
    membership_keys,
)
from hubsync_core.store.explorer.filters import ContactFilter
from hubsync_core.store.explorer.sql import (
    CONTACTS,
    ID_FACETS_INDEX,
    MEMBERS,
    SEGMENTS,
    IndexedSelect,
    ids_in,
    no_index,
)
from hubsync_core.store.explorer.terms import (
    archived_only,
    filter_terms,
    is_trivial,
    list_members,
    list_terms,
    membership_tests,
    row_terms,
    rows_only,
    segment_ids,
    segment_members,
    segment_terms,
    stage_terms,
    uses_search_document,
)
from hubsync_core.store.models import SEARCH_INDEX

_STORED_KEYS = sa.text(
    """
    WITH RECURSIVE k(v) AS (
        SELECT min(segment) FROM contact_segments
        UNION ALL
        SELECT (SELECT min(segment) FROM contact_segments WHERE segment > k.v)
        FROM k WHERE k.v IS NOT NULL
    )
    SELECT v FROM k WHERE v IS NOT NULL
    """
)


def stored_keys(conn: Connection) -> list[str]:
    return [str(key) for key in conn.execute(_STORED_KEYS).scalars()]


class Plan:
    """The SQL for one filter on one connection, picking plans that stay fast at size.

    It carries a search's hits between statements (`narrow_ids`), counts the total and
    facets from a `Cube` where a driving set smaller than the table exists, and otherwise
    from the indexes. The reasons and measurements: PERFORMANCE.md.
    """

    #: At most this many search hits are carried between statements as ids.
    NARROW_LIMIT = 200_000
    #: Whether totals and facets may come from cubes; tests turn it off to hold the
    #: statement-per-count plans to the same answers.
    CUBES = True

    def __init__(
        self,
        conn: Connection,
        dialect: str,
        flt: ContactFilter,
        *,
        narrow: bool = True,
        facets: Iterable[str] = (),
    ) -> None:
        self.conn = conn
        self.dialect = dialect
        self.flt = flt
        self.facets = frozenset(facets)
        self.row_filter = rows_only(flt)
        self._narrow: list[str] | None = None
        self._probed = not narrow
        self._counts: dict[ContactFilter, int] = {}
        self._all: int | None = None
        self._members: dict[str, int] | None = None
        self._list_members: dict[str, int] | None = None
        self._driver: Driver | Literal[False] | None = False
        self._cubes: dict[Driver, Cube] = {}

    def narrow_ids(self) -> list[str] | None:
        """The ids matching the filter's row terms, for a search with at most `NARROW_LIMIT`
        hits (not on PostgreSQL with the trigram index); None otherwise."""
        if not self._probed:
            self._probed = True
            # Only a search is worth carrying ids for: other row terms are index ranges
            # whose cost already follows the number of matches.
            if self.row_filter.search and not self._search_indexed_pg():
                stmt = (
                    sa.select(CONTACTS.c.hubspot_id)
                    .where(*row_terms(self.row_filter, self.dialect))
                    .limit(self.NARROW_LIMIT + 1)
                )
                runnable: Any = stmt
                if uses_search_document(self.row_filter.search):
                    runnable = IndexedSelect(stmt, SEARCH_INDEX)
                ids = list(self.conn.execute(runnable).scalars().all())
                if len(ids) <= self.NARROW_LIMIT:
                    self._narrow = ids
                    self._counts[self.row_filter] = len(ids)
        return self._narrow

    def _search_indexed_pg(self) -> bool:
        if self.dialect != "postgresql" or not uses_search_document(self.row_filter.search or ""):
            return False
        found = self.conn.execute(
            sa.select(sa.func.to_regclass(SEARCH_INDEX).is_not(None))
        ).scalar_one()
        return bool(found)

    def where(self, flt: ContactFilter, *, probe: bool = False) -> list[ColumnElement[bool]]:
        """Terms for `flt`, which must share this plan's row terms (it may drop selections)."""
        ids = self.narrow_ids()
        if ids is None:
            return filter_terms(flt, self.dialect, probe=probe)
        return [
            ids_in(CONTACTS.c.hubspot_id, ids, self.dialect),
            *list_terms(flt, self.dialect, probe=probe),
            *segment_terms(flt, self.dialect, probe=probe),
            *stage_terms(flt),
        ]

    def dense_members(self, flt: ContactFilter) -> bool:
        """Whether every segment/list condition of `flt` holds >= 2% of contacts: then testing
        rows against the member lists beats looking each member up (SQLite's usual choice)."""
        if self.dialect != "sqlite" or not (flt.segments or flt.list_ids):
            return False
        conditions = segment_members(flt) + ([list_members(flt)] if flt.list_ids else [])
        for members in conditions:
            size = self._scalar(sa.select(sa.func.count()).select_from(members.subquery()))
            if size * 50 < self.all_count():
                return False
        return True

    def _scalar(self, stmt: sa.Select[Any]) -> int:
        return int(self.conn.execute(stmt).scalar_one())

    def all_count(self) -> int:
        """Every stored contact, archived included (PostgreSQL: its row estimate): the size
        plans are weighed against."""
        if self._all is None:
            estimate = -1
            if self.dialect == "postgresql":
                found = self.conn.exec_driver_sql(
                    "SELECT reltuples FROM pg_class WHERE oid = 'contacts'::regclass"
                ).scalar()
                estimate = int(found) if found is not None else -1
            if estimate <= 0:
                estimate = self._scalar(sa.select(sa.func.count()).select_from(CONTACTS))
            self._all = estimate
        return self._all

    def all_members(self) -> dict[str, int]:
        """Rows per segment key in contact_segments, archived contacts included (the primary
        key alone answers it; also tells which keys are stored)."""
        if self._members is None:
            stmt = sa.select(SEGMENTS.c.segment, sa.func.count()).group_by(SEGMENTS.c.segment)
            self._members = {s: int(n) for s, n in self.conn.execute(stmt).all()}
        return self._members

    def stored_keys(self) -> list[str]:
        """The segment keys present in contact_segments."""
        if self._members is not None:
            return list(self._members)
        return stored_keys(self.conn)

    def segment_sizes(self, keys: Sequence[str]) -> dict[str, int]:
        """Rows in contact_segments of each of `keys` (index ranges), archived included."""
        if self._members is not None:
            return {key: self._members.get(key, 0) for key in keys}
        stmt = (
            sa.select(SEGMENTS.c.segment, sa.func.count())
            .where(SEGMENTS.c.segment.in_(list(keys)))
            .group_by(SEGMENTS.c.segment)
        )
        found = {s: int(n) for s, n in self.conn.execute(stmt).all()}
        return {key: found.get(key, 0) for key in keys}

    def all_list_members(self) -> dict[str, int]:
        """Rows per list in list_memberships, archived contacts included."""
        if self._list_members is None:
            stmt = sa.select(MEMBERS.c.list_id, sa.func.count()).group_by(MEMBERS.c.list_id)
            self._list_members = {i: int(n) for i, n in self.conn.execute(stmt).all()}
        return self._list_members

    # -- cubes -------------------------------------------------------------------------

    def cube_for(self, facet: str | None) -> Cube | None:
        """A cube that counts `facet` (None: the total), or None where the statement plans
        are cheaper. Only for a plan asked for facets (a lone count takes its statement)."""
        if not (self.CUBES and self.facets):
            return None
        driver = self._primary_driver()
        if driver is None:
            return None
        cube = self._cube(driver)
        if cube.answers(facet):
            return cube
        # The driver's own facet (with no other membership selection, see `_member_counts`):
        # all members but the archived, or drive by the rows.
        flt = self.flt
        base = replace(flt, segments=()) if driver == "segments" else replace(flt, list_ids=())
        if is_trivial(base):
            return None  # every member but the archived ones: the membership index answers
        if flt.lifecycle_stages or self._rows_are_few():
            return self._cube("rows")
        return None

    def _member_counts(self, facet: str) -> dict[str, int] | None:
        """With both a segment and a list selection: contacts per segment (or per list)
        under the filter without that selection. Driven by the members of the other
        selection, each member row tested against the contact's terms by one probe of
        `ix_contacts_id_facets`; None in any other case."""
        flt = self.flt
        if not (self.CUBES and self.facets and flt.segments and flt.list_ids):
            return None
        # The primary cube (built for the total anyway) answers the facet its driver
        # leaves open: every row of the other selection with its memberships.
        own: Driver = "segments" if facet == "segment" else "lists"
        if self._primary_driver() != own:
            return None
        if facet == "segment":
            table, key = SEGMENTS, SEGMENTS.c.segment
            base = replace(flt, segments=(), segment_match="any")
            driver: Any = list_members(flt)
        else:
            table, key = MEMBERS, MEMBERS.c.list_id
            base = replace(flt, list_ids=())
            driver = segment_ids(flt, self.dialect)
        contact = sa.select(sa.literal(1)).where(
            CONTACTS.c.hubspot_id == table.c.hubspot_id,
            *row_terms(rows_only(base), self.dialect, lookup=True),
            *stage_terms(base),
        )
        stmt = (
            sa.select(key, sa.func.count())
            .where(table.c.hubspot_id.in_(driver), sa.exists(contact))
            .group_by(key)
        )
        found = self.conn.execute(IndexedSelect(stmt, ID_FACETS_INDEX)).all()
        return {k: int(n) for k, n in found}

    def _primary_driver(self) -> Driver | None:
        if self._driver is False:
            self._driver = self._choose_driver()
        return self._driver

    def _choose_driver(self) -> Driver | None:
        flt = self.flt
        if flt.search and self.narrow_ids() is not None:
            return "ids"
        if flt.segments and flt.list_ids:
            members = self.segment_sizes(flt.segments)
            if flt.segment_match == "all":
                segments = min(members.get(key, 0) for key in flt.segments)
            else:
                segments = sum(members.get(key, 0) for key in flt.segments)
            lists = sum(self.all_list_members().get(i, 0) for i in flt.list_ids)
            return "segments" if segments <= lists else "lists"
        if flt.segments:
            return "segments"
        if flt.list_ids:
            return "lists"
        if flt.lifecycle_stages or self._rows_are_few():
            # Memberships are looked up only for rows in the stage selection (if any).
            return "rows"
        return None

    def _rows_are_few(self) -> bool:
        """Whether the row terms keep at most half of the contacts (then looking up each
        one's memberships beats counting all members minus those outside)."""
        if is_trivial(self.row_filter):
            return False
        if self.dialect == "postgresql" and self.row_filter not in self._counts:
            # Its row estimate: the choice only weighs plans (both give the same answers),
            # and counting first would read every matching row once more.
            return self._estimated_rows(self.row_filter) * 2 <= self.all_count()
        return self._count(self.row_filter) * 2 <= self.all_count()

    def _estimated_rows(self, flt: ContactFilter) -> int:
        """PostgreSQL's estimate of the contacts matching `flt` (planned, not run)."""
        stmt = sa.select(CONTACTS.c.hubspot_id).where(*self.where(flt))
        compiled = stmt.compile(
            dialect=self.conn.dialect, compile_kwargs={"render_postcompile": True}
        )
        found = self.conn.exec_driver_sql(
            f"EXPLAIN (FORMAT JSON) {compiled}", compiled.params
        ).scalar_one()
        plan = json.loads(found) if isinstance(found, str) else found
        return int(plan[0]["Plan"]["Plan Rows"])

    def _cube(self, driver: Driver) -> Cube:
        if driver in self._cubes:
            return self._cubes[driver]
        flt, dialect = self.flt, self.dialect
        c = CONTACTS.c
        if driver == "ids":
            where = [ids_in(c.hubspot_id, self.narrow_ids() or [], dialect)]
        else:
            where = row_terms(self.row_filter, dialect, lookup=True)
            if driver == "segments":
                where += segment_terms(flt, dialect)
            elif driver == "lists":
                where += list_terms(flt, dialect)
        in_stages = stage_terms(flt)
        in_stage: ColumnElement[bool] | None = in_stages[0] if in_stages else None
        # Rows outside the stage selection count for the stage facet alone: with no
        # membership selection their stages are counted apart (from the index, no lookups)
        # and the cube reads only the selected stages.
        outside: list[tuple[str | None, int]] = []
        if driver == "rows" and in_stage is not None:
            if not (flt.segments or flt.list_ids):
                by_stage = sa.select(c.lifecyclestage, sa.func.count()).where(*where)
                outside = [
                    (stage, int(n))
                    for stage, n in self.conn.execute(by_stage.group_by(c.lifecyclestage))
                ]
            where = [*where, in_stage]
            in_stage = None

        def needed(selected: bool, facet: str, own: Driver) -> ColumnElement[bool] | bool:
            """Which rows need this membership looked up."""
            if driver == own:
                return False  # the driver's selection holds; its facet is not counted here
            if selected:
                return True  # every row is tested against the selection
            if facet in self.facets:
                return True if in_stage is None else in_stage  # rows the facet counts
            return False

        need_segments = needed(bool(flt.segments), "segment", "segments")
        need_lists = needed(bool(flt.list_ids), "list", "lists")
        if dialect == "postgresql":
            runnable: Any = joined_cube(where, need_segments, need_lists)
        else:
            segments = membership_keys(SEGMENTS, SEGMENTS.c.segment, need_segments, dialect)
            lists = membership_keys(MEMBERS, MEMBERS.c.list_id, need_lists, dialect)
            # One text key for both memberships: SQLite sorts one column for the grouping
            # about a quarter faster than two.
            members = segments + sa.literal(PART_SEPARATOR, sa.Text) + lists
            runnable = (
                sa.select(c.lifecyclestage, members, sa.func.count())
                .where(*where)
                .group_by(*(sa.literal_column(str(i)) for i in (1, 2)))
            )
            if driver != "rows":
                # From each id to its stage in the narrow (hubspot_id, archived, stage, ...)
                # index; without statistics SQLite prefers the unique key and reads wide rows.
                runnable = IndexedSelect(runnable, ID_FACETS_INDEX)
        cube = Cube(flt, driver, self.conn.execute(runnable).all())
        cube.groups += [Group(st, None, None, n) for st, n in outside if not cube.stage_ok(st)]
        self._cubes[driver] = cube
        return cube

    # -- counts ------------------------------------------------------------------------

    def count(self, flt: ContactFilter, cap: int | None = None) -> int:
        """Contacts matching `flt`; with `cap`, at most cap + 1 (Datasette-style)."""
        if flt not in self._counts and flt == self.flt and (cube := self.cube_for(None)):
            self._counts[flt] = cube.total()
        return self._count(flt, cap)

    def _count(self, flt: ContactFilter, cap: int | None = None) -> int:
        """`count` by statements (no cube)."""
        if flt in self._counts:
            found = self._counts[flt]
            return found if cap is None else min(found, cap + 1)
        if self.narrow_ids() is None and flt.segments and is_trivial(replace(flt, segments=())):
            total = self._segment_only_count(flt)
        else:
            inner = sa.select(CONTACTS.c.hubspot_id).where(*self.where(flt))
            if cap is not None:
                # Stop counting after cap + 1 rows.
                inner = inner.limit(cap + 1)
            total = self._scalar(sa.select(sa.func.count()).select_from(inner.subquery()))
            if cap is not None:
                return total
        self._counts[flt] = total
        return total if cap is None else min(total, cap + 1)

    def _segment_only_count(self, flt: ContactFilter) -> int:
        """Members of the selected segments, from the membership index, less the archived."""
        cs = SEGMENTS.c

        def members(extra: list[ColumnElement[bool]]) -> int:
            stmt = sa.select(cs.hubspot_id).where(cs.segment.in_(flt.segments), *extra)
            if flt.segment_match == "all" and len(flt.segments) > 1:
                k = len(flt.segments)
                stmt = stmt.group_by(cs.hubspot_id).having(sa.func.count() == k)
            elif len(flt.segments) > 1:
                stmt = stmt.distinct()
            return self._scalar(sa.select(sa.func.count()).select_from(stmt.subquery()))

        archived = 0
        if flt.archived != "include":
            # The few archived contacts, each tested by one probe of the (segment,
            # hubspot_id) key: half the CPU of testing every member against a list of them.
            stmt = sa.select(sa.func.count()).where(
                archived_only(self.dialect), *membership_tests(flt)
            )
            archived = self._scalar(stmt)
        if flt.archived == "only":
            return archived
        # Sound because every contact_segments row has its contact (contacts are archived,
        # never deleted, and clearing contacts clears memberships too).
        return members([]) - archived

    def segment_counts(self) -> dict[str, int]:
        """Contacts per segment under the filter without its segment selection."""
        if (counts := self._member_counts("segment")) is not None:
            return counts
        if cube := self.cube_for("segment"):
            return cube.segment_counts()
        base = replace(self.flt, segments=(), segment_match="any")

        def members_of(contacts_where: list[ColumnElement[bool]]) -> dict[str, int]:
            ids = sa.select(CONTACTS.c.hubspot_id).where(*contacts_where)
            stmt = (
                sa.select(SEGMENTS.c.segment, sa.func.count())
                .where(SEGMENTS.c.hubspot_id.in_(ids))
                .group_by(SEGMENTS.c.segment)
            )
            return {s: int(n) for s, n in self.conn.execute(stmt)}

        every_member = self.all_members
        # Counting the members of a large set costs a lookup per membership row; when the
        # set is most of the table, count all members and subtract those outside it.
        if self.narrow_ids() is None:
            if is_trivial(base):
                archived = [archived_only(self.dialect)]
                if base.archived == "include":
                    return every_member()
                if base.archived == "only":
                    return members_of(archived)
                return _subtract(every_member(), members_of(archived))
            if self.count(base) > self.all_count() // 2:
                outside = sa.not_(sa.func.coalesce(sa.and_(*self.where(base)), sa.false()))
                return _subtract(every_member(), members_of([outside]))
        return members_of(self.where(base))

    def stage_counts(self) -> dict[str | None, int]:
        """Contacts per lifecycle stage under the filter without its stage selection."""
        if cube := self.cube_for("lifecycle"):
            return cube.stage_counts()
        base = replace(self.flt, lifecycle_stages=())
        stage = CONTACTS.c.lifecyclestage

        def by_stage(where: list[ColumnElement[bool]], key: ColumnElement[Any]) -> dict[Any, int]:
            stmt = sa.select(key, sa.func.count()).where(*where).group_by(key)
            return {s: int(n) for s, n in self.conn.execute(stmt)}

        # Grouping through the stage index would read rows in stage order, one random
        # read each; a scan and a small sort is cheaper.
        scanned = no_index(stage, self.dialect).label("stage")
        if self.narrow_ids() is None:
            if is_trivial(base):
                # All stages from the lifecycle-stage index alone, minus the (few) archived.
                if base.archived == "include":
                    return by_stage([], stage)
                archived = by_stage([archived_only(self.dialect)], stage)
                return (
                    archived
                    if base.archived == "only"
                    else _subtract(by_stage([], stage), archived)
                )
            if self.count(base) > self.all_count() // 2:
                outside = sa.not_(sa.func.coalesce(sa.and_(*self.where(base)), sa.false()))
                return _subtract(by_stage([], stage), by_stage([outside], scanned))
        return by_stage(self.where(base, probe=self.dense_members(base)), scanned)

    def list_counts(self) -> dict[str, int]:
        """Contacts per list under the filter without its list selection."""
        if (counts := self._member_counts("list")) is not None:
            return counts
        if cube := self.cube_for("list"):
            return cube.list_counts()
        base = replace(self.flt, list_ids=())

        def members_of(where: list[ColumnElement[bool]]) -> dict[str, int]:
            ids = sa.select(CONTACTS.c.hubspot_id).where(*where)
            stmt = (
                sa.select(MEMBERS.c.list_id, sa.func.count())
                .where(MEMBERS.c.hubspot_id.in_(ids))
                .group_by(MEMBERS.c.list_id)
            )
            return {list_id: int(n) for list_id, n in self.conn.execute(stmt).all()}

        if self.narrow_ids() is None and is_trivial(base):
            # As for segments: all members from the primary key, less the (few) archived ones.
            if base.archived == "include":
                return dict(self.all_list_members())
            archived = members_of([archived_only(self.dialect)])
            if base.archived == "only":
                return archived
            return _subtract(self.all_list_members(), archived)
        return members_of(self.where(base))


def _subtract(total: dict[Any, int], part: dict[Any, int]) -> dict[Any, int]:
    return {key: total.get(key, 0) - part.get(key, 0) for key in total}
