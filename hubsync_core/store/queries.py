"""The read side of the store: filters, pages, counts, facets, one contact, overview, SDK rows.

Everything runs in SQL with server-side pagination and returns plain data (dicts and frozen
dataclasses), so the Contacts and Overview pages, the CLI and the SDK share one query builder.

- `ContactFilter` is what a view asks for; it round-trips through URL query parameters.
- `explore` gives a page, its total and facet counts on one connection (what a filter change
  needs); `query_contacts`, `count_contacts` and `facet_counts` give each part alone, and
  `iter_contact_chunks` streams every matching row for exports.
- Search is a case-insensitive substring match (LIKE/ILIKE, `%` and `_` escaped, bound
  parameters) over email, company, first, last and full name.
- Segment filters and facets use segment *keys* (`contact_segments.segment`); facet labels
  carry the display names from `segment_store`.

Plans are chosen to stay fast at 200,000 contacts on SQLite (see `_Plan`; measured by
`benchmarks/bench_explorer.py`).
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy import Connection
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.base import Executable
from sqlalchemy.sql.elements import ClauseElement, ColumnElement, UnaryExpression
from sqlalchemy.sql.operators import custom_op

from hubsync_core.store import segment_store
from hubsync_core.store.database import Database
from hubsync_core.store.models import (
    SEARCH_INDEX,
    SEARCH_SEPARATOR,
    Contact,
    ContactSegmentRow,
    HubSpotList,
    ListMembership,
    SyncRun,
    search_document,
)

CONTACTS: sa.Table = Contact.__table__  # type: ignore[attr-defined]
SEGMENTS: sa.Table = ContactSegmentRow.__table__  # type: ignore[attr-defined]
LISTS: sa.Table = HubSpotList.__table__  # type: ignore[attr-defined]
MEMBERS: sa.Table = ListMembership.__table__  # type: ignore[attr-defined]
RUNS: sa.Table = SyncRun.__table__  # type: ignore[attr-defined]

SegmentMatch = Literal["any", "all"]
ArchivedMode = Literal["hide", "include", "only"]
SEGMENT_MATCHES: tuple[str, ...] = ("any", "all")
ARCHIVED_MODES: tuple[str, ...] = ("hide", "include", "only")

#: Lifecycle-stage filter and facet value standing for "no stage" (NULL or empty).
NO_STAGE = "(none)"
#: HubSpot's default lifecycle stages in funnel order; others (custom) come after them.
FUNNEL_STAGES: tuple[str, ...] = (
    "subscriber",
    "lead",
    "marketingqualifiedlead",
    "salesqualifiedlead",
    "opportunity",
    "customer",
    "evangelist",
)
MAX_SEARCH_LENGTH = 200

#: Stored columns of `contacts` a row may carry (not `properties`: that is opt-in).
CONTACT_FIELDS: tuple[str, ...] = (
    "hubspot_id",
    "email",
    "firstname",
    "lastname",
    "company",
    "phone",
    "jobtitle",
    "lifecyclestage",
    "created_at",
    "updated_at",
    "synced_at",
    "archived",
    "archived_at",
    "archived_reason",
)
#: Columns computed from other tables (one query per page each).
MEMBERSHIP_FIELDS: tuple[str, ...] = ("segments", "list_memberships")
#: What `query_contacts` returns when no columns are named.
DEFAULT_COLUMNS: tuple[str, ...] = CONTACT_FIELDS + MEMBERSHIP_FIELDS
#: Columns a page may be sorted by.
SORTABLE_COLUMNS: tuple[str, ...] = (
    "email",
    "firstname",
    "lastname",
    "company",
    "jobtitle",
    "lifecyclestage",
    "created_at",
    "updated_at",
    "hubspot_id",
    "phone",
)
_TEXT_SORTS = frozenset({"email", "firstname", "lastname", "company", "jobtitle", "phone"})
#: Any other requested column is read from the `properties` JSON (HubSpot property names).
_PROPERTY_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]{0,99}$")

#: URL query parameter names used by `ContactFilter.to_query_params`.
QUERY_PARAM_KEYS: tuple[str, ...] = (
    "segment",
    "match",
    "q",
    "stage",
    "created_from",
    "created_to",
    "modified_from",
    "modified_to",
    "has_email",
    "archived",
    "list",
)
_MULTI_KEYS = frozenset({"segment", "stage", "list"})
_DATE_FIELDS: tuple[str, ...] = ("created_from", "created_to", "modified_from", "modified_to")
_TRUE = frozenset({"1", "true", "yes", "on", "y"})
_FALSE = frozenset({"0", "false", "no", "off", "n"})


def _as_tuple(value: Iterable[str] | str | None) -> tuple[str, ...]:
    """Unique non-empty strings, first occurrence order kept; a lone string is one item."""
    if value is None:
        return ()
    items = [value] if isinstance(value, str) else list(value)
    return tuple(dict.fromkeys(str(v).strip() for v in items if v is not None and str(v).strip()))


def _as_date(name: str, value: object) -> date | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    raise TypeError(f"{name} must be a date, not {type(value).__name__}")


@dataclass(frozen=True)
class ContactFilter:
    """What the Contacts page, the CLI and the SDK ask for. Immutable and hashable (cache key).

    Date bounds are whole days, inclusive at both ends. `segments` with `segment_match="any"`
    keeps contacts in at least one of them, `"all"` contacts in every one. `list_ids` keeps
    members of any of the lists. `lifecycle_stages` may hold `NO_STAGE` for contacts without one.
    """

    segments: tuple[str, ...] = ()
    segment_match: SegmentMatch = "any"
    search: str | None = None
    lifecycle_stages: tuple[str, ...] = ()
    created_from: date | None = None
    created_to: date | None = None
    modified_from: date | None = None
    modified_to: date | None = None
    has_email: bool | None = None
    archived: ArchivedMode = "hide"
    list_ids: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        # Normalise so equal filters compare (and cache) equal: lists -> tuples, blanks dropped.
        put = object.__setattr__
        put(self, "segments", _as_tuple(self.segments))
        put(self, "lifecycle_stages", _as_tuple(self.lifecycle_stages))
        put(self, "list_ids", _as_tuple(self.list_ids))
        search = (self.search or "").strip()
        put(self, "search", search[:MAX_SEARCH_LENGTH] or None)
        if self.segment_match not in SEGMENT_MATCHES:
            raise ValueError(f"segment_match must be one of {SEGMENT_MATCHES}")
        if self.archived not in ARCHIVED_MODES:
            raise ValueError(f"archived must be one of {ARCHIVED_MODES}")
        if self.has_email is not None and not isinstance(self.has_email, bool):
            raise TypeError("has_email must be True, False or None")
        for name in _DATE_FIELDS:
            put(self, name, _as_date(name, getattr(self, name)))

    @property
    def is_default(self) -> bool:
        """True when nothing narrows the view (all live contacts)."""
        return self == ContactFilter()

    def to_query_params(self) -> dict[str, str | list[str]]:
        """URL query parameters for this filter; defaults are left out. Multi-valued keys are lists."""
        params: dict[str, str | list[str]] = {}
        if self.segments:
            params["segment"] = list(self.segments)
        if self.segment_match != "any":
            params["match"] = self.segment_match
        if self.search:
            params["q"] = self.search
        if self.lifecycle_stages:
            params["stage"] = list(self.lifecycle_stages)
        for name in _DATE_FIELDS:
            value = getattr(self, name)
            if value is not None:
                params[name] = value.isoformat()
        if self.has_email is not None:
            params["has_email"] = "yes" if self.has_email else "no"
        if self.archived != "hide":
            params["archived"] = self.archived
        if self.list_ids:
            params["list"] = list(self.list_ids)
        return params

    @classmethod
    def from_query_params(cls, params: Mapping[str, str | list[str]]) -> ContactFilter:
        """The filter a bookmarked URL describes; bad values are ignored (see `parse_query_params`)."""
        return parse_query_params(params)[0]

    def describe(self) -> str:
        """A human label: "All contacts", or "Segment chainge · search “acme” · with email"."""
        parts: list[str] = []
        if self.segments:
            joiner = " and " if self.segment_match == "all" else " or "
            noun = "Segment" if len(self.segments) == 1 else "Segments"
            parts.append(f"{noun} {joiner.join(self.segments)}")
        if self.search:
            parts.append(f"search “{self.search}”")
        if self.lifecycle_stages:
            noun = "stage" if len(self.lifecycle_stages) == 1 else "stages"
            parts.append(f"{noun} {' or '.join(self.lifecycle_stages)}")
        for label, start, end in (
            ("created", self.created_from, self.created_to),
            ("modified", self.modified_from, self.modified_to),
        ):
            if start and end:
                parts.append(f"{label} {start.isoformat()} to {end.isoformat()}")
            elif start:
                parts.append(f"{label} from {start.isoformat()}")
            elif end:
                parts.append(f"{label} until {end.isoformat()}")
        if self.has_email is not None:
            parts.append("with email" if self.has_email else "without email")
        if self.list_ids:
            noun = "list" if len(self.list_ids) == 1 else "lists"
            parts.append(f"in {noun} {', '.join(self.list_ids)}")
        if self.archived == "only":
            parts.append("archived only")
        elif self.archived == "include":
            parts.append("archived included")
        if not parts:
            return "All contacts"
        text = " · ".join(parts)
        return text[0].upper() + text[1:]

    def slug(self) -> str:
        """A short ASCII token for file names: "chainge", "chainge-engaged-lead", or "all"."""
        parts: list[str] = list(self.segments)
        if self.segment_match == "all" and len(self.segments) > 1:
            parts.append("all")
        if self.search:
            parts += ["search", self.search]
        parts += list(self.lifecycle_stages)
        for label, start, end in (
            ("created", self.created_from, self.created_to),
            ("modified", self.modified_from, self.modified_to),
        ):
            if start or end:
                parts += [label, start.isoformat() if start else "", end.isoformat() if end else ""]
        if self.has_email is not None:
            parts.append("with-email" if self.has_email else "no-email")
        if self.list_ids:
            parts += ["list", *self.list_ids]
        if self.archived == "only":
            parts.append("archived")
        elif self.archived == "include":
            parts.append("with-archived")
        return _slugify("-".join(parts)) or "all"


def _slugify(text: str, max_length: int = 60) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    if len(slug) > max_length:
        slug = (
            slug[:max_length].rsplit("-", 1)[0] if "-" in slug[:max_length] else slug[:max_length]
        )
    return slug.strip("-")


def parse_query_params(
    params: Mapping[str, str | list[str]],
) -> tuple[ContactFilter, list[str]]:
    """The filter in URL query parameters, and a warning for each value that was ignored.

    Accepts plain dicts (values str or list) and Streamlit's `st.query_params` (its
    `get_all`). Unknown keys are left alone: the page keeps its own keys in the same URL.
    """
    warnings: list[str] = []
    get_all = getattr(params, "get_all", None)

    def values(key: str) -> list[str]:
        if key not in params:
            return []
        raw: Any = get_all(key) if callable(get_all) else params[key]
        items = [raw] if isinstance(raw, str) else list(raw or [])
        return [str(v) for v in items]

    def single(key: str) -> str | None:
        found = [v.strip() for v in values(key) if v.strip()]
        return found[-1] if found else None

    kwargs: dict[str, Any] = {}
    for key, attr in (("segment", "segments"), ("stage", "lifecycle_stages"), ("list", "list_ids")):
        if items := _as_tuple(values(key)):
            kwargs[attr] = items
    if (match := single("match")) is not None:
        if match.lower() in SEGMENT_MATCHES:
            kwargs["segment_match"] = match.lower()
        else:
            warnings.append(f"Ignored match={match!r}: expected 'any' or 'all'.")
    if (search := single("q")) is not None:
        if len(search) > MAX_SEARCH_LENGTH:
            warnings.append(f"Search shortened to {MAX_SEARCH_LENGTH} characters.")
        kwargs["search"] = search
    for name in _DATE_FIELDS:
        if (text := single(name)) is None:
            continue
        try:
            kwargs[name] = date.fromisoformat(text)
        except ValueError:
            warnings.append(f"Ignored {name}={text!r}: expected a date like 2026-01-31.")
    for start, end in (("created_from", "created_to"), ("modified_from", "modified_to")):
        if start in kwargs and end in kwargs and kwargs[start] > kwargs[end]:
            warnings.append(f"{start} is after {end}: nothing can match.")
    if (has_email := single("has_email")) is not None:
        if has_email.lower() in _TRUE:
            kwargs["has_email"] = True
        elif has_email.lower() in _FALSE:
            kwargs["has_email"] = False
        else:
            warnings.append(f"Ignored has_email={has_email!r}: expected yes or no.")
    if (archived := single("archived")) is not None:
        if archived.lower() in ARCHIVED_MODES:
            kwargs["archived"] = archived.lower()
        else:
            warnings.append(f"Ignored archived={archived!r}: expected hide, include or only.")
    return ContactFilter(**kwargs), warnings


# --- SQL building ---------------------------------------------------------------------------


def _escape_like(term: str) -> str:
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


@contextmanager
def _reading(db: Database) -> Iterator[Connection]:
    """A read-only connection (nothing is committed)."""
    with db.connect() as conn:
        yield conn


@contextmanager
def _exploring(db: Database) -> Iterator[Connection]:
    """A read connection for the explorer's counting statements.

    PostgreSQL, for this transaction: no JIT compilation (its cost model misjudges the
    grouped joins here by orders of magnitude and then spends 200+ ms compiling statements
    that run in 20 ms), room to hash and sort member ids in memory (the default 4 MB spills
    200,000 ids to disk), and no parallel workers (starting them costs more than they save
    on statements of 10-200 ms; measured 20-40% slower with them on 2 cores).
    """
    with _reading(db) as conn:
        if not db.is_sqlite:
            conn.exec_driver_sql("SET LOCAL jit = off")
            conn.exec_driver_sql("SET LOCAL work_mem = '64MB'")
            conn.exec_driver_sql("SET LOCAL max_parallel_workers_per_gather = 0")
        yield conn


class _IndexedSelect(Executable, ClauseElement):
    """A SELECT from `contacts` that SQLite must read through `index` (`INDEXED BY`).

    For the search scan: SQLite's planner does not count an index on an expression as
    holding that expression's value, so it would scan the wide table instead of the narrow
    search index (4x slower). Other databases run the SELECT as it is.
    """

    inherit_cache = False

    def __init__(self, select: sa.Select[Any], index: str) -> None:
        self.select = select
        self.index = index


@compiles(_IndexedSelect)
def _compile_indexed(element: _IndexedSelect, compiler: Any, **kw: Any) -> str:
    return str(compiler.process(element.select, **kw))


_FROM_CONTACTS = re.compile(r"\bFROM contacts\b(?!\.)")


@compiles(_IndexedSelect, "sqlite")
def _compile_indexed_sqlite(element: _IndexedSelect, compiler: Any, **kw: Any) -> str:
    sql = str(compiler.process(element.select, **kw))
    # The first FROM naming the table (subqueries in the select list read other tables).
    indexed, found = _FROM_CONTACTS.subn(f"FROM contacts INDEXED BY {element.index}", sql, 1)
    if not found:
        raise ValueError("an indexed select must read from contacts")
    return indexed


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
    return [f"%{_escape_like(form)}%" for form in distinct.values()]


def _fold_ascii(text: str) -> str:
    return "".join(ch.lower() if ch.isascii() else ch for ch in text)


def _uses_search_document(term: str) -> bool:
    """Whether a search for `term` can scan the search document (see `_search_clause`)."""
    return SEARCH_SEPARATOR not in term


def _search_clause(term: str, dialect: str) -> ColumnElement[bool]:
    """Case-insensitive substring match over email, company, first, last and full name.

    Matched against one text per contact, "email␟company␟first last" (`search_document`,
    indexed), which gives the same answers as matching each field: a term without the
    separator cannot span two fields, and one can only span "first last" by holding the
    space, when the full name is one of the fields anyway. A term holding the separator is
    matched field by field.
    """
    c = CONTACTS.c
    if _uses_search_document(term):
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


SEARCH_FIELDS: tuple[str, ...] = ("email", "company", "firstname", "lastname")

#: Whether the timestamp columns hold aware values (`timestamptz`, SQLModel's default for a
#: bare `datetime`) or naive UTC ones (what `models.py` declares): bound values must match.
TIMESTAMPS_AWARE = bool(getattr(CONTACTS.c.created_at.type, "timezone", False))


def _bound(value: datetime) -> datetime:
    """A naive-UTC datetime as the timestamp columns expect it in a comparison."""
    return value.replace(tzinfo=UTC) if TIMESTAMPS_AWARE else value


def _day_start(day: date) -> datetime:
    return _bound(datetime(day.year, day.month, day.day))


def _archived_term(mode: str, dialect: str, *, indexed: bool = False) -> ColumnElement[bool] | None:
    """`indexed`: let SQLite reach live contacts through the (archived, date, ...) indexes.

    Only worth it for a date range or a walk in date order: almost every contact is live,
    and without statistics (HubSync never runs ANALYZE) SQLite's planner takes any index
    equality for a narrow one, so it would walk that index with a row read per contact
    rather than use the index that narrows (email, members) or scan (up to 30x slower).
    """
    c = CONTACTS.c
    if mode == "include":
        return None
    if mode == "only":
        return _archived_only(dialect)
    if dialect != "sqlite":
        return c.archived == sa.false()
    archived = c.archived if indexed else _no_index(c.archived, dialect)
    # likely(): tells the planner the term keeps most rows.
    return sa.func.likely(archived == sa.false())


def _archived_only(dialect: str) -> ColumnElement[bool]:
    archived = CONTACTS.c.archived == sa.true()
    # Few rows are archived: without the hint SQLite may walk another index to save a sort
    # and read every row (40x slower at 200k).
    return sa.func.unlikely(archived) if dialect == "sqlite" else archived


def _no_index(column: ColumnElement[Any], dialect: str) -> ColumnElement[Any]:
    """On SQLite `+column`: the same value, but the planner will not reach it through an
    index. Used where walking another index (the sort order) or a plain scan is cheaper
    than one random row lookup per id, which SQLite's planner tends to prefer."""
    if dialect != "sqlite":
        return column
    return UnaryExpression(column, operator=custom_op("+"), type_=column.type)


