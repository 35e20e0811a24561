"""One CSV writer for the Contacts page and `hubsync contacts --format csv`.

Rows are exactly `query_contacts`' rows for the same filter and sort, in the same order,
streamed from the database in chunks (a server-side cursor on PostgreSQL, SQLite's lazy
cursor), so memory stays bounded whatever the number of rows.

Formula injection (OWASP "CSV Injection"): a cell whose first character is `=`, `+`, `-`,
`@`, tab or carriage return gets a leading `'`. So does a cell whose first non-whitespace
character is `=`, `+`, `-` or `@` (" =1+1"): some spreadsheets trim leading spaces before
deciding a cell is a formula, so we treat those as formulas too. The cost is that phone
numbers like "+49 30 ..." and negative numbers export as "'+49 30 ..." — the price OWASP
accepts for a file opened in a spreadsheet.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator, Mapping, Sequence
from datetime import date, datetime
from typing import Any, BinaryIO, TextIO

from hubsync_core.clock import iso_z
from hubsync_core.columns import SHOWN
from hubsync_core.labels import column_options, label_value
from hubsync_core.store.database import Database
from hubsync_core.store.explorer import ContactFilter, iter_contact_chunks
from hubsync_core.store.property_options import OptionLabels

#: The columns exported when none are chosen (the Contacts page's visible columns).
EXPORT_COLUMNS: tuple[str, ...] = SHOWN
#: Separator between segment or list names inside one cell.
LIST_SEPARATOR = "; "
_FORMULA_START = frozenset("=+-@\t\r")
_FORMULA_AFTER_SPACE = frozenset("=+-@")
#: First characters that send a text cell through `neutralise` (formula starts, whitespace).
_RISKY_START = (
    _FORMULA_START
    | frozenset(" \n\x0b\x0c\x1c\x1d\x1e\x1f\x85\xa0\u1680\u2028\u2029\u202f\u205f\u3000")
    | frozenset(chr(c) for c in range(0x2000, 0x200B))
)


def neutralise(value: str) -> str:
    """A cell value safe to open in a spreadsheet: NUL bytes removed, and a leading `'` when
    it starts with `=`, `+`, `-`, `@`, tab or CR, or with whitespace and then `=`, `+`, `-`, `@`."""
    if "\x00" in value:
        value = value.replace("\x00", "")
    if not value:
        return value
    first = value[0]
    if first in _FORMULA_START or (first.isspace() and value.lstrip()[:1] in _FORMULA_AFTER_SPACE):
        return "'" + value
    return value


def format_cell(value: Any) -> str:
    """How one row value is written: times as ISO with Z, lists joined with "; ", booleans as
    true/false, dicts as JSON, None as empty; then neutralised."""
    if value is None:
        return ""
    if type(value) is str:  # the common case first: most cells are text
        return neutralise(value)
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, datetime):
        text = iso_z(value) or ""
    elif isinstance(value, date):
        text = value.isoformat()
    elif isinstance(value, list | tuple):
        text = LIST_SEPARATOR.join("" if v is None else str(v) for v in value)
    elif isinstance(value, dict):
        text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    else:
        text = str(value)
    return neutralise(text)


def csv_filename(flt: ContactFilter | None, today: date) -> str:
    """`hubspot-contacts-chainge-2026-11-28.csv`; `hubspot-contacts-all-...` when unfiltered."""
    slug = (flt or ContactFilter()).slug()
    return f"hubspot-contacts-{slug}-{today.isoformat()}.csv"


def _iter_chunks(
    db: Database,
    flt: ContactFilter | None,
    columns: Sequence[str] | None,
    sort: str,
    descending: bool,
    chunk_rows: int,
    labels: OptionLabels | None = None,
) -> Iterator[tuple[str, int]]:
    """(CSV text, rows in it): the header first, then one piece per chunk of rows. With
    `labels`, enumeration columns hold the options' labels instead of internal values."""
    wanted = list(dict.fromkeys(columns)) if columns else list(EXPORT_COLUMNS)
    # Called before the first yield below, so a bad sort or column raises at once.
    chunks = iter_contact_chunks(
        db, flt, sort=sort, descending=descending, columns=wanted, chunk_rows=chunk_rows
    )
    if labels:
        chunks = _labelled(chunks, column_options(labels, wanted))
    return _render(wanted, chunks)


