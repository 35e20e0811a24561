"""The contacts part of the facade: the SDK's reads (the original spec's shapes), the
explorer's filters, pages and counts, one contact's record, and the CSV export."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import date
from typing import TYPE_CHECKING, Any, BinaryIO, TextIO, Unpack

from hubsync_core import columns
from hubsync_core import labels as _labels
from hubsync_core.clock import iso_z
from hubsync_core.hubspot.endpoints import hubspot_record_url
from hubsync_core.segments import ContactSegment
from hubsync_core.store import contacts as contact_store
from hubsync_core.store import data_version as versions
from hubsync_core.store import explorer, export, property_options, runs
from hubsync_core.store.explorer import FACETS, ContactFilter, ContactPage, Exploration
from hubsync_core.store.explorer.reads import PageArgs
from hubsync_core.sync.engine import HIGH_WATER_MARK, PORTAL_ID

if TYPE_CHECKING:
    from hubsync_core.store.database import Database

SDK_FIELDS: tuple[str, ...] = (*columns.SDK, "properties")


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
    name = getattr(segment, "value", segment)
    name = str(name) if name not in (None, "") else None
    flt = explorer.ContactFilter(segments=(name,) if name else (), search=search)
    return {**contacts_page(db, flt, limit=limit, offset=offset), "segment": name}


def contacts_page(
    db: Database,
    flt: ContactFilter | None = None,
    *,
    sort: str = "hubspot_id",
    descending: bool = False,
    limit: int = 100,
    offset: int = 0,
) -> dict[str, Any]:
    """`{"contacts", "total", "limit", "offset"}` for any explorer filter and sort, each
    contact with the spec's fields (`SDK_FIELDS`), times as ISO strings with a Z."""
    explorer.check_paging(limit, offset)
    if sort not in columns.SORTABLE:
        raise ValueError(f"sort must be one of {', '.join(columns.SORTABLE)}, got {sort!r}")
    page = explorer.query_contacts(
        db,
        flt,
        sort=sort,
        descending=descending,
        limit=limit,
        offset=offset,
        columns=SDK_FIELDS,
    )
    return {
        "contacts": [_spec_contact(row) for row in page.rows],
        "total": page.total,
        "limit": limit,
        "offset": offset,
    }


def _spec_contact(row: Mapping[str, Any]) -> dict[str, Any]:
    """A contact row with its timestamps as ISO strings with a Z (the spec's format)."""
    return {key: iso_z(value) if key in columns.TIMES else value for key, value in row.items()}


