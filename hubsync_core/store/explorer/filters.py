"""What a contacts view asks for (`ContactFilter`) and its URL form; no SQL here.

`ContactFilter` is immutable and hashable (a cache key) and round-trips through URL query
parameters (`to_query_params` / `parse_query_params`), so a view can be bookmarked.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal

SegmentMatch = Literal["any", "all"]
ArchivedMode = Literal["hide", "include", "only"]
SEGMENT_MATCHES: tuple[str, ...] = ("any", "all")
ARCHIVED_MODES: tuple[str, ...] = ("hide", "include", "only")

#: Lifecycle-stage filter and facet value standing for "no stage" (NULL or empty).
NO_STAGE = "(none)"
MAX_SEARCH_LENGTH = 200

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

    def describe(self, stage_labels: Mapping[str, str] | None = None) -> str:
        """A human label: "All contacts", or "Segment chainge · search “acme” · with email".
        `stage_labels`: {stage value: label} to name stages as people know them."""
        parts: list[str] = []
        if self.segments:
            joiner = " and " if self.segment_match == "all" else " or "
            noun = "Segment" if len(self.segments) == 1 else "Segments"
            parts.append(f"{noun} {joiner.join(self.segments)}")
        if self.search:
            parts.append(f"search “{self.search}”")
        if self.lifecycle_stages:
            noun = "stage" if len(self.lifecycle_stages) == 1 else "stages"
            names = [(stage_labels or {}).get(s, s) for s in self.lifecycle_stages]
            parts.append(f"{noun} {' or '.join(names)}")
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