def _labelled(
    chunks: Iterator[list[dict[str, Any]]], columns: Mapping[str, Mapping[str, str]]
) -> Iterator[list[dict[str, Any]]]:
    """Rows with each enumeration column's value replaced by its option's label (unknown
    values stay as they are), in place: the chunks are the export's own."""
    for rows in chunks:
        for row in rows:
            for column, options in columns.items():
                row[column] = label_value(options, row[column])
        yield rows


def _render(wanted: list[str], chunks: Iterator[list[dict[str, Any]]]) -> Iterator[tuple[str, int]]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")

    def take() -> str:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    writer.writerow([neutralise(name) for name in wanted])
    yield take(), 0
    for rows in chunks:
        # Row dicts hold exactly `wanted`, in order. Text cells (most of them) take a fast
        # path: only those starting with a risky character or holding a NUL go through
        # `neutralise`; everything else through `format_cell`.
        writer.writerows(
            [
                (
                    value
                    if value[:1] not in _RISKY_START and "\x00" not in value
                    else neutralise(value)
                )
                if value.__class__ is str
                else ""
                if value is None
                else format_cell(value)
                for value in row.values()
            ]
            for row in rows
        )
        yield take(), len(rows)


def iter_csv(
    db: Database,
    flt: ContactFilter | None = None,
    columns: Sequence[str] | None = None,
    *,
    sort: str = "updated_at",
    descending: bool = True,
    chunk_rows: int = 2000,
    labels: OptionLabels | None = None,
) -> Iterator[str]:
    """Every matching contact as CSV text pieces (header first), streamed chunk by chunk.

    Same rows and order as `query_contacts(db, flt, sort=sort, descending=descending,
    columns=columns)`. Lines end with CRLF (RFC 4180); encode the text as UTF-8.
    """
    return (
        text for text, _ in _iter_chunks(db, flt, columns, sort, descending, chunk_rows, labels)
    )


def write_csv(
    db: Database,
    flt: ContactFilter | None,
    out: TextIO | BinaryIO,
    columns: Sequence[str] | None = None,
    *,
    sort: str = "updated_at",
    descending: bool = True,
    chunk_rows: int = 2000,
    bom: bool = False,
    labels: OptionLabels | None = None,
) -> int:
    """Write the CSV to a text or binary stream (UTF-8 for binary); returns the rows written.

    Open text files with `newline=""` so the CRLF line ends are kept as they are. `bom`
    writes a UTF-8 byte order mark first (helps Excel on Windows detect UTF-8).
    """
    binary = _is_binary(out)
    rows = 0
    first = True
    for text, count in _iter_chunks(db, flt, columns, sort, descending, chunk_rows, labels):
        if first and bom:
            text = "\ufeff" + text
        first = False
        out.write(text.encode("utf-8") if binary else text)  # type: ignore[arg-type]
        rows += count
    return rows


def csv_bytes(
    db: Database,
    flt: ContactFilter | None = None,
    columns: Sequence[str] | None = None,
    *,
    sort: str = "updated_at",
    descending: bool = True,
    labels: OptionLabels | None = None,
) -> bytes:
    """The whole CSV as UTF-8 bytes (for a download button; holds the file in memory)."""
    buffer = io.BytesIO()
    write_csv(db, flt, buffer, columns, sort=sort, descending=descending, labels=labels)
    return buffer.getvalue()


def _is_binary(out: object) -> bool:
    if isinstance(out, io.TextIOBase):
        return False
    if isinstance(out, io.BufferedIOBase | io.RawIOBase):
        return True
    return "b" in str(getattr(out, "mode", ""))
