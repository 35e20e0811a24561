"""The portal's contact lists: six generated lists (dynamic, manual, snapshot, one empty),
their JSON, memberships in both directions, and adding/removing members."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import not_found
from .generator import DAY_MS
from .portal_store import CHUNK, LIVE, PortalStore, decode_cursor, encode_cursor, iso_ms, iso_one


@dataclass
class _List:
    list_id: str
    name: str
    processing_type: str
    created_ms: int
    updated_ms: int
    version: int
    members: np.ndarray  # contact indices, ascending
    added_ms: np.ndarray  # membership timestamps, aligned with members


class ListsMixin(PortalStore):
    """Lists and memberships; `_init_lists` builds the generated ones."""

    _lists: dict[str, _List]

    def _init_lists(self) -> None:
        self._lists = {}
        self._build_lists()

    def _build_lists(self) -> None:
        n, now = self.n_gen, self.now_ms
        vocab = self.gen.vocab["company"]
        chainge = np.array([v is not None and "chainge" in v.lower() for v in vocab])
        customer = list(self.gen.vocab["lifecyclestage"]).index("customer")
        emea = list(self.gen.vocab["region"]).index("EMEA")
        company = self.gen.full_codes("company")
        stage = self.gen.full_codes("lifecyclestage")
        region = self.gen.full_codes("region")

        def sample(name: str, share: float) -> Callable[[np.ndarray], np.ndarray]:
            return lambda idx: self._u(name, idx) < share

        specs: list[tuple[str, str, str, int, Callable[[np.ndarray], np.ndarray]]] = [
            ("12", "CHAINge", "DYNAMIC", 400, lambda idx: chainge[company[idx]]),
            ("15", "Newsletter subscribers", "MANUAL", 700, sample("list:news", 0.30)),
            ("21", "Webinar attendees 2026", "SNAPSHOT", 200, sample("list:web", 0.05)),
            (
                "34",
                "Customers EMEA",
                "DYNAMIC",
                300,
                lambda idx: (stage[idx] == customer) & (region[idx] == emea),
            ),
            ("41", "Do not contact", "MANUAL", 600, sample("list:dnc", 0.01)),
            ("57", "Trade show leads (empty)", "MANUAL", 30, sample("list:none", 0.0)),
        ]
        for list_id, name, ptype, age_days, rule in specs:
            parts = [
                idx[rule(idx)]
                for idx in (
                    np.arange(lo, min(n, lo + CHUNK), dtype=np.int64) for lo in range(0, n, CHUNK)
                )
            ]
            members = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)
            created_ms = now - age_days * DAY_MS
            base = np.maximum(self._created[members], created_ms)
            added = base + ((now - base) * self._u("list:at:" + list_id, members)).astype(np.int64)
            self._lists[list_id] = _List(
                list_id, name, ptype, created_ms, now - DAY_MS, 3, members, added
            )

    def lists(self) -> list[dict[str, Any]]:
        with self._lock:
            return [self._list_json(lst) for lst in self._lists.values()]

    def list_member_ids(self, list_id: str) -> list[str]:
        """Ids of the live members of a list, ascending."""
        with self._lock:
            lst = self._get_list(list_id)
            members = lst.members[self._state[lst.members] == LIVE]
            return [str(x) for x in self._ids[members].tolist()]

    def _get_list(self, list_id: str) -> _List:
        lst = self._lists.get(str(list_id))
        if lst is None:
            raise KeyError(f"no list {list_id}")
        return lst

    def _list_json(self, lst: _List) -> dict[str, Any]:
        size = int(np.count_nonzero(self._state[lst.members] == LIVE))
        return {
            "listId": lst.list_id,
            "listVersion": lst.version,
            "createdAt": iso_one(lst.created_ms),
            "updatedAt": iso_one(lst.updated_ms),
            "filtersUpdatedAt": iso_one(lst.created_ms),
            "processingStatus": "COMPLETE",
            "createdById": "7654321",
            "updatedById": "7654321",
            "processingType": lst.processing_type,
            "objectTypeId": "0-1",
            "name": lst.name,
            "size": size,
            "additionalProperties": {
                "hs_list_size": str(size),
                "hs_list_reference_count": "0",
                "hs_last_record_added_at": iso_one(int(lst.added_ms.max()))
                if len(lst.added_ms)
                else None,
            },
        }

    def search_lists(self, query: str, count: int, offset: int) -> dict[str, Any]:
        """The body of `POST /crm/v3/lists/search`."""
        with self._lock:
            q = query.strip().lower()
            found = [lst for lst in self._lists.values() if q in lst.name.lower()]
            page = found[offset : offset + count]
            return {
                "lists": [self._list_json(lst) for lst in page],
                "hasMore": offset + count < len(found),
                "offset": offset + len(page),
                "total": len(found),
            }

    def get_list_json(self, list_id: str) -> dict[str, Any]:
        with self._lock:
            try:
                return {"list": self._list_json(self._get_list(list_id))}
            except KeyError:
                raise not_found(f"List {list_id} does not exist.") from None

    def list_memberships(self, list_id: str, after: str | None, limit: int) -> dict[str, Any]:
        """The body of `GET /crm/v3/lists/{id}/memberships` (ordered by record id)."""
        after_id = decode_cursor(after) if after else -1
        with self._lock:
            try:
                lst = self._get_list(list_id)
            except KeyError:
                raise not_found(f"List {list_id} does not exist.") from None
            live = self._state[lst.members] == LIVE
            members, added = lst.members[live], lst.added_ms[live]
            ids = self._ids[members]
            start = int(np.searchsorted(ids, after_id, side="right"))
            page_ids = ids[start : start + limit]
            stamps = iso_ms(added[start : start + limit])
            results = [
                {"recordId": str(r), "membershipTimestamp": t}
                for r, t in zip(page_ids.tolist(), stamps, strict=True)
            ]
            body: dict[str, Any] = {"results": results}
            if start + limit < len(ids):
                nxt = encode_cursor(int(page_ids[-1]))
                body["paging"] = {"next": {"after": nxt}}
            body["total"] = len(ids)
            return body

    def contact_memberships(self, record_id: str) -> dict[str, Any]:
        """The body of `GET /crm/v3/lists/records/0-1/{id}/memberships`."""
        with self._lock:
            i = self._index(record_id)
            if i is None or int(self._state[i]) != LIVE:
                raise not_found(f"Object not found. ({record_id})")
            results = []
            for lst in self._lists.values():
                pos = int(np.searchsorted(lst.members, i))
                if pos < len(lst.members) and lst.members[pos] == i:
                    stamp = iso_one(int(lst.added_ms[pos]))
                    results.append(
                        {
                            "listId": lst.list_id,
                            "listVersion": lst.version,
                            "firstAddedTimestamp": stamp,
                            "lastAddedTimestamp": stamp,
                        }
                    )
            return {"results": results, "total": len(results)}

    def add_to_list(self, list_id: str, ids: Iterable[str | int]) -> int:
        """Add contacts to a list (membership time now); returns how many were new."""
        with self._lock:
            lst = self._get_list(list_id)
            new = np.array(sorted({self._require(r, LIVE) for r in ids}), dtype=np.int64)
            new = new[~np.isin(new, lst.members)]
            if len(new):
                members = np.concatenate([lst.members, new])
                added = np.concatenate(
                    [lst.added_ms, np.full(len(new), int(self.clock() * 1000), dtype=np.int64)]
                )
                order = np.argsort(members, kind="stable")
                lst.members, lst.added_ms = members[order], added[order]
                lst.updated_ms = int(self.clock() * 1000)
            return len(new)

    def remove_from_list(self, list_id: str, ids: Iterable[str | int]) -> int:
        """Remove contacts from a list; returns how many were members."""
        with self._lock:
            lst = self._get_list(list_id)
            gone = [i for i in (self._index(r) for r in ids) if i is not None]
            keep = ~np.isin(lst.members, np.array(gone, dtype=np.int64))
            removed = int(len(lst.members) - np.count_nonzero(keep))
            lst.members, lst.added_ms = lst.members[keep], lst.added_ms[keep]
            if removed:
                lst.updated_ms = int(self.clock() * 1000)
            return removed