class ContactsFacade:
    """Mixed into `HubSyncService`; relies on its `db`."""

    db: Database

    def get_contacts(
        self,
        segment: ContactSegment | str | None = None,
        limit: int = 100,
        offset: int = 0,
        search: str | None = None,
    ) -> dict[str, Any]:
        """`{"contacts", "total", "limit", "offset", "segment"}`, live contacts only."""
        name = segment.value if isinstance(segment, ContactSegment) else segment
        return sdk_contacts(self.db, segment=name, limit=limit, offset=offset, search=search)

    def get_contact(self, contact_id: str, *, labels: bool = False) -> dict[str, Any] | None:
        """One contact with all its properties, segments and list memberships.

        With `labels` (for people), enumeration fields and properties read as their option's
        label, with the internal value where it differs: "Former customer (1088421376)"."""
        contact = explorer.get_contact(self.db, str(contact_id))
        if contact is None or not labels:
            return contact
        return _labels.label_contact(contact, self._option_labels())

    def get_list_memberships(self, contact_id: str) -> list[str]:
        """Names of the HubSpot lists the contact belongs to (as of the last list sync)."""
        contact = explorer.get_contact(self.db, str(contact_id))
        return list(contact["list_memberships"]) if contact else []

    def portal_id(self) -> str | None:
        """The synced portal's id (recorded by the first sync), for links into HubSpot."""
        return runs.get_state(self.db, PORTAL_ID)

    def contact_url(self, contact_id: str | int) -> str | None:
        """The contact's record page in HubSpot, None until a sync recorded the portal id."""
        portal_id = self.portal_id()
        return hubspot_record_url(portal_id, contact_id) if portal_id else None

    def has_contacts(self) -> bool:
        """Whether any contact (archived ones too) is stored (reads one row at most)."""
        return explorer.count_contacts(self.db, ContactFilter(archived="include"), cap=0) > 0

    def count_contacts(self, flt: ContactFilter | None = None) -> int:
        """How many contacts match (by default: every live contact)."""
        return explorer.count_contacts(self.db, flt)

    def parse_filter(
        self, params: Mapping[str, str | list[str]]
    ) -> tuple[ContactFilter, list[str]]:
        """The contact filter in URL query parameters (the dashboard's names), and a warning
        for each value that was ignored. The one parser every face uses."""
        return explorer.parse_query_params(params)

    def find_contacts(
        self,
        flt: ContactFilter | None = None,
        *,
        sort: str = "hubspot_id",
        descending: bool = False,
        limit: int = 100,
        offset: int = 0,
    ) -> dict[str, Any]:
        """`{"contacts", "total", "limit", "offset"}` for any explorer filter and sort, each
        contact shaped as `get_contacts` shapes it (the spec's fields, times ISO with a Z)."""
        return contacts_page(
            self.db, flt, sort=sort, descending=descending, limit=limit, offset=offset
        )

    def contact_record(self, hubspot_id: str) -> dict[str, Any] | None:
        """One contact (archived or not) with every stored field, times ISO with a Z."""
        contact = explorer.get_contact(self.db, str(hubspot_id))
        return _spec_contact(contact) if contact is not None else None

    def explore(
        self,
        flt: ContactFilter,
        *,
        sort: str,
        descending: bool,
        limit: int,
        offset: int,
        columns: Sequence[str],
        labels: bool = False,
    ) -> Exploration:
        """A page of contacts, its total and every facet's counts, in one read.

        Facet options carry their labels (an enumeration's option label, a segment's or a
        list's name) beside the values filters use; with `labels`, the page's enumeration
        cells hold labels too. Raises ValueError for an unknown sort or a column that is not
        a property name."""
        found = explorer.explore(
            self.db,
            flt,
            sort=sort,
            descending=descending,
            limit=limit,
            offset=offset,
            columns=columns,
            facets=FACETS,  # type: ignore[arg-type]
        )
        wanted = [*_labels.FACET_COLUMNS.values(), *(columns if labels else ())]
        options = self._option_labels(_labels.properties_of(wanted))
        page = found.page
        if labels:
            rows = _labels.label_rows(page.rows, _labels.column_options(options, columns))
            page = dataclasses.replace(page, rows=rows)
        return Exploration(page, _labels.label_facets(found.facets, options))

    def contact_page(
        self, flt: ContactFilter | None, *, labels: bool = False, **page_args: Unpack[PageArgs]
    ) -> ContactPage:
        """A page of contacts and its total, without facets (paging a known filter; the
        arguments are `explore`'s); with `labels`, enumeration cells hold option labels."""
        page = explorer.query_contacts(self.db, flt, **page_args)
        if not labels or not page.rows:
            return page
        return dataclasses.replace(page, rows=self._labelled_rows(page.rows))

    def iter_contacts_csv(
        self,
        flt: ContactFilter | None = None,
        *,
        columns: list[str] | None = None,
        sort: str = "updated_at",
        descending: bool = True,
        labels: bool = False,
    ) -> Iterator[str]:
        """The CSV export of a filter as text pieces, header first: the same bytes as the
        dashboard's Export CSV and `hubsync contacts --format csv`. Enumeration columns hold
        internal values (round-trips to HubSpot), or with `labels` the options' labels.
        Raises `ValueError` at once for an unknown sort or column."""
        return export.iter_csv(
            self.db,
            flt,
            columns,
            sort=sort,
            descending=descending,
            labels=self.option_labels() if labels else None,
        )

    def write_contacts_csv(
        self,
        flt: ContactFilter | None,
        out: TextIO | BinaryIO,
        *,
        columns: Sequence[str] | None = None,
        sort: str = "updated_at",
        descending: bool = True,
        labels: bool = False,
    ) -> int:
        """Write `iter_contacts_csv`'s bytes to a stream; returns the contacts written."""
        return export.write_csv(
            self.db,
            flt,
            out,
            columns,
            sort=sort,
            descending=descending,
            labels=self.option_labels() if labels else None,
        )

    def option_labels(self) -> dict[str, dict[str, str]]:
        """{property: {internal value: label}} of every enumeration option HubSpot defines
        (stored by the last sync): what people read instead of values like "1088421376"."""
        return property_options.option_labels(self.db)

    def _option_labels(self, properties: Iterable[str] | None = None) -> dict[str, dict[str, str]]:
        # The options of just these properties: one indexed read of a small table.
        return property_options.option_labels(self.db, properties)

    def _labelled_rows(self, rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """Rows whose enumeration columns hold labels (a lookup per shown cell, no SQL over
        the contacts: the options of the rows' columns are read, then mapped in Python)."""
        names = list(rows[0]) if rows else []
        options = _labels.column_options(self._option_labels(_labels.properties_of(names)), names)
        return _labels.label_rows(rows, options)

    def csv_filename(self, flt: ContactFilter | None, today: date) -> str:
        """The export's file name, e.g. `hubspot-contacts-chainge-2026-11-28.csv`."""
        return export.csv_filename(flt, today)

    def clear_contacts(self) -> int:
        """Delete every stored contact (sync history stays); returns how many were removed.

        The incremental high-water mark goes too, so the next sync is a full one.
        """
        with self.db.transaction() as conn:
            removed = contact_store.clear_contacts(conn)
            runs.delete_state(conn, HIGH_WATER_MARK)
            versions.bump(conn)
            return removed