def _segment_members(flt: ContactFilter) -> list[sa.Select[Any]]:
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


def _segment_terms(
    flt: ContactFilter, dialect: str = "", *, probe: bool = False
) -> list[ColumnElement[bool]]:
    """`probe`: test each row against the member lists rather than look members up."""
    if not flt.segments:
        return []
    if probe:
        hubspot_id = _no_index(CONTACTS.c.hubspot_id, dialect)
        return [hubspot_id.in_(members) for members in _segment_members(flt)]
    return [CONTACTS.c.hubspot_id.in_(_segment_ids(flt, dialect))]


def _segment_ids(flt: ContactFilter, dialect: str) -> sa.Select[Any] | sa.CompoundSelect[Any]:
    """The ids in the segment selection, to look each one up: one segment's index range, or
    for several (SQLite) their UNION ("any") or INTERSECT ("all") in id order, which SQLite
    merges from the sorted ranges instead of building and probing a temporary index.
    PostgreSQL hashes them."""
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


def _membership_tests(flt: ContactFilter) -> list[ColumnElement[bool]]:
    """Segment and list conditions as one index probe per row (correlated EXISTS): for a
    page walked in sort order, which stops after a page of matches, instead of building
    every member list first (tens of thousands of ids each)."""
    c = CONTACTS.c

    def member(table: sa.Table, key: sa.Column[Any], values: Sequence[str]) -> ColumnElement[bool]:
        return sa.exists().where(table.c.hubspot_id == c.hubspot_id, key.in_(list(values)))

    groups = [flt.segments] if flt.segment_match == "any" else [(k,) for k in flt.segments]
    tests = [member(SEGMENTS, SEGMENTS.c.segment, keys) for keys in groups if keys]
    if flt.list_ids:
        tests.append(member(MEMBERS, MEMBERS.c.list_id, flt.list_ids))
    return tests


