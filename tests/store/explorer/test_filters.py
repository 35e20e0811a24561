"""The filter model: normalisation, URL round trips, labels and slugs (no database).

Every test runs on SQLite and PostgreSQL (the shared `db` fixture).
"""

from __future__ import annotations

from datetime import date, datetime

import pytest

from hubsync_core.store.explorer import (
    MAX_SEARCH_LENGTH,
    NO_STAGE,
    QUERY_PARAM_KEYS,
    ContactFilter,
    parse_query_params,
)


def test_filter_normalises_lists_and_rejects_bad_modes() -> None:
    flt = ContactFilter(segments=["b", "a", "b", ""], lifecycle_stages="lead")  # type: ignore[arg-type]
    assert flt.segments == ("b", "a")
    assert flt.lifecycle_stages == ("lead",)
    assert flt == ContactFilter(segments=("b", "a"), lifecycle_stages=("lead",))
    assert hash(flt) == hash(ContactFilter(segments=("b", "a"), lifecycle_stages=("lead",)))
    with pytest.raises(ValueError, match="segment_match"):
        ContactFilter(segment_match="some")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="archived"):
        ContactFilter(archived="yes")  # type: ignore[arg-type]
    assert ContactFilter(created_from=datetime(2026, 1, 2, 3, 4)).created_from == date(2026, 1, 2)


FULL = ContactFilter(
    segments=("chainge", "eu_leads"),
    segment_match="all",
    search="Ann Lee & co",
    lifecycle_stages=("lead", NO_STAGE),
    created_from=date(2025, 1, 1),
    created_to=date(2025, 12, 31),
    modified_from=date(2026, 11, 1),
    modified_to=date(2026, 11, 28),
    has_email=False,
    archived="include",
    list_ids=("101", "102"),
)


@pytest.mark.parametrize(
    "flt",
    [
        ContactFilter(),
        FULL,
        ContactFilter(segments=("chainge",)),
        ContactFilter(has_email=True, archived="only"),
        ContactFilter(search="'; DROP TABLE contacts; --"),
    ],
)
def test_filters_survive_a_round_trip_through_url_parameters(flt: ContactFilter) -> None:
    params = flt.to_query_params()
    assert ContactFilter.from_query_params(params) == flt
    assert parse_query_params(params) == (flt, [])
    assert set(params) <= set(QUERY_PARAM_KEYS)
    for value in params.values():
        assert isinstance(value, str) or all(isinstance(v, str) for v in value)


def test_default_filter_has_no_url_parameters() -> None:
    assert ContactFilter().to_query_params() == {}
    assert ContactFilter(segments=("chainge",)).to_query_params() == {"segment": ["chainge"]}


def test_bad_url_values_are_ignored_with_a_warning() -> None:
    flt, warnings = parse_query_params(
        {
            "segment": "chainge",
            "match": "most",
            "created_from": "2026-13-01",
            "created_to": "yesterday",
            "has_email": "maybe",
            "archived": "sometimes",
            "q": "x" * 500,
            "page": "3",  # the page's own key: left alone, no warning
        }
    )
    assert flt == ContactFilter(segments=("chainge",), search="x" * MAX_SEARCH_LENGTH)
    assert len(warnings) == 6
    assert any("created_from" in w for w in warnings)


def test_url_values_are_read_from_lists_and_from_get_all() -> None:
    class QueryParams(dict):  # what st.query_params offers: [] gives the last, get_all all
        def __getitem__(self, key: str) -> str:
            return super().__getitem__(key)[-1]

        def get_all(self, key: str) -> list[str]:
            return list(super().__getitem__(key))

    params = QueryParams({"segment": ["chainge", "cold"], "stage": ["lead"], "q": ["a", "b"]})
    flt, warnings = parse_query_params(params)
    assert (flt.segments, flt.lifecycle_stages, flt.search, warnings) == (
        ("chainge", "cold"),
        ("lead",),
        "b",
        [],
    )
    assert parse_query_params({"has_email": ["no"], "archived": "ONLY"})[0] == ContactFilter(
        has_email=False, archived="only"
    )


def test_reversed_date_range_is_kept_and_flagged() -> None:
    flt, warnings = parse_query_params({"created_from": "2026-02-01", "created_to": "2026-01-01"})
    assert flt.created_from == date(2026, 2, 1) and flt.created_to == date(2026, 1, 1)
    assert warnings == ["created_from is after created_to: nothing can match."]


def test_describe_reads_like_a_label() -> None:
    assert ContactFilter().describe() == "All contacts"
    assert ContactFilter(archived="only").describe() == "Archived only"
    assert ContactFilter(segments=("chainge",), search="acme").describe() == (
        "Segment chainge · search “acme”"
    )
    assert FULL.describe() == (
        "Segments chainge and eu_leads · search “Ann Lee & co” · stages lead or (none) · "
        "created 2025-01-01 to 2025-12-31 · modified 2026-11-01 to 2026-11-28 · without email · "
        "in lists 101, 102 · archived included"
    )


def test_slug_is_short_ascii_for_file_names() -> None:
    assert ContactFilter().slug() == "all"
    assert ContactFilter(segments=("chainge",)).slug() == "chainge"
    assert ContactFilter(segments=("chainge", "engaged")).slug() == "chainge-engaged"
    assert ContactFilter(search="Émile Zola!").slug() == "search-emile-zola"
    assert ContactFilter(search="'; DROP TABLE x; --").slug() == "search-drop-table-x"
    assert ContactFilter(search="日本").slug() == "search"
    slug = FULL.slug()
    assert len(slug) <= 60 and slug.startswith("chainge-eu-leads-all-search-ann-lee")
    assert slug.replace("-", "").isalnum()
