"""The paging layer: every walk ends (repeated cursor, unusable pages, a trial run's cap)."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from hubsync_core.hubspot.models import ContactRecord, SearchPage
from hubsync_core.hubspot.paging import (
    MAX_UNUSABLE_PAGES,
    PagingError,
    walk_cursor,
    walk_offsets,
    walk_search_by_id,
)


def _endless(ids: Any, cursors: Any, size: int = 10):
    """A fetch that always promises another page."""

    def fetch(after: str | None, limit: int) -> tuple[list[str], str | None]:
        fetch.calls.append((after, limit))
        return [next(ids) for _ in range(min(size, limit))], next(cursors)

    fetch.calls = []
    return fetch


def test_walk_follows_cursors_to_the_last_page() -> None:
    pages = {None: (["1", "2"], "a"), "a": (["3"], "b"), "b": (["4"], None)}
    walk = walk_cursor(lambda after, limit: pages[after], what="the test pages")
    got = [(page.after, page.items, page.next_after) for page in walk]
    assert got == [(None, ["1", "2"], "a"), ("a", ["3"], "b"), ("b", ["4"], None)]


def test_repeated_cursor_stops_the_walk_naming_it() -> None:
    fetch = _endless(itertools.count(1), itertools.cycle(["x", "y"]))
    with pytest.raises(PagingError, match="cursor 'x' a second time"):
        list(walk_cursor(fetch, what="the members"))
    assert [after for after, _limit in fetch.calls] == [None, "x", "y"]


def test_pages_without_usable_records_stop_after_the_cap_with_the_reason() -> None:
    fetch = _endless((f"id-{n}" for n in itertools.count()), (f"c{n}" for n in itertools.count()))
    walk = walk_cursor(
        fetch,
        what="the contacts list",
        problem=lambda item: None if item.isdigit() else "ids are not numeric",
    )
    with pytest.raises(PagingError) as raised:
        list(walk)
    assert "ids are not numeric" in raised.value.message
    assert "the contacts list" in raised.value.message
    assert len(fetch.calls) == MAX_UNUSABLE_PAGES


def test_one_usable_record_resets_the_unusable_count() -> None:
    # Alternating garbage and good pages never trips the guard; the end of pages does.
    ids = itertools.cycle(["x"] * 10 + ["x"] * 9 + ["7"])
    cursors = (f"c{n}" for n in range(9))
    pages = list(
        walk_cursor(
            lambda a, n: ([next(ids) for _ in range(10)], next(cursors, None)),
            what="pages",
            problem=lambda item: None if item.isdigit() else "ids are not numeric",
        )
    )
    assert len(pages) == 10


def test_empty_pages_that_promise_more_are_unusable() -> None:
    cursors = (f"c{n}" for n in itertools.count())
    with pytest.raises(PagingError, match="no record although each promised another page"):
        list(walk_cursor(lambda a, n: ([], next(cursors)), what="the archived contacts"))


def test_max_records_bounds_an_endless_walk_and_shrinks_the_last_page() -> None:
    fetch = _endless(itertools.count(1), (f"c{n}" for n in itertools.count()), size=100)
    pages = list(walk_cursor(fetch, what="pages", page_size=100, max_records=250))
    assert sum(len(page.items) for page in pages) == 250
    assert [limit for _after, limit in fetch.calls] == [100, 100, 50]


def test_a_capped_walk_of_only_unusable_records_is_an_error() -> None:
    fetch = _endless((f"id-{n}" for n in itertools.count()), (f"c{n}" for n in itertools.count()))
    walk = walk_cursor(
        fetch,
        what="the contacts list",
        problem=lambda item: "ids are not numeric",
        max_records=10,
    )
    with pytest.raises(PagingError, match="ids are not numeric"):
        list(walk)


def test_offset_walk_stops_when_the_offset_does_not_move() -> None:
    with pytest.raises(PagingError, match="second time"):
        list(walk_offsets(lambda offset: (["list"], True, 500), what="the lists"))


class _Search:
    """A client whose search answers from a function of the request body."""

    def __init__(self, answer: Any) -> None:
        self.answer = answer
        self.bodies: list[dict[str, Any]] = []

    def search_contacts(self, filter_groups, properties, sorts=None, limit=200, after=None):
        self.bodies.append({"filterGroups": filter_groups, "sorts": sorts, "limit": limit})
        return self.answer(filter_groups, limit)


def _records(ids: list[str]) -> list[ContactRecord]:
    return [ContactRecord(id=i, properties={}) for i in ids]


def test_search_walk_continues_after_the_last_id_and_ends_on_a_short_page() -> None:
    store = [str(n) for n in range(1, 451)]

    def answer(groups, limit):
        last = next(int(f["value"]) for f in groups[0]["filters"] if f["operator"] == "GT")
        found = [i for i in store if int(i) > last][:limit]
        return SearchPage(_records(found), total=len(store), next_after="x" if found else None)

    client = _Search(answer)
    pages = list(walk_search_by_id(client, ["email"], last_id="0"))
    assert [len(page.contacts) for page in pages] == [200, 200, 50]
    assert [page.last_id for page in pages] == ["200", "400", "450"]
    assert pages[-1].done
    gt = [g[0]["filters"][-1] for g in (b["filterGroups"] for b in client.bodies)]
    assert [f["value"] for f in gt] == ["0", "200", "400"]


def test_search_walk_refuses_a_server_that_ignores_the_id_filter() -> None:
    client = _Search(
        lambda groups, limit: SearchPage(_records(["5", "6"]), total=9_999, next_after="n")
    )
    walk = walk_search_by_id(client, ["email"], last_id="0", page_size=2)
    with pytest.raises(PagingError, match="at or below hs_object_id 6"):
        list(walk)


def test_search_walk_with_random_string_ids_names_the_problem() -> None:
    names = (f"abc{n}" for n in itertools.count())
    client = _Search(
        lambda groups, limit: SearchPage(
            _records([next(names) for _ in range(limit)]), total=10**6, next_after="n"
        )
    )
    with pytest.raises(PagingError, match="ids are not numeric"):
        list(walk_search_by_id(client, ["email"], last_id="0"))
    assert len(client.bodies) == MAX_UNUSABLE_PAGES
