"""From HubSpot records to stored rows: pure, fast, and never silently dropping anything.

Every record is either turned into a row or refused; every refusal and every value that
had to be altered to be storable (NUL bytes, unreadable dates) comes back as a `Rejection`
that the engine records in `rejected_records`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from hubsync_core import columns
from hubsync_core.clock import naive_utc
from hubsync_core.columns import ColumnKind
from hubsync_core.hubspot.models import ContactRecord
from hubsync_core.store import contact_params
from hubsync_core.store.contact_params import PreparedContacts

#: Properties every sync requests (the stored columns plus what segments and merges need).
CORE_PROPERTIES: tuple[str, ...] = (
    *columns.HUBSPOT_PROPERTIES,
    "hs_merged_object_ids",
    "country",
    "city",
)
#: (column, property) of the columns copied from a property as they are (text and options).
_COPIED: tuple[tuple[str, str], ...] = tuple(
    (c.name, c.hubspot_property)
    for c in columns.COLUMNS
    if c.hubspot_property and c.kind in (ColumnKind.TEXT, ColumnKind.CHOICE)
)
#: HubSpot ids are decimal strings; longer ones cannot be stored in the id column.
MAX_ID_LENGTH = 40


@dataclass(frozen=True)
class Rejection:
    hubspot_id: str | None
    reason: str
    sample: str | None = None


def parse_time(value: Any) -> datetime | None:
    """HubSpot time (ISO 8601 with `Z`, or epoch milliseconds) as naive UTC; None if unreadable."""
    # Fast path for the shape HubSpot sends ("2024-10-30T05:04:42.315Z"): already UTC, so
    # the naive datetime of the text before the `Z` is the answer (4 per contact; hot).
    if type(value) is str and len(value) == 24 and value[23] == "Z" and value[10] == "T":
        try:
            parsed = datetime.fromisoformat(value[:23])
        except ValueError:
            pass
        else:
            if parsed.tzinfo is None and parsed.year >= 1970:
                return parsed
    return _parse_time_slow(value)


def _parse_time_slow(value: Any) -> datetime | None:
    if value is None or value == "":
        return None
    text = str(value).strip()
    if text.isdigit():
        try:
            return naive_utc(datetime.fromtimestamp(int(text) / 1000, tz=UTC))
        except (OverflowError, OSError, ValueError):
            return None
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    parsed = naive_utc(parsed)
    if not 1970 <= parsed.year <= 9999:
        return None
    return parsed


def merged_ids(properties: dict[str, str | None]) -> list[str]:
    """The ids a winner absorbed, from `hs_merged_object_ids` ("77;78")."""
    raw = properties.get("hs_merged_object_ids")
    if not raw:
        return []
    return [part.strip() for part in raw.split(";") if part.strip().isdigit()]


def _clean(value: str | None) -> str | None:
    return value.replace("\x00", "") if value is not None and "\x00" in value else value


def _refusal(record: ContactRecord, hubspot_id: str, seen: set[str]) -> Rejection | None:
    """Why `record` (its id stripped: `hubspot_id`) cannot become a row; None if it can."""
    if not hubspot_id.isdigit() or len(hubspot_id) > MAX_ID_LENGTH:
        raw = record.id or record.properties.get("_raw_id") or record.properties.get("_raw_item")
        return Rejection(None, "refused: id is not a HubSpot numeric id", repr(raw)[:200])
    if hubspot_id in seen:  # the same page listing an id twice: keep the first
        return Rejection(hubspot_id, "refused: id repeated within one page")
    seen.add(hubspot_id)
    return None


def _scrubbed(
    hubspot_id: str, properties: dict[str, str | None], rejections: list[Rejection]
) -> dict[str, str | None]:
    """`properties` without NUL bytes in names or values (the alteration recorded)."""
    # One C-level scan of the joined values instead of a generator per value.
    if "\x00" in "".join([v for v in properties.values() if v]) or "\x00" in "".join(properties):
        rejections.append(Rejection(hubspot_id, "altered: NUL bytes removed from values"))
        return {_clean(k) or "": _clean(v) for k, v in properties.items()}
    return properties


def _time(
    raw: str | None, fallback: str | None, what: str, hubspot_id: str, rejections: list[Rejection]
) -> datetime | None:
    """The property time `raw`, else the record's own `fallback` (an unreadable `raw` is
    recorded as ignored)."""
    parsed = parse_time(raw) if raw else None
    if parsed is None:
        if raw:
            rejections.append(
                Rejection(hubspot_id, f"altered: unreadable {what} ignored", raw[:200])
            )
        parsed = parse_time(fallback)
    return parsed


def _accepted(
    records: Iterable[ContactRecord], rejections: list[Rejection]
) -> Iterator[tuple[ContactRecord, str, dict[str, str | None]]]:
    """The page's records that can become rows, each with its stripped id and NUL-free
    properties; the refused ones (and every NUL scrubbed) go to `rejections` in page order."""
    seen: set[str] = set()
    for record in records:
        hubspot_id = (record.id or "").strip()
        refused = _refusal(record, hubspot_id, seen)
        if refused is not None:
            rejections.append(refused)
            continue
        yield record, hubspot_id, _scrubbed(hubspot_id, record.properties, rejections)


def to_rows(
    records: Iterable[ContactRecord], synced_at: datetime
) -> tuple[list[dict[str, Any]], list[Rejection]]:
    """Map one page of records to contact rows (the `contacts` columns) and rejections."""
    rows: list[dict[str, Any]] = []
    rejections: list[Rejection] = []
    for record, hubspot_id, properties in _accepted(records, rejections):
        get = properties.get
        created_at = _time(
            get("createdate"), record.created_at, "createdate", hubspot_id, rejections
        )
        updated_at = _time(
            get("lastmodifieddate"), record.updated_at, "lastmodifieddate", hubspot_id, rejections
        )
        email = get("email")
        rows.append(
            {
                "hubspot_id": hubspot_id,
                **{name: get(prop) for name, prop in _COPIED},
                "email": email.strip() or None if email else None,
                "properties": properties,
                "created_at": created_at,
                "updated_at": updated_at,
                "synced_at": synced_at,
                "archived": False,
                "archived_at": None,
                "archived_reason": None,
            }
        )
    return rows, rejections


#: A merge seen on a page: (winner id, the ids it absorbed).
Merge = tuple[str, list[str]]


def convert_page(
    records: Iterable[ContactRecord], synced_at: datetime
) -> tuple[list[dict[str, Any]], list[Rejection], list[Merge]]:
    """One page as the store takes it: rows, rejections, and the merges its winners report.

    The one conversion every phase uses (list scan, search windows, id ranges, CHAINge).
    """
    rows, rejections = to_rows(records, synced_at)
    merges = [(row["hubspot_id"], merged_ids(row["properties"])) for row in rows]
    return rows, rejections, [merge for merge in merges if merge[1]]


#: The properties behind the upsert's text columns, in its parameter order (after the id).
_TEXT_PROPERTIES = tuple(dict(_COPIED)[name] for name in contact_params.COLUMNS[1:8])
if contact_params.COLUMNS[8:] != (
    "properties",
    "created_at",
    "updated_at",
    "synced_at",
    "archived",
    "archived_at",
    "archived_reason",
    "seen_generation",
) or set(_TEXT_PROPERTIES) != {prop for _name, prop in _COPIED}:
    raise RuntimeError("prepare_page does not know the contacts table's columns any more")


def _sqlite_stamp(raw: Any, parsed: datetime | None) -> str | None:
    """`sqlite_time(parsed)` where `parsed` was read from `raw` (None: it was not): for HubSpot's own shape
    ("2024-10-30T05:04:42.315Z", which `parse_time` read as it is) the text itself, re-cut;
    anything else through the datetime."""
    if (
        parsed is not None
        and type(raw) is str
        and len(raw) == 24
        and raw[23] == "Z"
        and raw[4] == "-"
        and raw[7] == "-"
        and raw[10] == "T"
        and raw[13] == ":"
        and raw[16] == ":"
        and raw[19] == "."
    ):
        return raw[:10] + " " + raw[11:23] + "000"
    return contact_params.sqlite_time(parsed)


def _stamp_only(stamp: Any) -> Any:
    return lambda _raw, parsed: stamp(parsed)


def prepare_page(
    records: Iterable[ContactRecord], synced_at: datetime, dialect: str, generation: int | None
) -> tuple[PreparedContacts, list[Rejection], list[Merge]]:
    """`convert_page` and `contact_params.prepare_contacts` in one pass: each record straight
    to its upsert parameters, with the same rejections and merges (the sync's hot path: no
    row dictionaries, one NUL scan a record). `dialect` is `Database.dialect`."""
    stamp = contact_params.stamp_for(dialect)
    fast = _sqlite_stamp if stamp is contact_params.sqlite_time else _stamp_only(stamp)
    synced = contact_params.stamp_time(synced_at, stamp)
    gen = generation or 0
    dumps = contact_params.properties_json
    f1, f2, f3, f4, f5, f6 = _TEXT_PROPERTIES[1:]
    params: list[tuple[Any, ...]] = []
    rejections: list[Rejection] = []
    merges: list[Merge] = []
    for record, hubspot_id, properties in _accepted(records, rejections):
        get = properties.get
        created_raw = get("createdate")
        created_at = parse_time(created_raw) if created_raw else None
        if created_at is None:  # the record's own time: render it from the datetime
            created_at = _time(created_raw, record.created_at, "createdate", hubspot_id, rejections)
            created_raw = None
        modified_raw = get("lastmodifieddate")
        updated_at = parse_time(modified_raw) if modified_raw else None
        if updated_at is None:
            updated_at = _time(
                modified_raw, record.updated_at, "lastmodifieddate", hubspot_id, rejections
            )
            modified_raw = None
        email = get("email")
        params.append(
            (
                hubspot_id,
                email.strip() or None if email else None,
                get(f1),
                get(f2),
                get(f3),
                get(f4),
                get(f5),
                get(f6),
                dumps(properties),
                fast(created_raw, created_at),
                fast(modified_raw, updated_at),
                synced,
                False,
                None,
                None,
                gen,
            )
        )
        if get("hs_merged_object_ids"):
            absorbed = merged_ids(properties)
            if absorbed:
                merges.append((hubspot_id, absorbed))
    return PreparedContacts(params, dialect, generation), rejections, merges
