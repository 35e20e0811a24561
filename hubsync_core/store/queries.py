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
from sqlalchemy.sql.elements import ColumnElement, UnaryExpression
from sqlalchemy.sql.operators import custom_op

from hubsync_core.store import segment_store
from hubsync_core.store.database import Database
from hubsync_core.store.models import (
    Contact,
    ContactSegmentRow,
    HubSpotList,
    ListMembership,
    SyncRun,
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


def _search_clause(term: str, dialect: str) -> ColumnElement[bool]:
    """Case-insensitive substring match over email, company, first, last and full name."""
    c = CONTACTS.c
    fields: list[ColumnElement[Any]] = [c.email, c.company, c.firstname, c.lastname]
    if any(ch.isspace() for ch in term):
        # "Ann Lee" spans both names; only built when needed (the concatenation costs a scan).
        fields.append(sa.func.coalesce(c.firstname, "") + " " + sa.func.coalesce(c.lastname, ""))
    # SQLite's LIKE folds ASCII case only, and PostgreSQL's ILIKE folds other letters only
    # under a locale that knows them (not under C). For a term with other letters also try
    # its lower, upper and title-case forms: "émile" finds "Émile", "müller" finds "MÜLLER"
    # on both. (A match mixing cases of non-ASCII letters, "ÉMile" for "émile", is the miss.)
    forms = [term]
    if not term.isascii():
        forms += [term.lower(), term.upper(), term.title(), term.capitalize()]
    patterns = [f"%{_escape_like(form)}%" for form in dict.fromkeys(forms)]
    if dialect == "sqlite":
        return sa.or_(*(f.like(p, escape="\\") for p in patterns for f in fields))
    return sa.or_(*(f.ilike(p, escape="\\") for p in patterns for f in fields))


#: Whether the timestamp columns hold aware values (`timestamptz`, SQLModel's default for a
#: bare `datetime`) or naive UTC ones (what `models.py` declares): bound values must match.
TIMESTAMPS_AWARE = bool(getattr(CONTACTS.c.created_at.type, "timezone", False))


def _bound(value: datetime) -> datetime:
    """A naive-UTC datetime as the timestamp columns expect it in a comparison."""
    return value.replace(tzinfo=UTC) if TIMESTAMPS_AWARE else value


def _day_start(day: date) -> datetime:
    return _bound(datetime(day.year, day.month, day.day))


def _archived_term(mode: str, dialect: str) -> ColumnElement[bool] | None:
    c = CONTACTS.c
    if mode == "include":
        return None
    if mode == "only":
        return _archived_only(dialect)
    live = c.archived == sa.false()
    # Almost every row is live: tell SQLite's planner so, or it walks the (archived, ...)
    # index with a random row read per contact instead of scanning (3x slower at 200k).
    # It still takes the index when that index gives the ORDER BY.
    return sa.func.likely(live) if dialect == "sqlite" else live


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
    hubspot_id = _no_index(CONTACTS.c.hubspot_id, dialect) if probe else CONTACTS.c.hubspot_id
    return [hubspot_id.in_(members) for members in _segment_members(flt)]


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


def _core_terms(
    flt: ContactFilter, dialect: str, *, probe: bool = False
) -> list[ColumnElement[bool]]:
    """Every term but segments and lifecycle stages (the facets' own selections)."""
    c = CONTACTS.c
    terms: list[ColumnElement[bool]] = []
    if (archived := _archived_term(flt.archived, dialect)) is not None:
        terms.append(archived)
    if flt.search:
        terms.append(_search_clause(flt.search, dialect))
    for column, start, end in (
        (c.created_at, flt.created_from, flt.created_to),
        (c.updated_at, flt.modified_from, flt.modified_to),
    ):
        if start is not None:
            terms.append(column >= _day_start(start))
        if end is not None:
            terms.append(column < _day_start(end + timedelta(days=1)))
    if flt.has_email is True:
        terms.append(sa.and_(c.email.is_not(None), c.email != ""))
    elif flt.has_email is False:
        terms.append(sa.or_(c.email.is_(None), c.email == ""))
    if flt.list_ids:
        members = sa.select(MEMBERS.c.hubspot_id).where(MEMBERS.c.list_id.in_(flt.list_ids))
        hubspot_id = _no_index(c.hubspot_id, dialect) if probe else c.hubspot_id
        terms.append(hubspot_id.in_(members))
    return terms


def _where(flt: ContactFilter, dialect: str, *, probe: bool = False) -> list[ColumnElement[bool]]:
    """The WHERE terms of a filter (ANDed). Every value is a bound parameter."""
    return [
        *_core_terms(flt, dialect, probe=probe),
        *_segment_terms(flt, dialect, probe=probe),
        *_stage_terms(flt),
    ]


def _is_trivial(flt: ContactFilter) -> bool:
    """Nothing narrows the filter but its archived mode."""
    return not flt.segments and replace(flt, segment_match="any") == ContactFilter(
        archived=flt.archived
    )


def _ids_in(column: sa.Column[Any], ids: list[str], dialect: str) -> ColumnElement[bool]:
    """`column IN ids` with the ids as ONE parameter (a JSON array / a text[] array), so
    thousands of ids neither hit parameter limits nor slow the statement's compilation."""
    if dialect == "sqlite":
        values = sa.func.json_each(sa.bindparam(None, json.dumps(ids), type_=sa.Text))
        return column.in_(sa.select(sa.column("value")).select_from(values))
    return column == sa.any_(sa.bindparam(None, ids, type_=postgresql.ARRAY(sa.Text)))


class _Plan:
    """The SQL for one filter on one connection, picking plans that stay fast at size.

    - When the filter's "core" (everything but segments and stages) matches few contacts,
      their ids are read once (one scan, e.g. for a search) and every later statement —
      page, total, facets — works from those ids instead of repeating the scan.
    - Segment counts over most of the table are computed as "all members minus those
      outside the filter", from the membership index, instead of a lookup per member.
    - On SQLite, a page sorted by a date walks the (archived, date) index and tests each
      row against dense member lists, rather than looking every member up and sorting.
    """

    #: At most this many core ids are carried between statements (looking 50,000 ids up
    #: costs about what one scan with a search does at 200,000 contacts).
    NARROW_LIMIT = 50_000

    def __init__(
        self, conn: Connection, dialect: str, flt: ContactFilter, *, narrow: bool = True
    ) -> None:
        self.conn = conn
        self.dialect = dialect
        self.flt = flt
        self._core = replace(flt, segments=(), segment_match="any", lifecycle_stages=())
        self._narrow: list[str] | None = None
        self._probed = not narrow
        self._counts: dict[ContactFilter, int] = {}
        self._all: int | None = None
        self._members: dict[str, int] | None = None

    def narrow_ids(self) -> list[str] | None:
        """The core's ids when there are at most `NARROW_LIMIT`; None otherwise."""
        if not self._probed:
            self._probed = True
            # Only a search is worth carrying ids for: other core terms are index ranges
            # whose cost already follows the number of matches.
            if self._core.search:
                stmt = (
                    sa.select(CONTACTS.c.hubspot_id)
                    .where(*_core_terms(self._core, self.dialect))
                    .limit(self.NARROW_LIMIT + 1)
                )
                ids = list(self.conn.execute(stmt).scalars())
                if len(ids) <= self.NARROW_LIMIT:
                    self._narrow = ids
                    self._counts[self._core] = len(ids)
        return self._narrow

    def where(self, flt: ContactFilter, *, probe: bool = False) -> list[ColumnElement[bool]]:
        """Terms for `flt`, which must share this plan's core (it may drop segments/stages)."""
        ids = self.narrow_ids()
        if ids is None:
            return _where(flt, self.dialect, probe=probe)
        narrowed = _ids_in(CONTACTS.c.hubspot_id, ids, self.dialect)
        return [narrowed, *_segment_terms(flt, self.dialect), *_stage_terms(flt)]

    def page_where(self, sort: str) -> list[ColumnElement[bool]]:
        """Terms for the page query, sorted by `sort`."""
        return self.where(self.flt, probe=self._walk_sort_index(sort))

    def _walk_sort_index(self, sort: str) -> bool:
        if self.dialect != "sqlite" or sort not in ("updated_at", "created_at"):
            return False
        if self.flt.search or self.narrow_ids() is not None:
            return False
        return self._dense_members(self.flt)

    def _dense_members(self, flt: ContactFilter) -> bool:
        """Whether every segment/list condition of `flt` holds >= 2% of contacts: then testing
        rows against the member lists beats looking each member up (SQLite's usual choice)."""
        if self.dialect != "sqlite" or not (flt.segments or flt.list_ids):
            return False
        lists = sa.select(MEMBERS.c.hubspot_id).where(MEMBERS.c.list_id.in_(flt.list_ids))
        conditions = _segment_members(flt) + ([lists] if flt.list_ids else [])
        for members in conditions:
            size = self._scalar(sa.select(sa.func.count()).select_from(members.subquery()))
            if size * 50 < self.all_count():
                return False
        return True

    def _scalar(self, stmt: sa.Select[Any]) -> int:
        return int(self.conn.execute(stmt).scalar_one())

    def all_count(self) -> int:
        """Every stored contact, archived included (the smallest index answers it)."""
        if self._all is None:
            self._all = self._scalar(sa.select(sa.func.count()).select_from(CONTACTS))
        return self._all

    def all_members(self) -> dict[str, int]:
        """Rows per segment key in contact_segments, archived contacts included (the primary
        key alone answers it; also tells which keys are stored)."""
        if self._members is None:
            stmt = sa.select(SEGMENTS.c.segment, sa.func.count()).group_by(SEGMENTS.c.segment)
            self._members = {s: int(n) for s, n in self.conn.execute(stmt).all()}
        return self._members

    def count(self, flt: ContactFilter, cap: int | None = None) -> int:
        """Contacts matching `flt`; with `cap`, at most cap + 1 (Datasette-style)."""
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


def _list_counts(conn: Connection, flt: ContactFilter, dialect: str) -> dict[str, int]:
    """Contacts per list under `flt` without its list selection (`_Plan`'s carried ids do not
    apply: its core holds the list selection)."""
    base = replace(flt, list_ids=())

    def members_of(where: list[ColumnElement[bool]]) -> dict[str, int]:
        ids = sa.select(CONTACTS.c.hubspot_id).where(*where)
        stmt = (
            sa.select(MEMBERS.c.list_id, sa.func.count())
            .where(MEMBERS.c.hubspot_id.in_(ids))
            .group_by(MEMBERS.c.list_id)
        )
        return {list_id: int(n) for list_id, n in conn.execute(stmt).all()}

    if _is_trivial(base):
        # As for segments: all members from the primary key, less the (few) archived ones.
        every = sa.select(MEMBERS.c.list_id, sa.func.count()).group_by(MEMBERS.c.list_id)
        counts = {list_id: int(n) for list_id, n in conn.execute(every).all()}
        if base.archived == "include":
            return counts
        archived = members_of([_archived_only(dialect)])
        return archived if base.archived == "only" else _subtract(counts, archived)
    return members_of(_where(base, dialect))


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
    where: list[ColumnElement[bool]], sort: str, descending: bool, columns: Sequence[str] | None
) -> tuple[sa.Select[Any], list[str]]:
    """The ordered SELECT behind pages and exports, and the row keys `_shape_rows` fills."""
    wanted = list(dict.fromkeys(columns if columns is not None else DEFAULT_COLUMNS))
    stored, _, props = _split_columns(wanted)
    selected = list(dict.fromkeys(["hubspot_id", *stored]))
    if props and "properties" not in selected:
        selected.append("properties")
    stmt = (
        sa.select(*(CONTACTS.c[name] for name in selected))
        .where(*where)
        .order_by(*_order_by(sort, descending))
    )
    return stmt, wanted


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
    segments = _segments_of(conn, ids) if "segments" in wanted else {}
    lists = _lists_of(conn, ids) if "list_memberships" in wanted else {}
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
        .where(SEGMENTS.c.hubspot_id.in_(ids))
        .order_by(SEGMENTS.c.hubspot_id, SEGMENTS.c.segment)
    )
    for hubspot_id, segment in conn.execute(stmt).all():
        found.setdefault(hubspot_id, []).append(segment)
    return found


