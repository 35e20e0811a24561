"""The WHERE terms of a `ContactFilter`: search, archived mode, dates, email, segments,
lists and lifecycle stages. Every value is a bound parameter."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

from hubsync_core.store.explorer.filters import NO_STAGE, ContactFilter
from hubsync_core.store.explorer.sql import (
    CONTACTS,
    MEMBERS,
    SEGMENTS,
    no_index,
    opaque,
)
from hubsync_core.store.models import SEARCH_SEPARATOR, search_document

SEARCH_FIELDS: tuple[str, ...] = ("email", "company", "firstname", "lastname")


def escape_like(term: str) -> str:
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _like_patterns(term: str) -> list[str]:
    # SQLite's LIKE folds ASCII case only, and PostgreSQL's ILIKE folds other letters only
    # under a locale that knows them (not under C). For a term with other letters also try
    # its lower, upper and title-case forms: "émile" finds "Émile", "müller" finds "MÜLLER"
    # on both. (A match mixing cases of non-ASCII letters, "ÉMile" for "émile", is the miss.)
    forms = [term]
    if not term.isascii():
        forms += [term.lower(), term.upper(), term.title(), term.capitalize()]
    # Forms that differ only in ASCII letters match the same texts: one pattern each.
    distinct: dict[str, str] = {}
    for form in forms:
        distinct.setdefault(_fold_ascii(form), form)
    return [f"%{escape_like(form)}%" for form in distinct.values()]


def _fold_ascii(text: str) -> str:
    return "".join(ch.lower() if ch.isascii() else ch for ch in text)


def uses_search_document(term: str) -> bool:
    """Whether a search for `term` can scan the search document (see `search_clause`)."""
    return SEARCH_SEPARATOR not in term


def search_clause(term: str, dialect: str) -> ColumnElement[bool]:
    """Case-insensitive substring match over email, company, first, last and full name.

    Matched against one text per contact, "email␟company␟first last" (`search_document`,
    indexed), which gives the same answers as matching each field: a term without the
    separator cannot span two fields, and one can only span "first last" by holding the
    space, when the full name is one of the fields anyway. A term holding the separator is
    matched field by field.
    """
    c = CONTACTS.c
    if uses_search_document(term):
        fields: list[ColumnElement[Any]] = [_search_document(dialect)]
    else:
        fields = [c.email, c.company, c.firstname, c.lastname]
        if any(ch.isspace() for ch in term):
            fields.append(
                sa.func.coalesce(c.firstname, "") + " " + sa.func.coalesce(c.lastname, "")
            )
    patterns = _like_patterns(term)
    if dialect == "sqlite":
        return sa.or_(*(f.like(p, escape="\\") for p in patterns for f in fields))
    return sa.or_(*(f.ilike(p, escape="\\") for p in patterns for f in fields))


def _search_document(dialect: str) -> ColumnElement[str]:
    c = CONTACTS.c
    return search_document({name: c[name] for name in SEARCH_FIELDS}, dialect)


def day_start(day: date) -> datetime:
    """Midnight UTC starting `day`, naive like the stored timestamps (see `clock`)."""
    return datetime(day.year, day.month, day.day)


def archived_term(mode: str, dialect: str, *, indexed: bool = False) -> ColumnElement[bool] | None:
    """The archived mode's term; `indexed`: let SQLite reach live contacts through the
    (archived, date, ...) indexes (see PERFORMANCE.md)."""
    c = CONTACTS.c
    if mode == "include":
        return None
    if mode == "only":
        return archived_only(dialect)
    if dialect != "sqlite":
        return c.archived == sa.false()
    archived = c.archived if indexed else no_index(c.archived, dialect)
    # likely(): tells the planner the term keeps most rows.
    return sa.func.likely(archived == sa.false())


def archived_only(dialect: str) -> ColumnElement[bool]:
    archived = CONTACTS.c.archived == sa.true()
    # Few rows are archived: without the hint SQLite may walk another index to save a sort
    # and read every row (40x slower at 200k).
    return sa.func.unlikely(archived) if dialect == "sqlite" else archived


def segment_members(flt: ContactFilter) -> list[sa.Select[Any]]:
    """One id subquery per condition: all selected segments for "any", each one for "all"."""

    def members(names: Sequence[str]) -> sa.Select[Any]:
        # The (segment, hubspot_id) primary key makes this an index range per segment.
        return sa.select(SEGMENTS.c.hubspot_id).where(SEGMENTS.c.segment.in_(list(names)))

    if not flt.segments:
        return []
    if flt.segment_match == "any" or len(flt.segments) == 1:
        return [members(flt.segments)]
    # "all": one IN per segment. (Measured against one correlated EXISTS per segment: the
    # IN lists are built once from the index, EXISTS probes it per contact, 4x slower.)
    return [members([name]) for name in flt.segments]


def segment_terms(
    flt: ContactFilter, dialect: str = "", *, probe: bool = False
) -> list[ColumnElement[bool]]:
    """`probe`: test each row against the member lists rather than look members up."""
    if not flt.segments:
        return []
    if probe:
        hubspot_id = no_index(CONTACTS.c.hubspot_id, dialect)
        return [hubspot_id.in_(members) for members in segment_members(flt)]
    return [CONTACTS.c.hubspot_id.in_(segment_ids(flt, dialect))]


def segment_ids(flt: ContactFilter, dialect: str) -> sa.Select[Any] | sa.CompoundSelect[Any]:
    """The ids in the segment selection, to look each one up (combined in id order on
    SQLite, hashed on PostgreSQL)."""
    cs = SEGMENTS.c
    if len(flt.segments) == 1 or (dialect != "sqlite" and flt.segment_match == "any"):
        return sa.select(cs.hubspot_id).where(cs.segment.in_(list(flt.segments)))
    if dialect != "sqlite":
        # "all": members of the first whose id is in each of the others (hash semi-joins).
        first, *others = flt.segments
        tests = []
        for key in others:
            other = SEGMENTS.alias()
            tests.append(
                cs.hubspot_id.in_(sa.select(other.c.hubspot_id).where(other.c.segment == key))
            )
        return sa.select(cs.hubspot_id).where(cs.segment == first, *tests)
    ranges = [sa.select(cs.hubspot_id).where(cs.segment == key) for key in flt.segments]
    combine = sa.union if flt.segment_match == "any" else sa.intersect
    return combine(*ranges).order_by(sa.literal_column("1"))


def membership_tests(flt: ContactFilter) -> list[ColumnElement[bool]]:
    """Segment and list conditions as one index probe per row (correlated EXISTS), for a
    page walked in sort order."""
    c = CONTACTS.c

    def member(table: sa.Table, key: sa.Column[Any], values: Sequence[str]) -> ColumnElement[bool]:
        return sa.exists().where(table.c.hubspot_id == c.hubspot_id, key.in_(list(values)))

    groups = [flt.segments] if flt.segment_match == "any" else [(k,) for k in flt.segments]
    tests = [member(SEGMENTS, SEGMENTS.c.segment, keys) for keys in groups if keys]
    if flt.list_ids:
        tests.append(member(MEMBERS, MEMBERS.c.list_id, flt.list_ids))
    return tests


def list_members(flt: ContactFilter) -> sa.Select[Any]:
    return sa.select(MEMBERS.c.hubspot_id).where(MEMBERS.c.list_id.in_(flt.list_ids))


def list_terms(
    flt: ContactFilter, dialect: str = "", *, probe: bool = False
) -> list[ColumnElement[bool]]:
    if not flt.list_ids:
        return []
    hubspot_id = no_index(CONTACTS.c.hubspot_id, dialect) if probe else CONTACTS.c.hubspot_id
    return [hubspot_id.in_(list_members(flt))]


def stage_terms(flt: ContactFilter) -> list[ColumnElement[bool]]:
    if not flt.lifecycle_stages:
        return []
    c = CONTACTS.c
    named = [s for s in flt.lifecycle_stages if s != NO_STAGE]
    options: list[ColumnElement[bool]] = []
    if named:
        options.append(c.lifecyclestage.in_(named))
    if NO_STAGE in flt.lifecycle_stages:
        options += [c.lifecyclestage.is_(None), c.lifecyclestage == ""]
    return [sa.or_(*options)]


def row_terms(
    flt: ContactFilter, dialect: str, *, walk: bool = False, lookup: bool = False
) -> list[ColumnElement[bool]]:
    """Terms on the contact's own columns, but its stage: archived, search, dates, email.

    `walk`: for a page read in date order from the (archived, date, ...) index (SQLite):
    only the archived term may use an index, the others are tested on each row walked.
    `lookup`: for contacts looked up by id (`ix_contacts_id_facets`, which holds archived).
    """
    c = CONTACTS.c
    terms: list[ColumnElement[bool]] = []
    if flt.search:
        # First: in the search index's scan, rows the term rejects never read the table.
        terms.append(search_clause(flt.search, dialect))
    dated: list[ColumnElement[bool]] = []
    for column, start, end in (
        (c.created_at, flt.created_from, flt.created_to),
        (c.updated_at, flt.modified_from, flt.modified_to),
    ):
        if start is not None:
            dated.append(column >= day_start(start))
        if end is not None:
            dated.append(column < day_start(end + timedelta(days=1)))
    archived = archived_term(flt.archived, dialect, indexed=walk or lookup or bool(dated))
    if archived is not None:
        terms.append(archived)
    terms += dated
    if flt.has_email is True:
        terms.append(sa.and_(c.email.is_not(None), c.email != ""))
    elif flt.has_email is False:
        terms.append(sa.or_(c.email.is_(None), c.email == ""))
    if walk:
        return [t if t is archived else opaque(t, dialect) for t in terms]
    return terms


def filter_terms(
    flt: ContactFilter, dialect: str, *, probe: bool = False
) -> list[ColumnElement[bool]]:
    """The WHERE terms of a filter (ANDed). Every value is a bound parameter."""
    return [
        *row_terms(flt, dialect),
        *list_terms(flt, dialect, probe=probe),
        *segment_terms(flt, dialect, probe=probe),
        *stage_terms(flt),
    ]


def rows_only(flt: ContactFilter) -> ContactFilter:
    """`flt` without its segment, list and stage selections (the facets' own)."""
    return replace(flt, segments=(), segment_match="any", lifecycle_stages=(), list_ids=())


def is_trivial(flt: ContactFilter) -> bool:
    """Nothing narrows the filter but its archived mode."""
    return not flt.segments and replace(flt, segment_match="any") == ContactFilter(
        archived=flt.archived
    )