def _list_members(flt: ContactFilter) -> sa.Select[Any]:
    return sa.select(MEMBERS.c.hubspot_id).where(MEMBERS.c.list_id.in_(flt.list_ids))


def _list_terms(
    flt: ContactFilter, dialect: str = "", *, probe: bool = False
) -> list[ColumnElement[bool]]:
    if not flt.list_ids:
        return []
    hubspot_id = _no_index(CONTACTS.c.hubspot_id, dialect) if probe else CONTACTS.c.hubspot_id
    return [hubspot_id.in_(_list_members(flt))]


def _stage_terms(flt: ContactFilter) -> list[ColumnElement[bool]]:
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


def _opaque(term: ColumnElement[bool], dialect: str) -> ColumnElement[bool]:
    """On SQLite `+(term)`: the same test, but no index is chosen for it (see `_no_index`)."""
    if dialect != "sqlite":
        return term
    return UnaryExpression(term.self_group(), operator=custom_op("+"), type_=sa.Boolean())


def _row_terms(
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
        terms.append(_search_clause(flt.search, dialect))
    dated: list[ColumnElement[bool]] = []
    for column, start, end in (
        (c.created_at, flt.created_from, flt.created_to),
        (c.updated_at, flt.modified_from, flt.modified_to),
    ):
        if start is not None:
            dated.append(column >= _day_start(start))
        if end is not None:
            dated.append(column < _day_start(end + timedelta(days=1)))
    archived = _archived_term(flt.archived, dialect, indexed=walk or lookup or bool(dated))
    if archived is not None:
        terms.append(archived)
    terms += dated
    if flt.has_email is True:
        terms.append(sa.and_(c.email.is_not(None), c.email != ""))
    elif flt.has_email is False:
        terms.append(sa.or_(c.email.is_(None), c.email == ""))
    if walk:
        return [t if t is archived else _opaque(t, dialect) for t in terms]
    return terms


def _where(flt: ContactFilter, dialect: str, *, probe: bool = False) -> list[ColumnElement[bool]]:
    """The WHERE terms of a filter (ANDed). Every value is a bound parameter."""
    return [
        *_row_terms(flt, dialect),
        *_list_terms(flt, dialect, probe=probe),
        *_segment_terms(flt, dialect, probe=probe),
        *_stage_terms(flt),
    ]


def _rows_only(flt: ContactFilter) -> ContactFilter:
    """`flt` without its segment, list and stage selections (the facets' own)."""
    return replace(flt, segments=(), segment_match="any", lifecycle_stages=(), list_ids=())


def _is_trivial(flt: ContactFilter) -> bool:
    """Nothing narrows the filter but its archived mode."""
    return not flt.segments and replace(flt, segment_match="any") == ContactFilter(
        archived=flt.archived
    )


def _ids_in(column: ColumnElement[Any], ids: list[str], dialect: str) -> ColumnElement[bool]:
    """`column IN ids` with the ids as ONE parameter (a JSON array / a text[] array), so
    thousands of ids neither hit parameter limits nor slow the statement's compilation."""
    if dialect == "sqlite":
        values = sa.func.json_each(sa.bindparam(None, json.dumps(ids), type_=sa.Text))
        return column.in_(sa.select(sa.column("value")).select_from(values))
    return column == sa.any_(sa.bindparam(None, ids, type_=postgresql.ARRAY(sa.Text)))


ID_FACETS_INDEX = "ix_contacts_id_facets"

#: Drivers of a `_Cube`: the carried search ids, the filter's own rows, or the members of
#: its segment or list selection.
Driver = Literal["ids", "rows", "segments", "lists"]


class _Cube:
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
        self.groups: list[tuple[str | None, frozenset[str] | None, frozenset[str] | None, int]] = []
        for stage, members, n in rows:
            segments, _, lists = members.partition(_PART_SEPARATOR)
            self.groups.append((stage, _member_set(segments), _member_set(lists), int(n)))
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
_PART_SEPARATOR = "\x1e"
_NOT_LOOKED_UP = "\x1d"


def _member_set(joined: str) -> frozenset[str] | None:
    if joined == _NOT_LOOKED_UP:
        return None
    return frozenset(joined.split(SEARCH_SEPARATOR)) if joined else frozenset()


def _joined_cube(
    where: list[ColumnElement[bool]],
    need_segments: ColumnElement[bool] | bool,
    need_lists: ColumnElement[bool] | bool,
) -> sa.Select[Any]:
    """`_Cube`'s statement for PostgreSQL: the driving rows once (a CTE), each membership
    table aggregated per contact over a hash join with them, then grouped. (PostgreSQL runs
    a correlated subquery per row as a separate subplan, ten times slower than SQLite.)"""
    c = CONTACTS.c

    def flag(need: ColumnElement[bool] | bool) -> ColumnElement[bool]:
        return need if not isinstance(need, bool) else (sa.true() if need else sa.false())

    rows = (
        sa.select(
            c.hubspot_id.label("hubspot_id"),
            c.lifecyclestage.label("stage"),
            flag(need_segments).label("need_segments"),
            flag(need_lists).label("need_lists"),
        )
        .where(*where)
        .cte("explore_rows")
    )
    source: Any = rows
    parts: list[ColumnElement[str]] = []
    for table, key, need, flag_column in (
        (SEGMENTS, SEGMENTS.c.segment, need_segments, rows.c.need_segments),
        (MEMBERS, MEMBERS.c.list_id, need_lists, rows.c.need_lists),
    ):
        if need is False:
            parts.append(sa.literal(_NOT_LOOKED_UP, sa.Text))
            continue
        aggregated = (
            sa.select(
                table.c.hubspot_id.label("hubspot_id"),
                sa.func.string_agg(key, SEARCH_SEPARATOR).label("member_keys"),
            )
            .join_from(table, rows, sa.and_(rows.c.hubspot_id == table.c.hubspot_id, flag_column))
            .group_by(table.c.hubspot_id)
            .cte(f"explore_{table.name}")
        )
        source = source.outerjoin(aggregated, aggregated.c.hubspot_id == rows.c.hubspot_id)
        found = sa.func.coalesce(aggregated.c["member_keys"], "", type_=sa.Text)
        parts.append(
            found
            if need is True
            else sa.case((flag_column, found), else_=sa.literal(_NOT_LOOKED_UP, sa.Text))
        )
    members = parts[0] + sa.literal(_PART_SEPARATOR, sa.Text) + parts[1]
    return (
        sa.select(rows.c.stage, members, sa.func.count())
        .select_from(source)
        .group_by(*(sa.literal_column(str(i)) for i in (1, 2)))
    )


class _Plan:
    """The SQL for one filter on one connection, picking plans that stay fast at size.

    - A search reads the narrow search index once; the matching ids (up to `NARROW_LIMIT`)
      are carried to every later statement instead of repeating the scan.
    - Facets and the total come from one `_Cube` where a driving set smaller than the table
      exists: the search hits, the members of the selected segments or lists (the smaller),
      or the rows of a date range, email or stage filter. The driver's own facet (say the
      segment facet while segments are selected) comes from a second cube or, when nothing
      else narrows, from the membership index directly.
    - Otherwise (most of the table matches) counts are computed from the indexes, segment
      and list counts as "all members minus those outside the filter".
    - On SQLite, a page sorted by a date walks the (archived, date, ..., id) index and tests
      each id against dense member lists (or the carried ids), rather than looking every
      member up and sorting.
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
        self._rows = _rows_only(flt)
        self._narrow: list[str] | None = None
        self._probed = not narrow
        self._counts: dict[ContactFilter, int] = {}
        self._all: int | None = None
        self._members: dict[str, int] | None = None
        self._list_members: dict[str, int] | None = None
        self._driver: Driver | Literal[False] | None = False
        self._cubes: dict[Driver, _Cube] = {}

    def narrow_ids(self) -> list[str] | None:
        """The ids matching the filter's row terms, for a search with at most `NARROW_LIMIT`
        hits; None otherwise. (PostgreSQL with the trigram index finds the hits again in
        each statement faster than it joins a long list of ids.)"""
        if not self._probed:
            self._probed = True
            # Only a search is worth carrying ids for: other row terms are index ranges
            # whose cost already follows the number of matches.
            if self._rows.search and not self._search_indexed_pg():
                stmt = (
                    sa.select(CONTACTS.c.hubspot_id)
                    .where(*_row_terms(self._rows, self.dialect))
                    .limit(self.NARROW_LIMIT + 1)
                )
                runnable: Any = stmt
                if _uses_search_document(self._rows.search):
                    runnable = _IndexedSelect(stmt, SEARCH_INDEX)
                ids = list(self.conn.execute(runnable).scalars().all())
                if len(ids) <= self.NARROW_LIMIT:
                    self._narrow = ids
                    self._counts[self._rows] = len(ids)
        return self._narrow

    def _search_indexed_pg(self) -> bool:
        if self.dialect != "postgresql" or not _uses_search_document(self._rows.search or ""):
            return False
        found = self.conn.execute(
            sa.select(sa.func.to_regclass(SEARCH_INDEX).is_not(None))
        ).scalar_one()
        return bool(found)

    def where(self, flt: ContactFilter, *, probe: bool = False) -> list[ColumnElement[bool]]:
        """Terms for `flt`, which must share this plan's row terms (it may drop selections)."""
        ids = self.narrow_ids()
        if ids is None:
            return _where(flt, self.dialect, probe=probe)
        return [
            _ids_in(CONTACTS.c.hubspot_id, ids, self.dialect),
            *_list_terms(flt, self.dialect, probe=probe),
            *_segment_terms(flt, self.dialect, probe=probe),
            *_stage_terms(flt),
        ]

    #: Fewest and most ids a page reads in sort order before it falls back to finding the
    #: matches first (see `page`).
    WINDOW_MIN = 2000
    WINDOW_LIMIT = 50_000

    def page(
        self,
        sort: str,
        descending: bool,
        columns: Sequence[str] | None,
        limit: int,
        offset: int,
        total: int | None,
    ) -> tuple[Sequence[sa.Row[Any]], list[str]]:
        """The raw rows of one page, and the keys `_shape_rows` fills.

        A date-sorted page of a filter first reads a window: the first W contacts in sort
        order (an index walk) tested against the filter, W sized from the share of contacts
        that match (`total`) so a page usually fills from it. The first matches in a prefix
        of the order are the first matches overall, so a full window is the exact page.
        When matches cluster late in the order (say cold contacts by last modified, newest
        first), it comes up short and the page is read by the plan for the whole filter.
        """
        page = (limit, offset)
        if (window := self._window(sort, limit, offset, total)) is not None:
            terms = self._window_terms(window, sort, descending)
            stmt, wanted = _rows_select(terms, sort, descending, columns, page)
            rows = self.conn.execute(stmt).all()
            expected = limit if total is None else max(0, min(limit, total - offset))
            if len(rows) == limit or (total is not None and len(rows) == expected):
                return rows, wanted
        stmt, wanted = _rows_select(self.page_where(sort), sort, descending, columns, page)
        return self.conn.execute(stmt).all(), wanted

    def _window(self, sort: str, limit: int, offset: int, total: int | None) -> int | None:
        flt = self.flt
        if sort not in ("updated_at", "created_at") or flt.archived == "include":
            return None  # no (archived, date) index order to read a window from
        if _is_trivial(flt):
            return None  # every contact matches: the plain walk is the page
        wanted = offset + limit
        # Four times the rows the share of matches suggests (without a total: assume 2%).
        share = 50 if total is None else 4 * self.all_count() // max(total, 1)
        size = max(wanted * share, self.WINDOW_MIN)
        return size if size <= self.WINDOW_LIMIT else None

    def _window_terms(self, size: int, sort: str, descending: bool) -> list[ColumnElement[bool]]:
        """The filter on the first `size` contacts in sort order, tested row by row."""
        flt, dialect = self.flt, self.dialect
        c = CONTACTS.c
        archived = _archived_term(flt.archived, dialect, indexed=True)
        window = (
            sa.select(c.hubspot_id)
            .where(*([archived] if archived is not None else []))
            .order_by(*_order_by(sort, descending))
            .limit(size)
        )
        ids = self.narrow_ids()
        rows: list[ColumnElement[bool]] = []
        if ids is not None:
            rows.append(_ids_in(_no_index(c.hubspot_id, dialect), ids, dialect))
        else:
            rows = [_opaque(term, dialect) for term in _row_terms(self._rows, dialect)]
        stages = [_opaque(term, dialect) for term in _stage_terms(flt)]
        return [c.hubspot_id.in_(window), *rows, *_membership_tests(flt), *stages]

    def page_where(self, sort: str) -> list[ColumnElement[bool]]:
        """Terms for the page query, sorted by `sort`.

        On SQLite a date-sorted page walks the (archived, date, ..., id) index and tests
        each contact (members by one index probe each), stopping after a page of matches,
        unless the matches are sparse (a rare search hit, a small list): then they are
        looked up and sorted. Elsewhere the database chooses.
        """
        flt, dialect = self.flt, self.dialect
        if not self._walk_sort_index(sort):
            return self.where(flt)
        ids = self.narrow_ids()
        if ids is None:
            terms = _row_terms(self._rows, dialect, walk=True)
        else:
            terms = [_ids_in(_no_index(CONTACTS.c.hubspot_id, dialect), ids, dialect)]
            if (archived := _archived_term(flt.archived, dialect, indexed=True)) is not None:
                terms.append(archived)  # redundant with the ids; it gives the walk
        stages = [_opaque(term, dialect) for term in _stage_terms(flt)]
        return [*terms, *_membership_tests(flt), *stages]

    def _walk_sort_index(self, sort: str) -> bool:
        flt = self.flt
        if self.dialect != "sqlite" or sort not in ("updated_at", "created_at"):
            return False
        if flt.archived == "include":
            return False  # no archived term: nothing to walk the (archived, date) index by
        ids = self.narrow_ids()
        if ids is not None:
            return len(ids) * 50 >= self.all_count()
        if flt.search:
            return False
        if flt.segments or flt.list_ids:
            return self._dense_members(flt)
        return True

    def _dense_members(self, flt: ContactFilter) -> bool:
        """Whether every segment/list condition of `flt` holds >= 2% of contacts: then testing
        rows against the member lists beats looking each member up (SQLite's usual choice)."""
        if self.dialect != "sqlite" or not (flt.segments or flt.list_ids):
            return False
        conditions = _segment_members(flt) + ([_list_members(flt)] if flt.list_ids else [])
        for members in conditions:
            size = self._scalar(sa.select(sa.func.count()).select_from(members.subquery()))
            if size * 50 < self.all_count():
                return False
        return True

    def _scalar(self, stmt: sa.Select[Any]) -> int:
        return int(self.conn.execute(stmt).scalar_one())

    def all_count(self) -> int:
        """Every stored contact, archived included: the size plans are weighed against.

        SQLite counts the smallest index. PostgreSQL's own row estimate is enough for
        weighing plans and free (counting reads every row); it only counts when the table
        was never analyzed."""
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
        return _stored_keys(self.conn)

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

    def cube_for(self, facet: str | None) -> _Cube | None:
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
        if _is_trivial(base):
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
        if facet == "segment":
            table, key = SEGMENTS, SEGMENTS.c.segment
            base = replace(flt, segments=(), segment_match="any")
            driver: Any = _list_members(flt)
        else:
            table, key = MEMBERS, MEMBERS.c.list_id
            base = replace(flt, list_ids=())
            driver = _segment_ids(flt, self.dialect)
        contact = sa.select(sa.literal(1)).where(
            CONTACTS.c.hubspot_id == table.c.hubspot_id,
            *_row_terms(_rows_only(base), self.dialect, lookup=True),
            *_stage_terms(base),
        )
        stmt = (
            sa.select(key, sa.func.count())
            .where(table.c.hubspot_id.in_(driver), sa.exists(contact))
            .group_by(key)
        )
        found = self.conn.execute(_IndexedSelect(stmt, ID_FACETS_INDEX)).all()
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
        if _is_trivial(self._rows):
            return False
        return self._count(self._rows) * 2 <= self.all_count()

    def _cube(self, driver: Driver) -> _Cube:
        if driver in self._cubes:
            return self._cubes[driver]
        flt, dialect = self.flt, self.dialect
        c = CONTACTS.c
        if driver == "ids":
            where = [_ids_in(c.hubspot_id, self.narrow_ids() or [], dialect)]
        else:
            where = _row_terms(self._rows, dialect, lookup=True)
            if driver == "segments":
                where += _segment_terms(flt, dialect)
            elif driver == "lists":
                where += _list_terms(flt, dialect)
        stage_terms = _stage_terms(flt)
        in_stage: ColumnElement[bool] | None = stage_terms[0] if stage_terms else None
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
            runnable: Any = _joined_cube(where, need_segments, need_lists)
        else:
            segments = self._memberships(SEGMENTS, SEGMENTS.c.segment, need_segments)
            lists = self._memberships(MEMBERS, MEMBERS.c.list_id, need_lists)
            # One text key for both memberships: SQLite sorts one column for the grouping
            # about a quarter faster than two.
            members = segments + sa.literal(_PART_SEPARATOR, sa.Text) + lists
            runnable = (
                sa.select(c.lifecyclestage, members, sa.func.count())
                .where(*where)
                .group_by(*(sa.literal_column(str(i)) for i in (1, 2)))
            )
            if driver != "rows":
                # From each id to its stage in the narrow (hubspot_id, archived, stage, ...)
                # index; without statistics SQLite prefers the unique key and reads wide rows.
                runnable = _IndexedSelect(runnable, ID_FACETS_INDEX)
        cube = _Cube(flt, driver, self.conn.execute(runnable).all())
        cube.groups += [(st, None, None, n) for st, n in outside if not cube.stage_ok(st)]
        self._cubes[driver] = cube
        return cube

    def _memberships(
        self, table: sa.Table, value: sa.Column[Any], when: ColumnElement[bool] | bool
    ) -> ColumnElement[str]:
        """Each row's member keys joined by the separator ('' for none) where `when`,
        else `_NOT_LOOKED_UP`."""
        if when is False:
            return sa.literal(_NOT_LOOKED_UP, sa.Text)
        if self.dialect == "sqlite":
            joined = sa.func.group_concat(value, SEARCH_SEPARATOR)
        else:
            joined = sa.func.string_agg(value, SEARCH_SEPARATOR)
        # One lookup in the (hubspot_id, key) index per row.
        found = sa.func.coalesce(
            sa.select(joined).where(table.c.hubspot_id == CONTACTS.c.hubspot_id).scalar_subquery(),
            "",
            type_=sa.Text,
        )
        if when is True:
            return found
        return sa.case((when, found), else_=sa.literal(_NOT_LOOKED_UP, sa.Text))

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
        if self.narrow_ids() is None and flt.segments and _is_trivial(replace(flt, segments=())):
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

        archived_ids = sa.select(CONTACTS.c.hubspot_id).where(_archived_only(self.dialect))
        archived = members([cs.hubspot_id.in_(archived_ids)]) if flt.archived != "include" else 0
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
            if _is_trivial(base):
                archived = [_archived_only(self.dialect)]
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
        scanned = _no_index(stage, self.dialect).label("stage")
        if self.narrow_ids() is None:
            if _is_trivial(base):
                # All stages from the lifecycle-stage index alone, minus the (few) archived.
                if base.archived == "include":
                    return by_stage([], stage)
                archived = by_stage([_archived_only(self.dialect)], stage)
                return (
                    archived
                    if base.archived == "only"
                    else _subtract(by_stage([], stage), archived)
                )
            if self.count(base) > self.all_count() // 2:
                outside = sa.not_(sa.func.coalesce(sa.and_(*self.where(base)), sa.false()))
                return _subtract(by_stage([], stage), by_stage([outside], scanned))
        return by_stage(self.where(base, probe=self._dense_members(base)), scanned)

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

        if self.narrow_ids() is None and _is_trivial(base):
            # As for segments: all members from the primary key, less the (few) archived ones.
            if base.archived == "include":
                return dict(self.all_list_members())
            archived = members_of([_archived_only(self.dialect)])
            if base.archived == "only":
                return archived
            return _subtract(self.all_list_members(), archived)
        return members_of(self.where(base))


def _subtract(total: dict[Any, int], part: dict[Any, int]) -> dict[Any, int]:
    return {key: total.get(key, 0) - part.get(key, 0) for key in total}


def _order_by(sort: str, descending: bool) -> list[ColumnElement[Any]]:
    """ORDER BY terms: the column (empty values last either way), then the id, numerically."""
    if sort not in SORTABLE_COLUMNS:
        raise ValueError(f"Cannot sort by {sort!r}; choose one of {', '.join(SORTABLE_COLUMNS)}")
    c = CONTACTS.c

    def direction(expr: ColumnElement[Any]) -> ColumnElement[Any]:
        return expr.desc() if descending else expr.asc()

    # Ids are digit strings: shorter is smaller, then same-length strings compare as numbers.
    # (No CAST: a non-numeric id would break PostgreSQL's cast.)
    by_id = [direction(sa.func.length(c.hubspot_id)), direction(c.hubspot_id)]
    if sort == "hubspot_id":
        return by_id
    column: ColumnElement[Any] = c[sort]
    if sort in _TEXT_SORTS:
        # Case-insensitive (the same order on SQLite and PostgreSQL for ASCII text).
        column = sa.func.lower(column)
    if sort in _TEXT_SORTS or sort == "lifecyclestage":
        # An empty value sorts with the missing ones: last.
        column = sa.func.nullif(column, "")
    return [direction(column).nulls_last(), *by_id]


def _split_columns(columns: Sequence[str] | None) -> tuple[list[str], list[str], list[str]]:
    """(stored fields to select, membership fields, property names) for requested columns."""
    wanted = list(dict.fromkeys(columns if columns is not None else DEFAULT_COLUMNS))
    stored, memberships, props = [], [], []
    for name in wanted:
        if name in CONTACT_FIELDS or name == "properties":
            stored.append(name)
        elif name in MEMBERSHIP_FIELDS:
            memberships.append(name)
        elif _PROPERTY_NAME.match(name):
            props.append(name)
        else:
            raise ValueError(f"Unknown column {name!r}")
    return stored, memberships, props


def _rows_select(
    where: list[ColumnElement[bool]],
    sort: str,
    descending: bool,
    columns: Sequence[str] | None,
    page: tuple[int, int] | None = None,
) -> tuple[sa.Select[Any], list[str]]:
    """The ordered SELECT behind pages and exports, and the row keys `_shape_rows` fills.

    `page` (limit, offset): the page's ids are chosen first, reading only what the filter
    and the sort need (often an index alone), then just those rows are read whole; a
    single SELECT would read every candidate's wide row (its `properties`) before sorting.
    """
    wanted = list(dict.fromkeys(columns if columns is not None else DEFAULT_COLUMNS))
    stored, _, props = _split_columns(wanted)
    selected = list(dict.fromkeys(["hubspot_id", *stored]))
    if props and "properties" not in selected:
        selected.append("properties")
    order = _order_by(sort, descending)
    stmt = sa.select(*(CONTACTS.c[name] for name in selected))
    if page is None:
        return stmt.where(*where).order_by(*order), wanted
    limit, offset = page
    ids = sa.select(CONTACTS.c.hubspot_id).where(*where).order_by(*order).limit(limit)
    if offset:
        ids = ids.offset(offset)
    return stmt.where(CONTACTS.c.hubspot_id.in_(ids)).order_by(*order), wanted


#: Result columns `_with_memberships` adds: each row's segment keys and list ids, joined.
_JOINED_SEGMENTS, _JOINED_LISTS = "_hubsync_segments", "_hubsync_lists"


def _with_memberships(stmt: sa.Select[Any], wanted: list[str]) -> sa.Select[Any]:
    """SQLite: `stmt` with each row's segment keys and list ids as joined columns, one
    index lookup per row in the (hubspot_id, key) indexes. Cheaper for an export than a
    query per chunk of ids (4x per row at 1,000,000 rows); `_shape_rows` splits them.
    (PostgreSQL runs a correlated subquery per row as a subplan: chunks are cheaper there.)"""
    for wanted_name, label, table, key in (
        ("segments", _JOINED_SEGMENTS, SEGMENTS, SEGMENTS.c.segment),
        ("list_memberships", _JOINED_LISTS, MEMBERS, MEMBERS.c.list_id),
    ):
        if wanted_name in wanted:
            joined = (
                sa.select(sa.func.group_concat(key, SEARCH_SEPARATOR))
                .where(table.c.hubspot_id == CONTACTS.c.hubspot_id)
                .scalar_subquery()
            )
            stmt = stmt.add_columns(joined.label(label))
    return stmt


_STORED, _CONVERTED, _SEGMENTS, _LISTS, _PROPERTY = range(5)


def _shape_rows(
    conn: Connection, raw: Sequence[sa.Row[Any]], wanted: list[str]
) -> list[dict[str, Any]]:
    """Rows as dicts holding exactly `wanted`, with memberships fetched for just these ids.

    Rows come from `_rows_select` (hubspot_id first). Hot for exports (200,000 rows), so
    each column's source is worked out once, not per cell.
    """
    if not raw:
        return []
    index = {name: i for i, name in enumerate(raw[0]._fields)}
    ids = [r[0] for r in raw]
    segments: dict[str, list[str]] = {}
    list_names: dict[str, list[str]] = {}
    if "segments" in wanted:
        if _JOINED_SEGMENTS in index:
            at = index[_JOINED_SEGMENTS]
            segments = {r[0]: sorted(r[at].split(SEARCH_SEPARATOR)) for r in raw if r[at]}
        else:
            segments = _segments_of(conn, ids)
    if "list_memberships" in wanted:
        if _JOINED_LISTS in index:
            at = index[_JOINED_LISTS]
            names = {row.list_id: row.name for row in conn.execute(sa.select(LISTS))}
            list_names = {
                r[0]: _list_names(r[at].split(SEARCH_SEPARATOR), names) for r in raw if r[at]
            }
        else:
            lists = _lists_of(conn, ids)
            list_names = {h: [item["name"] for item in items] for h, items in lists.items()}
    props_at = index.get("properties", -1)
    plan: list[tuple[str, int, int]] = []
    for name in wanted:
        if name == "segments":
            plan.append((name, _SEGMENTS, 0))
        elif name == "list_memberships":
            plan.append((name, _LISTS, 0))
        elif name in index:
            # Only these can need converting (aware times, if the columns ever hold them).
            needs = name == "properties" or (TIMESTAMPS_AWARE and name in _TIMESTAMP_FIELDS)
            plan.append((name, _CONVERTED if needs else _STORED, index[name]))
        else:
            plan.append((name, _PROPERTY, props_at))
    out: list[dict[str, Any]] = []
    for r in raw:
        row: dict[str, Any] = {}
        for name, kind, at in plan:
            if kind == _STORED:
                row[name] = r[at]
            elif kind == _SEGMENTS:
                row[name] = list(segments.get(r[0], ()))
            elif kind == _LISTS:
                row[name] = list(list_names.get(r[0], ()))
            elif kind == _CONVERTED:
                row[name] = _plain(name, r[at])
            else:
                row[name] = (r[at] or {}).get(name)
        out.append(row)
    return out


_TIMESTAMP_FIELDS = frozenset({"created_at", "updated_at", "synced_at", "archived_at"})


def _plain(name: str, value: Any) -> Any:
    if name == "archived":
        return bool(value)
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(UTC).replace(tzinfo=None)
    if name == "properties" and value is None:
        return {}
    return value


def _segments_of(conn: Connection, ids: Sequence[str]) -> dict[str, list[str]]:
    if not ids:
        return {}
    found: dict[str, list[str]] = {}
    stmt = (
        sa.select(SEGMENTS.c.hubspot_id, SEGMENTS.c.segment)
        .where(_ids_in(SEGMENTS.c.hubspot_id, list(ids), conn.dialect.name))
        .order_by(SEGMENTS.c.hubspot_id, SEGMENTS.c.segment)
    )
    for hubspot_id, segment in conn.execute(stmt).all():
        found.setdefault(hubspot_id, []).append(segment)
    return found


def _list_names(list_ids: Iterable[str], names: Mapping[str, str | None]) -> list[str]:
    """The names of these lists (the id where unnamed), in `_lists_of`'s order."""
    pairs = sorted(((names.get(i) or i).casefold(), i, names.get(i) or i) for i in list_ids)
    return [name for _, _, name in pairs]


def _lists_of(conn: Connection, ids: Sequence[str]) -> dict[str, list[dict[str, str]]]:
    """List memberships by contact: `{"list_id", "name"}` sorted by name (id if unnamed)."""
    if not ids:
        return {}
    stmt = (
        sa.select(MEMBERS.c.hubspot_id, MEMBERS.c.list_id, LISTS.c.name)
        .select_from(MEMBERS.outerjoin(LISTS, LISTS.c.list_id == MEMBERS.c.list_id))
        .where(_ids_in(MEMBERS.c.hubspot_id, list(ids), conn.dialect.name))
    )
    found: dict[str, list[dict[str, str]]] = {}
    for hubspot_id, list_id, name in conn.execute(stmt).all():
        found.setdefault(hubspot_id, []).append({"list_id": list_id, "name": name or list_id})
    for items in found.values():
        items.sort(key=lambda item: (item["name"].casefold(), item["list_id"]))
    return found


# --- Pages and counts -----------------------------------------------------------------------


@dataclass(frozen=True)
class ContactPage:
    """One page of contacts and the total for the filter.

    `total` is exact unless a `count_cap` was given and exceeded: then `total == cap + 1`
    and `total_capped` is True (show it as "more than cap").
    """

    rows: list[dict[str, Any]]
    total: int
    limit: int
    offset: int
    sort: str
    descending: bool
    total_capped: bool = False

    @property
    def has_next(self) -> bool:
        return self.offset + len(self.rows) < self.total

    @property
    def page_number(self) -> int:
        """1-based page number of this page (for `limit` > 0)."""
        return self.offset // self.limit + 1 if self.limit else 1

    @property
    def page_count(self) -> int:
        if not self.limit:
            return 1
        return max(1, -(-self.total // self.limit))


def _check_paging(limit: int, offset: int) -> None:
    if limit < 0:
        raise ValueError("limit must be 0 or more")
    if offset < 0:
        raise ValueError("offset must be 0 or more")


def query_contacts(
    db: Database,
    flt: ContactFilter | None = None,
    *,
    sort: str = "updated_at",
    descending: bool = True,
    limit: int = 50,
    offset: int = 0,
    columns: Sequence[str] | None = None,
    count_cap: int | None = None,
) -> ContactPage:
    """One page of matching contacts, sorted, with the total for the filter.

    Rows are dicts holding `columns` (default `DEFAULT_COLUMNS`: every stored field but
    `properties`, plus `segments` and `list_memberships` as lists of names, each fetched
    for just this page). Other column names are read from the contact's `properties`.
    Ties are broken by id, numerically. `count_cap`: see `ContactPage`.
    """
    return explore(
        db,
        flt,
        sort=sort,
        descending=descending,
        limit=limit,
        offset=offset,
        columns=columns,
        count_cap=count_cap,
        facets=(),
    ).page


@dataclass(frozen=True)
class Exploration:
    """What a filter change on the Contacts page needs: the page, its total, the facets."""

    page: ContactPage
    facets: dict[str, list[FacetValue]]


def explore(
    db: Database,
    flt: ContactFilter | None = None,
    *,
    sort: str = "updated_at",
    descending: bool = True,
    limit: int = 50,
    offset: int = 0,
    columns: Sequence[str] | None = None,
    count_cap: int | None = None,
    facets: Sequence[FacetName] = ("segment", "lifecycle"),
) -> Exploration:
    """The page, the total and facet counts for a filter, on one connection.

    Same results as `query_contacts` plus `facet_counts` for each facet, but the work is
    shared: a search scans the table once, not once per number shown.
    """
    flt = flt or ContactFilter()
    _check_paging(limit, offset)
    if count_cap is not None and count_cap < 0:
        raise ValueError("count_cap must be 0 or more")
    for name in facets:
        if name not in FACETS:
            raise ValueError(f"Unknown facet {name!r}: choose one of {', '.join(FACETS)}")
    _rows_select([], sort, descending, columns)  # validates sort and columns before connecting
    labels = _segment_labels(db) if "segment" in facets else []
    with _exploring(db) as conn:
        plan = _Plan(conn, db.dialect, flt, facets=facets)
        # With facets the total comes with them (and tells the page how dense matches are).
        known = plan.count(flt) if facets else None
        found = {name: _facet(plan, name, labels) for name in facets}
        rows: list[dict[str, Any]] = []
        if limit and known != 0:
            raw, wanted = plan.page(sort, descending, columns, limit, offset, known)
            rows = _shape_rows(conn, raw, wanted)
        if known is not None:
            total = known if count_cap is None else min(known, count_cap + 1)
        elif 0 < len(rows) < limit or (offset == 0 and limit and not rows):
            # A short page is the last one: its end is the total, no count needed.
            total = offset + len(rows)
        else:
            total = plan.count(flt, count_cap)
    capped = count_cap is not None and total > count_cap
    page = ContactPage(rows, total, limit, offset, sort, descending, capped)
    return Exploration(page, found)


def iter_contact_chunks(
    db: Database,
    flt: ContactFilter | None = None,
    *,
    sort: str = "updated_at",
    descending: bool = True,
    columns: Sequence[str] | None = None,
    chunk_rows: int = 2000,
) -> Iterator[list[dict[str, Any]]]:
    """Every matching contact, in `query_contacts`' rows and order, as lists of `chunk_rows`.

    Streams from the database (PostgreSQL: a server-side cursor; SQLite: its lazy cursor)
    so memory is bounded by the chunk size, not the number of matches.
    """
    if chunk_rows < 1:
        raise ValueError("chunk_rows must be 1 or more")
    # Built (and validated) now, so a bad sort or column raises here, not mid-stream.
    where = _where(flt or ContactFilter(), db.dialect)
    stmt, wanted = _rows_select(where, sort, descending, columns)
    if db.is_sqlite:
        stmt = _with_memberships(stmt, wanted)
    return _stream(db, stmt, wanted, chunk_rows)


def _stream(
    db: Database, stmt: sa.Select[Any], wanted: list[str], chunk_rows: int
) -> Iterator[list[dict[str, Any]]]:
    with _reading(db) as conn:
        if not db.is_sqlite:
            # One snapshot for the streamed rows and the per-chunk membership lookups.
            conn.execution_options(isolation_level="REPEATABLE READ")
            yield from _partitions(conn, stmt, wanted, chunk_rows)
            return
        # A sort SQLite cannot take from an index (say by email) holds every row in its
        # sorter; with the connection's temp_store=MEMORY that is RAM growing with the
        # result. Spill it to temporary files for this statement, then put the setting back
        # (the connection returns to a pool).
        before = conn.exec_driver_sql("PRAGMA temp_store").scalar()
        conn.exec_driver_sql("PRAGMA temp_store=FILE")
        try:
            yield from _partitions(conn, stmt, wanted, chunk_rows)
        finally:
            conn.exec_driver_sql(f"PRAGMA temp_store={int(before or 0)}")


def _partitions(
    conn: Connection, stmt: sa.Select[Any], wanted: list[str], chunk_rows: int
) -> Iterator[list[dict[str, Any]]]:
    result = conn.execution_options(stream_results=True, yield_per=chunk_rows).execute(stmt)
    try:
        for partition in result.partitions(chunk_rows):
            yield _shape_rows(conn, partition, wanted)
    finally:
        result.close()


def count_contacts(db: Database, flt: ContactFilter | None = None, cap: int | None = None) -> int:
    """How many contacts match. With `cap`, counting stops at `cap + 1`: a result above `cap`
    means "more than cap" (see `format_count`)."""
    if cap is not None and cap < 0:
        raise ValueError("cap must be 0 or more")
    flt = flt or ContactFilter()
    with _exploring(db) as conn:
        return _Plan(conn, db.dialect, flt, narrow=False).count(flt, cap)


def format_count(count: int, cap: int | None = None) -> str:
    """ "1,234", or ">10,000" when a capped count went past its cap."""
    if cap is not None and count > cap:
        return f">{cap:,}"
    return f"{count:,}"


@dataclass(frozen=True)
class FacetValue:
    """One option of a facet and how many contacts it would give with the rest of the filter."""

    value: str
    label: str
    count: int
    selected: bool


FacetName = Literal["segment", "lifecycle", "list"]
FACETS: tuple[str, ...] = ("segment", "lifecycle", "list")


def known_segments(db: Database) -> list[tuple[str, str]]:
    """(key, display name) of every segment: the defined ones in `segment_store` order
    (built-ins first, zero members or not), then keys found only in `contact_segments`.
    Filters and `contact_segments` use the key; pages show the name."""
    labels = _segment_labels(db)
    with _reading(db) as conn:
        return _with_stored_keys(conn, labels)


def _segment_labels(db: Database) -> list[tuple[str, str]]:
    """(key, display name) of the defined segments (built-ins from code, users from the table)."""
    return [(seg.key, seg.name) for seg in segment_store.list_definitions(db)]


def _with_stored_keys(conn: Connection, labels: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return _add_stored_keys(labels, _stored_keys(conn))


#: The distinct segment keys by a loose index scan: one seek in the (segment, hubspot_id)
#: primary key per key, instead of reading every membership row (250,000 at 200,000
#: contacts). Portable SQL: a recursive CTE on both SQLite and PostgreSQL.
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


def _stored_keys(conn: Connection) -> list[str]:
    return [str(key) for key in conn.execute(_STORED_KEYS).scalars()]


def _add_stored_keys(labels: list[tuple[str, str]], stored: Iterable[str]) -> list[tuple[str, str]]:
    defined = {key for key, _ in labels}
    return labels + [(key, key) for key in sorted(set(stored) - defined)]


def stage_sort_key(stage: str | None) -> tuple[int, int, str]:
    """Funnel order for the default stages, then custom stages A-Z, then no stage."""
    if stage is None or stage in ("", NO_STAGE):
        return (2, 0, "")
    if stage in FUNNEL_STAGES:
        return (0, FUNNEL_STAGES.index(stage), stage)
    return (1, 0, stage.casefold())


def facet_counts(
    db: Database, flt: ContactFilter | None = None, facet: FacetName = "segment"
) -> list[FacetValue]:
    """Counts per option of a facet for the current filter, ignoring the facet's own selection
    (so each count says what picking that option would give).

    `segment`: every segment in `segment_definitions` or `contact_segments`, zeros included,
    defined ones first in their order. `lifecycle`: stages present under the filter (plus
    selected ones), funnel order, `NO_STAGE` last. `list`: synced lists with members under
    the filter (plus selected ones), by name.
    """
    if facet not in FACETS:
        raise ValueError(f"Unknown facet {facet!r}: choose one of {', '.join(FACETS)}")
    flt = flt or ContactFilter()
    labels = _segment_labels(db) if facet == "segment" else []
    with _exploring(db) as conn:
        return _facet(_Plan(conn, db.dialect, flt, facets=(facet,)), facet, labels)


def _facet(plan: _Plan, facet: str, labels: list[tuple[str, str]]) -> list[FacetValue]:
    """`labels`: the defined segments' (key, name), read before `plan`'s connection opened."""
    flt = plan.flt
    if facet == "segment":
        counts = plan.segment_counts()
        names = _add_stored_keys(labels, plan.stored_keys())
        known = {key for key, _ in names}
        names += [(key, key) for key in flt.segments if key not in known]
        return [
            FacetValue(key, label, counts.get(key, 0), key in flt.segments) for key, label in names
        ]
    if facet == "lifecycle":
        stages: dict[str, int] = {}
        for stage, n in plan.stage_counts().items():
            key = stage or NO_STAGE
            stages[key] = stages.get(key, 0) + n
        stages = {s: n for s, n in stages.items() if n}
        for stage in flt.lifecycle_stages:
            stages.setdefault(stage, 0)
        return [
            FacetValue(s, "No stage" if s == NO_STAGE else s, stages[s], s in flt.lifecycle_stages)
            for s in sorted(stages, key=stage_sort_key)
        ]
    return _list_facet(plan)


def _list_facet(plan: _Plan) -> list[FacetValue]:
    flt, conn = plan.flt, plan.conn
    counts = {list_id: n for list_id, n in plan.list_counts().items() if n}
    for list_id in flt.list_ids:
        counts.setdefault(list_id, 0)
    names = {
        row.list_id: row.name for row in conn.execute(sa.select(LISTS.c.list_id, LISTS.c.name))
    }
    values = [FacetValue(i, names.get(i) or i, n, i in flt.list_ids) for i, n in counts.items()]
    return sorted(values, key=lambda v: (v.label.casefold(), v.value))


# --- One contact, SDK rows, overview --------------------------------------------------------


def get_contact(db: Database, hubspot_id: str | int) -> dict[str, Any] | None:
    """One contact with every stored field, its `properties`, `segments` (names),
    `list_memberships` (names) and `lists` (`{"list_id", "name"}`), archived or not."""
    key = str(hubspot_id).strip()
    columns = [CONTACTS.c[name] for name in (*CONTACT_FIELDS, "properties")]
    with _reading(db) as conn:
        row = conn.execute(sa.select(*columns).where(CONTACTS.c.hubspot_id == key)).first()
        if row is None:
            return None
        contact = {name: _plain(name, value) for name, value in row._mapping.items()}
        contact["segments"] = _segments_of(conn, [key]).get(key, [])
        lists = _lists_of(conn, [key]).get(key, [])
    contact["list_memberships"] = [item["name"] for item in lists]
    contact["lists"] = lists
    return contact


def hubspot_record_url(portal_id: str | int, hubspot_id: str | int) -> str:
    """The contact's page in HubSpot."""
    return f"https://app.hubspot.com/contacts/{portal_id}/record/0-1/{hubspot_id}"


def iso_z(value: datetime | None) -> str | None:
    """A naive-UTC (or aware) datetime as ISO 8601 with a Z: `2024-01-23T10:00:00Z`
    (milliseconds kept when present)."""
    if value is None:
        return None
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value.isoformat(timespec="milliseconds" if value.microsecond else "seconds") + "Z"


SDK_FIELDS: tuple[str, ...] = (
    "email",
    "firstname",
    "lastname",
    "company",
    "phone",
    "jobtitle",
    "hubspot_id",
    "list_memberships",
    "segments",
    "properties",
    "created_at",
    "updated_at",
    "synced_at",
    "lifecyclestage",
    "archived",
)


def sdk_contacts(
    db: Database,
    segment: Any = None,
    limit: int = 100,
    offset: int = 0,
    search: str | None = None,
) -> dict[str, Any]:
    """The original spec's `get_contacts`: `{"contacts", "total", "limit", "offset", "segment"}`.

    Live contacts only, ordered by id (numerically) so pages stay put while syncs change
    `updated_at`. `segment` may be a name or an enum whose `.value` is one. Times are ISO
    strings with a Z.
    """
    _check_paging(limit, offset)
    name = getattr(segment, "value", segment)
    name = str(name) if name not in (None, "") else None
    flt = ContactFilter(segments=(name,) if name else (), search=search)
    page = query_contacts(
        db, flt, sort="hubspot_id", descending=False, limit=limit, offset=offset, columns=SDK_FIELDS
    )
    contacts = [
        {
            key: iso_z(value) if key in ("created_at", "updated_at", "synced_at") else value
            for key, value in row.items()
        }
        for row in page.rows
    ]
    return {
        "contacts": contacts,
        "total": page.total,
        "limit": limit,
        "offset": offset,
        "segment": name,
    }


@dataclass(frozen=True)
class RunSummary:
    """One sync run as the Overview and CLI show it."""

    id: int
    mode: str
    status: str
    started_at: datetime
    finished_at: datetime | None
    pages: int
    contacts: int
    api_calls: int
    retries: int
    rate_limited: int
    errors: int
    duration_seconds: float | None
    error_message: str | None
    error_hint: str | None
    by_segment: dict[str, Any] = field(default_factory=dict)


_RUN_COLUMNS = (
    "id",
    "mode",
    "status",
    "started_at",
    "finished_at",
    "pages",
    "contacts",
    "api_calls",
    "retries",
    "rate_limited",
    "errors",
    "duration_seconds",
    "error_message",
    "error_hint",
    "by_segment",
)


def _run_summary(row: sa.Row[Any] | None) -> RunSummary | None:
    if row is None:
        return None
    data = {k: _plain(k, v) for k, v in row._mapping.items()}
    data["by_segment"] = dict(data.get("by_segment") or {})
    return RunSummary(**data)


def last_run(db: Database, *, statuses: Sequence[str] | None = None) -> RunSummary | None:
    """The most recently started sync run (optionally only with one of `statuses`)."""
    with _reading(db) as conn:
        return _last_run(conn, statuses)


def _last_run(conn: Connection, statuses: Sequence[str] | None) -> RunSummary | None:
    stmt = sa.select(*(RUNS.c[name] for name in _RUN_COLUMNS))
    if statuses:
        stmt = stmt.where(RUNS.c.status.in_(list(statuses)))
    stmt = stmt.order_by(RUNS.c.started_at.desc(), RUNS.c.id.desc()).limit(1)
    return _run_summary(conn.execute(stmt).first())


@dataclass(frozen=True)
class Overview:
    """The Overview page's numbers. `by_segment` counts live contacts per segment key, defined
    segments first; `segment_names` gives each key's display name."""

    total: int
    archived: int
    without_email: int
    by_segment: dict[str, int]
    segment_names: dict[str, str]
    lists: int
    last_synced_at: datetime | None
    last_run: RunSummary | None
    last_success: RunSummary | None

    @property
    def is_empty(self) -> bool:
        """No contact stored at all (no sync yet, or cleared)."""
        return self.total == 0 and self.archived == 0


def overview(db: Database) -> Overview:
    """Totals for the Overview page in a handful of queries."""
    c = CONTACTS.c
    live = c.archived == sa.false()
    no_email = sa.or_(c.email.is_(None), c.email == "")
    labels = _segment_labels(db)
    with _exploring(db) as conn:
        total, archived, without_email, last_synced = conn.execute(
            sa.select(
                sa.func.count().filter(live),
                sa.func.count().filter(c.archived == sa.true()),
                sa.func.count().filter(sa.and_(live, no_email)),
                sa.func.max(c.synced_at),
            )
        ).one()
        plan = _Plan(conn, db.dialect, ContactFilter())
        segments = _facet(plan, "segment", labels)
        lists = int(conn.execute(sa.select(sa.func.count()).select_from(LISTS)).scalar_one())
        latest = _last_run(conn, None)
        success = _last_run(conn, ("succeeded",))
    return Overview(
        total=int(total or 0),
        archived=int(archived or 0),
        without_email=int(without_email or 0),
        by_segment={f.value: f.count for f in segments},
        segment_names={f.value: f.label for f in segments},
        lists=lists,
        last_synced_at=_plain("synced_at", last_synced),
        last_run=latest,
        last_success=success,
    )