def _lists_of(conn: Connection, ids: Sequence[str]) -> dict[str, list[dict[str, str]]]:
    """List memberships by contact: `{"list_id", "name"}` sorted by name (id if unnamed)."""
    if not ids:
        return {}
    stmt = (
        sa.select(MEMBERS.c.hubspot_id, MEMBERS.c.list_id, LISTS.c.name)
        .select_from(MEMBERS.outerjoin(LISTS, LISTS.c.list_id == MEMBERS.c.list_id))
        .where(MEMBERS.c.hubspot_id.in_(ids))
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
    with _reading(db) as conn:
        plan = _Plan(conn, db.dialect, flt)
        rows: list[dict[str, Any]] = []
        if limit:
            stmt, wanted = _rows_select(plan.page_where(sort), sort, descending, columns)
            rows = _shape_rows(conn, conn.execute(stmt.limit(limit).offset(offset)).all(), wanted)
        if 0 < len(rows) < limit or (offset == 0 and limit and not rows):
            # A short page is the last one: its end is the total, no count needed.
            total = offset + len(rows)
        else:
            total = plan.count(flt, count_cap)
        found = {name: _facet(plan, name, labels) for name in facets}
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
    with _reading(db) as conn:
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
    stored = conn.execute(sa.select(SEGMENTS.c.segment).distinct()).scalars().all()
    return _add_stored_keys(labels, stored)


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
    with _reading(db) as conn:
        return _facet(_Plan(conn, db.dialect, flt), facet, labels)


def _facet(plan: _Plan, facet: str, labels: list[tuple[str, str]]) -> list[FacetValue]:
    """`labels`: the defined segments' (key, name), read before `plan`'s connection opened."""
    flt = plan.flt
    if facet == "segment":
        counts = plan.segment_counts()
        names = _add_stored_keys(labels, plan.all_members())
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
    return _list_facet(plan.conn, flt, plan.dialect)


def _list_facet(conn: Connection, flt: ContactFilter, dialect: str) -> list[FacetValue]:
    counts = {list_id: n for list_id, n in _list_counts(conn, flt, dialect).items() if n}
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
    with _reading(db) as conn:
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
