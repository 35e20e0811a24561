"""The CSV export: same rows as the query, streamed, UTF-8, formula cells neutralised."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime

import pytest

from hubsync_core.store.database import Database
from hubsync_core.store.explorer import NO_STAGE, ContactFilter, query_contacts
from hubsync_core.store.export import (
    EXPORT_COLUMNS,
    csv_bytes,
    csv_filename,
    format_cell,
    iter_csv,
    neutralise,
    write_csv,
)

from .contact_data import add_contact, add_people


def read_csv(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline="")))


# -- cells ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("=1+1", "'=1+1"),
        ("+49 30 1234", "'+49 30 1234"),
        ("-5", "'-5"),
        ("@SUM(A1:A2)", "'@SUM(A1:A2)"),
        ("\t=cmd", "'\t=cmd"),
        ("\rfoo", "'\rfoo"),
        ('=HYPERLINK("http://evil","x")', '\'=HYPERLINK("http://evil","x")'),
        ("  =1+1", "'  =1+1"),  # spreadsheets may trim the spaces: still a formula
        ("\n@x", "'\n@x"),
        ("\x00=1+1", "'=1+1"),  # NUL removed first, so it cannot hide a formula
        ("a=b", "a=b"),
        ("foo@bar.com", "foo@bar.com"),
        ("Ann-Marie", "Ann-Marie"),
        ("", ""),
        ("   ", "   "),
        ("foo\x00bar", "foobar"),
        ("Émile", "Émile"),
    ],
)
def test_neutralise_defuses_formula_cells_and_drops_nul(value: str, expected: str) -> None:
    assert neutralise(value) == expected


def test_cells_are_formatted_then_neutralised() -> None:
    assert format_cell(None) == ""
    assert format_cell(True) == "true"
    assert format_cell(datetime(2026, 11, 28, 9, 5)) == "2026-11-28T09:05:00Z"
    assert format_cell(date(2026, 11, 28)) == "2026-11-28"
    assert format_cell(["chainge", "high_value"]) == "chainge; high_value"
    assert format_cell([]) == ""
    assert format_cell(["=evil", "ok"]) == "'=evil; ok"
    assert format_cell({"b": 1, "a": "x"}) == '{"a": "x", "b": 1}'
    assert format_cell(42) == "42"
    assert format_cell("-1") == "'-1"


# -- file -------------------------------------------------------------------------------------


def test_csv_has_a_header_then_one_row_per_matching_contact(people: Database) -> None:
    text = "".join(iter_csv(people, ContactFilter(segments=("chainge",)), sort="hubspot_id"))
    rows = read_csv(text)
    assert rows[0] == list(EXPORT_COLUMNS)
    assert [row[0] for row in rows[1:]] == ["11", "2"]  # descending by default
    bob = dict(zip(rows[0], rows[2], strict=True))
    assert bob == {
        "hubspot_id": "2",
        "email": "bob@chainge.io",
        "firstname": "Bob",
        "lastname": "Stone",
        "company": "Chainge Labs",
        "jobtitle": "",
        "phone": "",
        "lifecyclestage": "customer",
        "segments": "chainge; cold; high_value",
        "list_memberships": "Newsletter; Webinar",
        "created_at": "2025-02-01T00:00:00Z",
        "updated_at": "2026-06-01T08:00:00Z",
    }
    assert text.endswith("\r\n")


FILTERS = [
    ContactFilter(),
    ContactFilter(archived="include"),
    ContactFilter(segments=("engaged", "cold")),
    ContactFilter(segments=("high_value", "cold"), segment_match="all"),
    ContactFilter(search="lee"),
    ContactFilter(lifecycle_stages=("lead", NO_STAGE), has_email=True),
    ContactFilter(list_ids=("101",), created_from=date(2025, 1, 1)),
    ContactFilter(search="nobody at all"),
]


@pytest.mark.parametrize("flt", FILTERS, ids=[f.describe() for f in FILTERS])
@pytest.mark.parametrize(
    ("sort", "descending"), [("updated_at", True), ("email", False), ("hubspot_id", False)]
)
def test_export_equals_the_query_row_for_row(
    people: Database, flt: ContactFilter, sort: str, descending: bool
) -> None:
    columns = [*EXPORT_COLUMNS, "archived", "country"]
    page = query_contacts(
        people, flt, sort=sort, descending=descending, limit=1000, columns=columns
    )
    expected = [[format_cell(row[c]) for c in columns] for row in page.rows]
    # chunk_rows=2 so rows cross several chunks (and membership lookups per chunk).
    text = "".join(iter_csv(people, flt, columns, sort=sort, descending=descending, chunk_rows=2))
    assert read_csv(text) == [columns, *expected]


def test_exported_segments_and_lists_are_those_of_the_contact_page(db: Database) -> None:
    from .contact_data import add_list

    add_list(db, "3", "zeta")
    add_list(db, "1", "Alpha")
    add_list(db, "2", "alpha")  # same name but case: ordered by id
    add_contact(db, "7", email="a@b.c", segments=["vip", "chainge", "cold"], lists=["3", "1", "9"])
    add_contact(db, "8", email="d@e.f", lists=["2", "1"])
    add_contact(db, "9", email="g@h.i")
    columns = ["hubspot_id", "segments", "list_memberships"]
    rows = query_contacts(db, sort="hubspot_id", descending=False, columns=columns).rows
    assert [(r["segments"], r["list_memberships"]) for r in rows] == [
        (["chainge", "cold", "vip"], ["9", "Alpha", "zeta"]),  # by name; unnamed: the id
        ([], ["Alpha", "alpha"]),
        ([], []),
    ]
    text = "".join(iter_csv(db, None, columns, sort="hubspot_id", descending=False))
    assert read_csv(text)[1:] == [
        ["7", "chainge; cold; vip", "9; Alpha; zeta"],
        ["8", "", "Alpha; alpha"],
        ["9", "", ""],
    ]


def test_rows_stream_in_chunks(people: Database) -> None:
    pieces = list(iter_csv(people, ContactFilter(), chunk_rows=3))
    assert len(pieces) == 1 + 3  # the header, then 8 rows in chunks of 3, 3, 2
    assert [len(read_csv(p)) for p in pieces] == [1, 3, 3, 2]


def test_formula_values_in_data_are_neutralised_in_the_file(db: Database) -> None:
    add_contact(
        db,
        "7",
        email="=cmd|' /C calc'!A0",
        firstname="+SUM(1,2)",
        lastname="-2+3",
        company='@HYPERLINK("http://x")',
        jobtitle="\tTab",
        phone="+1 555 0100",
        segments=["=evil"],
    )
    rows = read_csv("".join(iter_csv(db, ContactFilter())))
    cells = dict(zip(rows[0], rows[1], strict=True))
    assert cells["email"] == "'=cmd|' /C calc'!A0"
    assert cells["firstname"] == "'+SUM(1,2)"
    assert cells["lastname"] == "'-2+3"
    assert cells["company"] == '\'@HYPERLINK("http://x")'
    assert cells["jobtitle"] == "'\tTab"
    assert cells["phone"] == "'+1 555 0100"
    assert cells["segments"] == "'=evil"


RISKY = ["=1", "+1", "-1", "@a", "\tx", "\rx", " =1", "\u00a0@x", "\u3000+1", " x", "\nx", "x=1"]


def test_every_exported_text_cell_is_neutralised_like_neutralise(db: Database) -> None:
    for n, value in enumerate(RISKY):
        add_contact(db, str(n + 1), firstname=value)
    text = "".join(
        iter_csv(db, ContactFilter(), ["firstname"], sort="hubspot_id", descending=False)
    )
    assert [row[0] for row in read_csv(text)[1:]] == [neutralise(v) for v in RISKY]


def test_quotes_newlines_commas_and_unicode_survive(db: Database) -> None:
    add_contact(
        db, "8", email="a@b.c", firstname='Ann "A", Jr.', lastname="Line\nbreak", company="Zoë 日本"
    )
    rows = read_csv("".join(iter_csv(db, ContactFilter())))
    cells = dict(zip(rows[0], rows[1], strict=True))
    assert (cells["firstname"], cells["lastname"], cells["company"]) == (
        'Ann "A", Jr.',
        "Line\nbreak",
        "Zoë 日本",
    )


def test_write_csv_to_binary_writes_utf8_and_counts_rows(people: Database) -> None:
    out = io.BytesIO()
    assert write_csv(people, ContactFilter(), out) == 8
    text = out.getvalue().decode("utf-8")
    assert text == "".join(iter_csv(people, ContactFilter()))
    assert "Émile" in text


def test_write_csv_to_text_and_with_a_bom(people: Database) -> None:
    out = io.StringIO(newline="")
    assert write_csv(people, ContactFilter(archived="only"), out, ["hubspot_id", "email"]) == 1
    assert out.getvalue() == "hubspot_id,email\r\n100,frank@acme.io\r\n"
    raw = io.BytesIO()
    write_csv(people, ContactFilter(archived="only"), raw, ["hubspot_id"], bom=True)
    assert raw.getvalue() == b"\xef\xbb\xbfhubspot_id\r\n100\r\n"
    assert csv_bytes(people, ContactFilter(archived="only"), ["hubspot_id"]) == (
        b"hubspot_id\r\n100\r\n"
    )


def test_write_csv_to_a_file_opened_in_binary_or_text(people: Database, tmp_path) -> None:  # type: ignore[no-untyped-def]
    with open(tmp_path / "b.csv", "wb") as out:
        assert write_csv(people, ContactFilter(), out) == 8
    with open(tmp_path / "t.csv", "w", encoding="utf-8", newline="") as out_text:
        assert write_csv(people, ContactFilter(), out_text) == 8
    assert (tmp_path / "b.csv").read_bytes() == (tmp_path / "t.csv").read_bytes()


def test_empty_result_still_has_the_header(db: Database) -> None:
    out = io.BytesIO()
    assert write_csv(db, ContactFilter(), out) == 0
    assert out.getvalue().decode() == ",".join(EXPORT_COLUMNS) + "\r\n"


def test_a_bad_sort_or_column_fails_before_anything_is_written(people: Database) -> None:
    out = io.BytesIO()
    with pytest.raises(ValueError, match="sort"):
        write_csv(people, ContactFilter(), out, sort="nope")
    with pytest.raises(ValueError, match="column"):
        write_csv(people, ContactFilter(), out, ["email", "no way"])
    assert out.getvalue() == b""
    with pytest.raises(ValueError, match="chunk_rows"):
        iter_csv(people, ContactFilter(), chunk_rows=0)


@pytest.mark.parametrize(
    ("flt", "name"),
    [
        (None, "hubspot-contacts-all-2026-11-28.csv"),
        (ContactFilter(), "hubspot-contacts-all-2026-11-28.csv"),
        (ContactFilter(segments=("chainge",)), "hubspot-contacts-chainge-2026-11-28.csv"),
        (
            ContactFilter(segments=("chainge", "high_value"), segment_match="all"),
            "hubspot-contacts-chainge-high-value-all-2026-11-28.csv",
        ),
        (
            ContactFilter(search="../../etc/passwd"),
            "hubspot-contacts-search-etc-passwd-2026-11-28.csv",
        ),
        (ContactFilter(archived="only"), "hubspot-contacts-archived-2026-11-28.csv"),
    ],
)
def test_file_name_says_what_and_when(flt: ContactFilter | None, name: str) -> None:
    assert csv_filename(flt, date(2026, 11, 28)) == name


def test_an_export_leaves_the_connection_settings_as_it_found_them(sqlite_db: Database) -> None:
    add_people(sqlite_db)

    def temp_store() -> int:
        with sqlite_db.connect() as conn:
            return int(conn.exec_driver_sql("PRAGMA temp_store").scalar_one())

    before = temp_store()
    assert len(read_csv("".join(iter_csv(sqlite_db, ContactFilter(), sort="email")))) == 9
    chunks = iter_csv(sqlite_db, ContactFilter(), sort="email", chunk_rows=2)
    next(chunks), next(chunks)
    chunks.close()  # abandoned half-way, as when a download is cancelled
    assert temp_store() == before
