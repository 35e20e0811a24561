"""Contact endpoints: list pages (property lists chunked under the URL limit), search, properties."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote_plus

from .errors import BadRequestError, SearchCapError
from .models import ContactPage, ContactRecord, PropertyDefinition, SearchPage
from .parsing import (
    SEARCH_RESULT_CAP,
    as_int,
    as_str,
    beyond_search_cap,
    clean_properties,
    contact_record,
    dicts,
    next_after_of,
)
from .transport import Transport

log = logging.getLogger("hubsync.hubspot")


class ContactsEndpoints(Transport):
    """`list_contacts`, `search_contacts`, `batch_read_contacts` and `get_properties`."""

    def list_contacts(
        self,
        properties: Sequence[str],
        after: str | None = None,
        limit: int = 100,
        archived: bool = False,
    ) -> ContactPage:
        """One page of `GET .../objects/contacts` (per HUBSPOT_API_VERSION), naming `properties`.

        Long property lists are split over several requests for the same page (each URL under
        `max_url_chars`) and merged by id; `next_after` comes from the first of them.
        """
        if not 1 <= limit <= 100:
            raise ValueError(f"limit must be between 1 and 100, got {limit}")
        names = clean_properties(properties)
        fixed: dict[str, str] = {"limit": str(limit), "archived": "true" if archived else "false"}
        if after:
            fixed["after"] = str(after)
        chunks = self._property_chunks(self.paths.contacts, fixed, names)
        page: list[ContactRecord] = []
        merged: dict[str, ContactRecord] = {}
        next_after: str | None = None
        for index, chunk in enumerate(chunks):
            params = dict(fixed)
            if chunk:
                params["properties"] = ",".join(chunk)
            data = self._request("GET", self.paths.contacts, params=params)
            records = self._parse_contacts(data.get("results"), count_malformed=index == 0)
            if index == 0:
                # The first chunk's records are the page, as HubSpot listed them (repeats
                # and unusable ids included: the sync refuses those with a reason).
                page = records
                merged = {record.id: record for record in records if record.id}
                next_after = next_after_of(data)
                continue
            for record in records:
                first = merged.get(record.id)
                if first is not None:
                    first.properties.update(record.properties)
            if len(records) != len(merged) or any(r.id not in merged for r in records):
                # A contact created, archived or merged between the chunk requests: the
                # records of the first chunk still stand; the next sync corrects the rest.
                log.warning(
                    "Property chunk %d of %d for one contacts page returned other ids than "
                    "the first; kept the first chunk's records",
                    index + 1,
                    len(chunks),
                )
        return ContactPage(contacts=page, next_after=next_after)

    def search_contacts(
        self,
        filter_groups: list[dict[str, Any]],
        properties: Sequence[str],
        sorts: list[dict[str, Any]] | None = None,
        limit: int = 200,
        after: str | None = None,
    ) -> SearchPage:
        """One page of `POST .../contacts/search` (paced by the search limit).

        Raises `SearchCapError` when HubSpot refuses to page past its 10,000-result cap.
        """
        if not 1 <= limit <= 200:
            raise ValueError(f"limit must be between 1 and 200, got {limit}")
        body: dict[str, Any] = {
            "filterGroups": filter_groups,
            "properties": clean_properties(properties),
            "limit": limit,
        }
        if sorts:
            body["sorts"] = sorts
        if after:
            body["after"] = str(after)
        try:
            data = self._request("POST", self.paths.contacts_search, body=body)
        except BadRequestError as exc:
            if exc.status == 400 and beyond_search_cap(exc.message, after, limit):
                raise SearchCapError(
                    f"HubSpot search cannot page past {SEARCH_RESULT_CAP:,} results; "
                    "narrow the filter (for example by hs_object_id ranges)",
                    status=400,
                    correlation_id=exc.correlation_id,
                    category=exc.category,
                ) from None
            raise
        return SearchPage(
            contacts=self._parse_contacts(data.get("results")),
            total=as_int(data.get("total")) or 0,
            next_after=next_after_of(data),
        )

    def batch_read_contacts(
        self, ids: Sequence[str], properties: Sequence[str]
    ) -> list[ContactRecord]:
        """The live records of up to 100 `ids` (`POST .../contacts/batch/read`).

        Unknown and archived ids are left out (HubSpot lists them in `errors`, answering 207);
        a merged-away id answers with the surviving record, under the survivor's id.
        """
        if not 1 <= len(ids) <= 100:
            raise ValueError(f"a batch read takes 1 to 100 ids, got {len(ids)}")
        body = {"inputs": [{"id": str(i)} for i in ids], "properties": clean_properties(properties)}
        data = self._request("POST", self.paths.contacts_batch("read"), body=body)
        return [record for record in self._parse_contacts(data.get("results")) if record.id]

    def get_properties(self) -> list[PropertyDefinition]:
        """Every contact property definition (`GET .../properties/contacts`)."""
        data = self._request("GET", self.paths.contact_properties)
        found: list[PropertyDefinition] = []
        for item in dicts(data.get("results")):
            name = item.get("name")
            if not isinstance(name, str) or not name:
                continue
            pairs = tuple(
                (str(option["value"]), as_str(option.get("label")) or str(option["value"]))
                for option in dicts(item.get("options"))
                if option.get("value") is not None
            )
            found.append(
                PropertyDefinition(
                    name=name,
                    label=as_str(item.get("label")) or name,
                    type=as_str(item.get("type")) or "string",
                    field_type=as_str(item.get("fieldType")) or "",
                    group_name=as_str(item.get("groupName")) or "",
                    options=tuple(value for value, _label in pairs),
                    option_labels=pairs,
                )
            )
        return found

    def _parse_contacts(self, results: Any, *, count_malformed: bool = True) -> list[ContactRecord]:
        if not isinstance(results, list):
            return []
        records = [contact_record(item) for item in results]
        malformed = sum(1 for record in records if not record.id)
        if malformed and count_malformed:
            self._add("malformed", malformed)
            log.warning("%d contact record(s) without a usable id", malformed)
        return records

    def _property_chunks(
        self, path: str, fixed: Mapping[str, str], names: list[str]
    ) -> list[list[str]]:
        """Split `names` so that each request URL stays under `max_url_chars`."""
        if not names:
            return [[]]
        base = len(self._base_url) + len(path) + 1
        base += sum(len(quote_plus(k)) + len(quote_plus(v)) + 2 for k, v in fixed.items())
        budget = self._max_url_chars - base - len("properties=")
        chunks: list[list[str]] = []
        current: list[str] = []
        used = 0
        for name in names:
            # requests encodes the comma separator as %2C: three characters each.
            size = len(quote_plus(name)) + (3 if current else 0)
            if size > budget:
                raise ValueError(f"property name {name[:40]!r}... is too long for one request")
            if used + size > budget:
                chunks.append(current)
                current, used = [], 0
                size = len(quote_plus(name))
            current.append(name)
            used += size
        chunks.append(current)
        return chunks
