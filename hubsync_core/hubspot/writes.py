"""HubSpot's write endpoints for bulk operations: batch update / archive / read, static-list
membership changes, property definitions with their writability, and token scopes.

A mixin of `HubSpotClient` (like `contacts` and `lists`): every call goes through the
transport's pacing and bounded retries.
A retried batch update sends the same values again, which is harmless (setting a property
to the value it already has changes nothing); the bulk runner owns the "never resend a batch
whose result was committed" rule above this layer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..config import Secret
from . import endpoints
from .errors import BadRequestError, HubSpotError
from .models import ContactRecord
from .parsing import contact_record, dicts
from .transport import Transport

#: HubSpot's batch endpoints take at most this many inputs a call.
BATCH_LIMIT = 100
#: Scopes a bulk property update or archive needs, and what list changes need on top.
SCOPE_CONTACTS_WRITE = "crm.objects.contacts.write"
SCOPE_LISTS_WRITE = "crm.lists.write"


@dataclass(frozen=True)
class PropertyOption:
    value: str
    label: str


@dataclass(frozen=True)
class WritableProperty:
    """A contact property definition with what a write needs to know about it."""

    name: str
    label: str
    type: str
    field_type: str = ""
    options: tuple[PropertyOption, ...] = ()
    #: HubSpot computes the value (`modificationMetadata.readOnlyValue`, or `calculated`).
    read_only: bool = False

    def option_label(self, value: str | None) -> str | None:
        """The label HubSpot shows for an enumeration value (the value itself if unknown)."""
        if value is None:
            return None
        for option in self.options:
            if option.value == value:
                return option.label
        return value


@dataclass(frozen=True)
class BatchOutcome:
    """What one batch call answered: the records HubSpot returned and, per id, why it failed."""

    records: list[ContactRecord] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class MembershipOutcome:
    """A static-list change: ids HubSpot changed, and ids it did not find."""

    changed: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)


def _chunk_check(ids: Sequence[str]) -> None:
    if not ids:
        raise ValueError("a batch needs at least one id")
    if len(ids) > BATCH_LIMIT:
        raise ValueError(f"a batch takes at most {BATCH_LIMIT} ids, got {len(ids)}")


class WriteEndpoints(Transport):
    """`writable_properties`, `batch_update`, `batch_archive`, `list_add`, `list_remove` and
    `token_scopes` (batch reads are `ContactsEndpoints.batch_read_contacts`)."""

    def writable_properties(self) -> list[WritableProperty]:
        """Every contact property definition with its options (labels) and writability."""
        data = self._request("GET", self.paths.contact_properties)
        found: list[WritableProperty] = []
        for item in dicts(data.get("results")):
            name = item.get("name")
            if not isinstance(name, str) or not name:
                continue
            meta = item.get("modificationMetadata")
            read_only = bool(item.get("calculated")) or (
                isinstance(meta, dict) and meta.get("readOnlyValue") is True
            )
            options = tuple(
                PropertyOption(str(o["value"]), str(o.get("label") or o["value"]))
                for o in dicts(item.get("options"))
                if o.get("value") is not None
            )
            found.append(
                WritableProperty(
                    name=name,
                    label=str(item.get("label") or name),
                    type=str(item.get("type") or "string"),
                    field_type=str(item.get("fieldType") or ""),
                    options=options,
                    read_only=read_only,
                )
            )
        return found

    def batch_update(self, inputs: Sequence[tuple[str, Mapping[str, str]]]) -> BatchOutcome:
        """`POST .../contacts/batch/update`; a 207 answer's `errors[]` are mapped to their ids.

        Raises `BadRequestError` when HubSpot refuses the whole batch (400 VALIDATION_ERROR).
        """
        _chunk_check([contact_id for contact_id, _ in inputs])
        body = {"inputs": [{"id": cid, "properties": dict(props)} for cid, props in inputs]}
        data = self._request("POST", self.paths.contacts_batch("update"), body=body)
        return BatchOutcome(_records(data), _errors_by_id(data))

    def batch_archive(self, ids: Sequence[str]) -> None:
        """`POST .../contacts/batch/archive` (204; ids HubSpot does not know are ignored)."""
        _chunk_check(ids)
        body = {"inputs": [{"id": i} for i in ids]}
        self._request("POST", self.paths.contacts_batch("archive"), body=body)

    def list_add(self, list_id: str, ids: Sequence[str]) -> MembershipOutcome:
        """`PUT .../lists/{id}/memberships/add` with the record ids."""
        _chunk_check(ids)
        data = self._request("PUT", self.paths.list_memberships_add(list_id), body=list(ids))
        return MembershipOutcome(_ids(data.get("recordIdsAdded")), _missing(data))

    def list_remove(self, list_id: str, ids: Sequence[str]) -> MembershipOutcome:
        """`PUT .../lists/{id}/memberships/remove` with the record ids."""
        _chunk_check(ids)
        data = self._request("PUT", self.paths.list_memberships_remove(list_id), body=list(ids))
        return MembershipOutcome(_ids(data.get("recordIdsRemoved")), _missing(data))

    def token_scopes(self, token: Secret) -> frozenset[str] | None:
        """The scopes granted to a private-app / service-key token, or None when HubSpot will
        not say (an OAuth token, or an endpoint this portal lacks). The token travels in the
        body, never in a URL that could reach a log."""
        body = {"tokenKey": token.reveal()}
        try:
            data = self._request("POST", endpoints.PRIVATE_APP_TOKEN_INFO, body=body)
        except BadRequestError:
            return None
        scopes = data.get("scopes")
        if not isinstance(scopes, list):
            return None
        return frozenset(str(s) for s in scopes if s)


def describe_error(exc: HubSpotError) -> str:
    """One line for the audit log: the message and HubSpot's correlation id."""
    cid = getattr(exc, "correlation_id", None)
    return f"{exc} (correlationId {cid})" if cid else str(exc)


# ---------------------------------------------------------------------- helpers


def _records(data: Mapping[str, Any]) -> list[ContactRecord]:
    results = data.get("results")
    if not isinstance(results, list):
        return []
    return [record for record in map(contact_record, results) if record.id]


def _ids(value: Any) -> list[str]:
    if not isinstance(value, list):
        return []
    return [str(v) for v in value if v is not None and not isinstance(v, (dict, list, bool))]


def _missing(data: Mapping[str, Any]) -> list[str]:
    # The Lists spec spells it `recordsIdsMissing`; tolerate the regular spelling too.
    return _ids(data.get("recordsIdsMissing")) + _ids(data.get("recordIdsMissing"))


def _errors_by_id(data: Mapping[str, Any]) -> dict[str, str]:
    """`errors[]` of a 207 answer as {id: reason}; ids come from `context.ids`."""
    found: dict[str, str] = {}
    for error in dicts(data.get("errors")):
        category = str(error.get("category") or "ERROR")
        message = str(error.get("message") or "")
        reason = f"{category}: {message}" if message else category
        context = error.get("context")
        ids = _ids(context.get("ids")) if isinstance(context, dict) else []
        for contact_id in ids:
            found[contact_id] = reason
    return found
