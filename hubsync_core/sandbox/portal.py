"""The sandbox portal's state: compact arrays for ids, dates and state, lazily generated
properties, and sparse overrides for everything mutated. Thread-safe (one re-entrant lock).

Contact *index* i (0..n-1) is the position in the id-sorted arrays. Indices below `n_gen` are
generated contacts; created contacts are appended (HubSpot gives new contacts higher ids).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import schema
from .config import SandboxConfig
from .errors import bad_request, not_found
from .generator import DAY_MS, Ctx, Generator, stream_key, unit
from .search import (
    RESULT_CAP,
    SearchRequest,
    array_mask,
    make_predicate,
    parse_request,
    query_matcher,
    sort_key,
    to_ms,
)

#: Contact states. ERASED: deleted for privacy (GDPR), gone without a trace.
LIVE, ARCHIVED, MERGED, ERASED = 0, 1, 2, 3
_FAST_ARRAYS = ("hs_object_id", "createdate", "lastmodifieddate")
_QUERY_PROPS = ("firstname", "lastname", "email", "phone", "company")
_BATCH = 65_536
_CHUNK = 1 << 17
_EMAIL_INDEX = re.compile(r"(\d+)@")
_ALWAYS = ("createdate", "hs_object_id", "lastmodifieddate")


def iso_ms(ms: np.ndarray) -> list[str]:
    """Epoch ms -> `2024-05-03T10:11:12.123Z` strings (vectorised)."""
    return np.datetime_as_string(ms.astype("datetime64[ms]"), unit="ms", timezone="UTC").tolist()


def iso_one(ms: int) -> str:
    return iso_ms(np.array([ms], dtype=np.int64))[0]


def encode_cursor(record_id: int) -> str:
    """Opaque cursor, like HubSpot's: base64 (with padding, so clients must URL-encode it)."""
    return base64.b64encode(f"{record_id}\n".encode()).decode()


def decode_cursor(cursor: str) -> int:
    try:
        text = base64.b64decode(cursor.encode(), validate=True).decode().strip()
        return int(text)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise bad_request(f"Invalid paging cursor after={cursor!r}") from None


def _to_ms(when: dt.datetime | int | float) -> int:
    if isinstance(when, dt.datetime):
        if when.tzinfo is None:
            when = when.replace(tzinfo=dt.UTC)  # naive datetimes are UTC throughout HubSync
        return round(when.timestamp() * 1000)
    return int(when)


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


class Portal:
    """State of the fake HubSpot portal; every method is thread-safe."""

    def __init__(self, config: SandboxConfig, now_ms: int) -> None:
        self._lock = threading.RLock()
        self.config = config
        self.now_ms = now_ms
        n = config.contacts
        self.n_gen = n
        self.gen = Generator(config.seed, n, now_ms, config.hostile)
        self._n = n
        self._overrides: dict[int, dict[str, str | None]] = {}
        self._ovr_by_prop: dict[str, set[int]] = {}
        self._definitions = schema.property_definitions()
        self._types = dict(schema.PROPERTY_TYPES)
        self._build_arrays(n)
        self._lists: dict[str, _List] = {}
        self._build_lists()
        #: Called after every mutation with `{"kind", "id", "at", ...}` (webhook events).
        self.listeners: list[Callable[[dict[str, Any]], None]] = []

    def _changed(self, kind: str, record_id: str | int, at: int, **info: Any) -> None:
        for listener in list(self.listeners):
            listener({"kind": kind, "id": str(record_id), "at": at, **info})

    # ---- construction -------------------------------------------------------------------------
    def _u(self, name: str, idx: np.ndarray) -> np.ndarray:
        return unit(stream_key(self.config.seed, name), idx)

    def _build_arrays(self, n: int) -> None:
        cap = n + 256
        now = self.now_ms
        self._ids = np.zeros(cap, dtype=np.int64)
        self._created = np.zeros(cap, dtype=np.int64)
        self._modified = np.zeros(cap, dtype=np.int64)
        self._archived_at = np.zeros(cap, dtype=np.int64)
        self._state = np.zeros(cap, dtype=np.int8)
        # A bulk update (workflow, import) gave ~3% of contacts one identical timestamp.
        self.bulk_modified_ms = int((now - 45 * DAY_MS) // 60_000 * 60_000)
        last_id = 50
        # In chunks: full-length float temporaries would stay in the C heap (RSS) for good.
        for lo in range(0, n, _CHUNK):
            idx = np.arange(lo, min(n, lo + _CHUNK), dtype=np.int64)
            last_id = self._build_chunk(idx, n, last_id)

        # Merged losers vanish into the next live contact, which lists them.
        state = self._state
        groups: dict[int, list[str]] = {}
        for loser in np.flatnonzero(state[:n] == MERGED).tolist():
            winner = loser + 1
            while winner < n and state[winner] != LIVE:
                winner += 1
            if winner == n:
                state[loser] = LIVE
            else:
                groups.setdefault(winner, []).append(str(int(self._ids[loser])))
        self._merged_base: dict[int, str] = {w: ";".join(ids) for w, ids in groups.items()}

    def _build_chunk(self, idx: np.ndarray, n: int, last_id: int) -> int:
        now = self.now_ms
        lo, hi = int(idx[0]), int(idx[-1]) + 1
        gaps = 1 + (self._u("id:gap", idx) * 4).astype(np.int64)
        self._ids[lo:hi] = last_id + np.cumsum(gaps)

        span = 760 * DAY_MS
        start = now - span
        frac = (idx + 0.5) / n
        created = start + frac * (span - 2 * DAY_MS) + (self._u("created:jit", idx) - 0.5) * DAY_MS
        imported = self._u("created:imp", idx) < 0.02
        created[imported] = start + self._u("created:old", idx)[imported] * span * 0.5
        created = np.clip(created, start, now - 60_000)

        r = self._u("modified:r", idx)
        u2 = self._u("modified:u", idx)
        modified = created + (now - created) * u2**2
        recent = r < 0.22
        modified[recent] = now - u2[recent] * 30 * DAY_MS
        bulk = (r >= 0.22) & (r < 0.25) & (created < self.bulk_modified_ms)
        modified[bulk] = self.bulk_modified_ms
        modified = np.maximum(modified, created)
        self._created[lo:hi] = created.astype(np.int64)
        self._modified[lo:hi] = modified.astype(np.int64)

        s = self._u("state", idx)
        state = np.zeros(len(idx), dtype=np.int8)
        state[s < 0.01] = ARCHIVED
        state[(s >= 0.01) & (s < 0.015)] = MERGED
        self._state[lo:hi] = state
        arch = idx[state == ARCHIVED]
        mod = self._modified[arch]
        at = mod + ((now - mod) * self._u("archived:at", arch)).astype(np.int64)
        self._archived_at[arch] = at
        self._modified[arch] = at
        return int(self._ids[hi - 1])

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
                    np.arange(lo, min(n, lo + _CHUNK), dtype=np.int64) for lo in range(0, n, _CHUNK)
                )
            ]
            members = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)
            created_ms = now - age_days * DAY_MS
            base = np.maximum(self._created[members], created_ms)
            added = base + ((now - base) * self._u("list:at:" + list_id, members)).astype(np.int64)
            self._lists[list_id] = _List(
                list_id, name, ptype, created_ms, now - DAY_MS, 3, members, added
            )

    # ---- lookups ------------------------------------------------------------------------------
    def _index(self, record_id: str | int) -> int | None:
        try:
            value = int(record_id)
        except (TypeError, ValueError):
            return None
        ids = self._ids[: self._n]
        pos = int(np.searchsorted(ids, value))
        if pos < self._n and ids[pos] == value:
            return pos
        return None

    def _require(self, record_id: str | int, *states: int) -> int:
        i = self._index(record_id)
        if i is None or int(self._state[i]) not in states:
            raise KeyError(f"no contact {record_id}")
        return i

    def property_names(self) -> list[str]:
        return list(schema.PROPERTY_NAMES)

    def property_definitions(self) -> list[dict[str, Any]]:
        return [dict(p) for p in self._definitions]

    def _values(self, prop: str, idx: np.ndarray, ctx: Ctx | None = None) -> list[Any]:
        """Values of one property for indices idx (ascending not required)."""
        if prop == "hs_object_id":
            return [str(x) for x in self._ids[idx].tolist()]
        if prop == "createdate":
            return iso_ms(self._created[idx])
        if prop == "lastmodifieddate":
            return iso_ms(self._modified[idx])
        if prop == "hs_merged_object_ids":
            base = self._merged_base
            vals: list[Any] = [base.get(i) for i in idx.tolist()]
        elif prop in self.gen.vocab or prop in Generator.RENDERED:
            if len(idx) and int(idx.max()) >= self.n_gen:
                vals = [None] * len(idx)
                gen_pos = np.flatnonzero(idx < self.n_gen)
                if len(gen_pos):
                    sub = self.gen.values(prop, Ctx(self.gen, idx[gen_pos]))
                    for p, v in zip(gen_pos.tolist(), sub, strict=True):
                        vals[p] = v
            else:
                vals = self.gen.values(prop, ctx if ctx is not None else Ctx(self.gen, idx))
        else:
            return [None] * len(idx)
        touched = self._ovr_by_prop.get(prop)
        if touched:
            ovr = self._overrides
            for p, i in enumerate(idx.tolist()):
                if i in touched:
                    vals[p] = ovr[i][prop]
        return vals

    def _value_one(self, i: int, prop: str) -> Any:
        return self._values(prop, np.array([i], dtype=np.int64))[0]

    def _render(
        self, idx: np.ndarray, props: Sequence[str], *, archived: bool = False
    ) -> list[dict[str, Any]]:
        """Contacts as the API returns them, properties in alphabetical order."""
        if not len(idx):
            return []
        gen_idx = idx if int(idx.max()) < self.n_gen else idx[idx < self.n_gen]
        ctx = Ctx(self.gen, gen_idx) if len(gen_idx) == len(idx) else None
        names = sorted(props)
        cols = [self._values(p, idx, ctx) for p in names]
        ids = [str(x) for x in self._ids[idx].tolist()]
        created = iso_ms(self._created[idx])
        updated = iso_ms(self._modified[idx])
        out: list[dict[str, Any]] = []
        if archived:
            archived_at = iso_ms(self._archived_at[idx])
            for k, row in enumerate(zip(*cols, strict=True) if cols else [()] * len(idx)):
                out.append(
                    {
                        "id": ids[k],
                        "properties": dict(zip(names, row, strict=True)),
                        "createdAt": created[k],
                        "updatedAt": updated[k],
                        "archived": True,
                        "archivedAt": archived_at[k],
                    }
                )
            return out
        for k, row in enumerate(zip(*cols, strict=True) if cols else [()] * len(idx)):
            out.append(
                {
                    "id": ids[k],
                    "properties": dict(zip(names, row, strict=True)),
                    "createdAt": created[k],
                    "updatedAt": updated[k],
                    "archived": False,
                }
            )
        return out

    def resolve_properties(self, requested: Iterable[str] | None) -> list[str]:
        """Known requested properties (unknown names are ignored, as HubSpot does), or the
        defaults when none are named."""
        names = [p for p in (requested or []) if p]
        if not names:
            return list(schema.DEFAULT_PROPERTIES)
        known = self._types
        # HubSpot always adds these three to whatever was named.
        return sorted({p for p in names if p in known} | set(_ALWAYS))

    # ---- public reads -------------------------------------------------------------------------
    def live_ids(self) -> list[str]:
        """Ids of live contacts, ascending."""
        with self._lock:
            idx = np.flatnonzero(self._state[: self._n] == LIVE)
            return [str(x) for x in self._ids[idx].tolist()]

    def archived_ids(self) -> list[str]:
        with self._lock:
            idx = np.flatnonzero(self._state[: self._n] == ARCHIVED)
            return [str(x) for x in self._ids[idx].tolist()]

    def live_count(self) -> int:
        with self._lock:
            return int(np.count_nonzero(self._state[: self._n] == LIVE))

    def live_contacts(self, properties: Sequence[str] | None = None) -> Iterator[dict[str, Any]]:
        """Every live contact in id order, as the API returns it when asked for `properties`
        (default: every property; like the API, unknown names are dropped and hs_object_id,
        createdate and lastmodifieddate always come along). Generated in chunks; the lock is not
        held between chunks."""
        props = self.resolve_properties(properties) if properties else self.property_names()
        after = -1
        while True:
            with self._lock:
                idx, more = self._scan(after, 1000, LIVE)
                chunk = self._render(idx, props)
            yield from chunk
            if not more:
                return
            after = int(chunk[-1]["id"])

    def contact(self, record_id: str | int) -> dict[str, Any] | None:
        """One live or archived contact with every property; None if unknown or merged away."""
        with self._lock:
            i = self._index(record_id)
            if i is None or int(self._state[i]) in (MERGED, ERASED):
                return None
            arr = np.array([i], dtype=np.int64)
            archived = int(self._state[i]) == ARCHIVED
            return self._render(arr, self.property_names(), archived=archived)[0]

    def lists(self) -> list[dict[str, Any]]:
        with self._lock:
            return [self._list_json(lst) for lst in self._lists.values()]

    def list_member_ids(self, list_id: str) -> list[str]:
        """Ids of the live members of a list, ascending."""
        with self._lock:
            lst = self._get_list(list_id)
            members = lst.members[self._state[lst.members] == LIVE]
            return [str(x) for x in self._ids[members].tolist()]

    # ---- list endpoint ------------------------------------------------------------------------
    def _scan(self, after_id: int, limit: int, want: int) -> tuple[np.ndarray, bool]:
        """Up to `limit` indices in state `want` with id > after_id; and whether more follow."""
        n = self._n
        pos = int(np.searchsorted(self._ids[:n], after_id, side="right"))
        found: list[np.ndarray] = []
        count = 0
        step = max(256, limit * 2)
        while pos < n and count <= limit:
            end = min(n, pos + step)
            hits = np.flatnonzero(self._state[pos:end] == want) + pos
            if len(hits):
                found.append(hits)
                count += len(hits)
            pos = end
            step = min(step * 4, 1 << 20)
        idx = np.concatenate(found) if found else np.zeros(0, dtype=np.int64)
        return idx[:limit], len(idx) > limit

    def list_page(
        self, after: str | None, limit: int, properties: Iterable[str] | None, archived: bool
    ) -> dict[str, Any]:
        """The body of `GET /crm/v3/objects/contacts`."""
        after_id = decode_cursor(after) if after else -1
        props = self.resolve_properties(properties)
        with self._lock:
            idx, more = self._scan(after_id, limit, ARCHIVED if archived else LIVE)
            results = self._render(idx, props, archived=archived)
        body: dict[str, Any] = {"results": results}
        if more and results:
            nxt = encode_cursor(int(results[-1]["id"]))
            body["paging"] = {"next": {"after": nxt}}
        return body

    def get_contact_json(
        self, record_id: str, properties: Iterable[str] | None, archived: bool
    ) -> dict[str, Any]:
        """`GET /crm/v3/objects/contacts/{id}`: a merged-away id answers with its winner."""
        props = self.resolve_properties(properties)
        with self._lock:
            i = self._index(record_id)
            if i is not None and int(self._state[i]) == MERGED:
                i = self._winner_of(str(int(self._ids[i])))
            want = ARCHIVED if archived else LIVE
            if i is None or int(self._state[i]) != want:
                raise not_found(f"Object not found.  objectId are usually numeric. ({record_id})")
            return self._render(np.array([i], dtype=np.int64), props, archived=archived)[0]

    def _winner_of(self, loser_id: str) -> int | None:
        live = np.flatnonzero(self._state[: self._n] == LIVE)
        merged = self._values("hs_merged_object_ids", live)
        for i, v in zip(live.tolist(), merged, strict=True):
            if v and loser_id in v.split(";"):
                return i
        return None

    # ---- search -------------------------------------------------------------------------------
    def search(self, body: Any) -> dict[str, Any]:
        """The body of `POST /crm/v3/objects/contacts/search` (raises ApiError on bad input)."""
        req = parse_request(body)
        props = self.resolve_properties(req.properties)
        with self._lock:
            sel = self._matching(req)
            total = len(sel)
            sel = self._sorted(sel, req)
            end = min(req.after + req.limit, total, RESULT_CAP)
            page = sel[req.after : end] if req.after < end else sel[:0]
            results = self._render(page, props)
        body_out: dict[str, Any] = {"total": total, "results": results}
        if end < total and len(page):
            body_out["paging"] = {"next": {"after": str(end)}}
        return body_out

    def _prop_type(self, prop: str) -> str:
        return self._types.get(prop, "string")

    def _matching(self, req: SearchRequest) -> np.ndarray:
        n = self._n
        live = self._state[:n] == LIVE
        if req.groups:
            mask = np.zeros(n, dtype=bool)
            for group in req.groups:
                mask |= self._group_mask(group, live)
        else:
            mask = live
        if req.query:
            match = query_matcher(req.query)
            cand = np.flatnonzero(mask)
            cols = [self._values_batched(p, cand) for p in _QUERY_PROPS]
            keep = np.fromiter(
                (match(list(vals)) for vals in zip(*cols, strict=True)), bool, len(cand)
            )
            mask = mask.copy()
            mask[cand[~keep]] = False
        return np.flatnonzero(mask)

    def _group_mask(self, filters: tuple[Any, ...], live: np.ndarray) -> np.ndarray:
        mask = live.copy()
        slow = []
        for f in filters:
            m = self._fast_mask(f)
            if m is None:
                slow.append(f)
            else:
                mask &= m
        for f in slow:
            cand = np.flatnonzero(mask)
            if not len(cand):
                break
            pred = make_predicate(f, self._prop_type(f.prop), f.prop in schema.MULTI_VALUED)
            vals = self._values_batched(f.prop, cand)
            keep = np.fromiter((pred(v) for v in vals), bool, len(cand))
            mask[cand[~keep]] = False
        return mask

    def _fast_mask(self, f: Any) -> np.ndarray | None:
        n = self._n
        ptype = self._prop_type(f.prop)
        if f.prop in _FAST_ARRAYS:
            arr = {
                "hs_object_id": self._ids,
                "createdate": self._created,
                "lastmodifieddate": self._modified,
            }[f.prop][:n]
            return array_mask(f, ptype, arr)
        if f.prop == "email" and f.op in ("EQ", "IN"):
            return self._email_mask(f)
        if f.prop not in self.gen.vocab:
            return None
        pred = make_predicate(f, ptype, False)
        vocab_hit = np.fromiter((pred(v) for v in self.gen.vocab[f.prop]), bool)
        mask = np.zeros(n, dtype=bool)
        if self.n_gen:
            mask[: self.n_gen] = vocab_hit[self.gen.full_codes(f.prop)]
        # Mutated and created contacts do not follow the generated codes: test them directly.
        odd = set(self._ovr_by_prop.get(f.prop, ())) | set(range(self.n_gen, n))
        if odd:
            idx = np.array(sorted(odd), dtype=np.int64)
            for i, value in zip(idx.tolist(), self._values_batched(f.prop, idx), strict=True):
                mask[i] = pred(value)
        return mask

    def _email_mask(self, f: Any) -> np.ndarray:
        """EQ/IN on email without a scan: a generated email carries its contact index right
        before the "@", so only that contact (and mutated or hostile ones) can match."""
        pred = make_predicate(f, "string", False)
        wanted = [f.value] if f.op == "EQ" else list(f.values)
        cand: set[int] = set()
        for value in wanted:
            found = _EMAIL_INDEX.search(value or "")
            if found and int(found.group(1)) < self.n_gen:
                cand.add(int(found.group(1)))
        cand |= self._ovr_by_prop.get("email", set())
        cand |= set(range(self.n_gen, self._n))
        cand |= set(self.gen.hostile_email_indices().tolist())
        mask = np.zeros(self._n, dtype=bool)
        idx = np.array(sorted(cand), dtype=np.int64)
        for i, value in zip(idx.tolist(), self._values_batched("email", idx), strict=True):
            mask[i] = pred(value)
        return mask

    def _values_batched(self, prop: str, idx: np.ndarray) -> list[Any]:
        out: list[Any] = []
        for start in range(0, len(idx), _BATCH):
            out.extend(self._values(prop, idx[start : start + _BATCH]))
        return out

    def _sorted(self, sel: np.ndarray, req: SearchRequest) -> np.ndarray:
        if req.sort is None or not len(sel):
            return sel
        prop, desc = req.sort.prop, req.sort.descending
        if prop == "hs_object_id":
            return sel[::-1] if desc else sel
        if prop in ("createdate", "lastmodifieddate"):
            keys = (self._created if prop == "createdate" else self._modified)[sel]
            # Ties keep id order in both directions (sel is ascending by id).
            return sel[np.lexsort((sel, -keys if desc else keys))]
        conv = sort_key(self._prop_type(prop))
        vals = [conv(v) for v in self._values_batched(prop, sel)]
        present = [k for k, v in enumerate(vals) if v is not None]
        missing = [k for k, v in enumerate(vals) if v is None]
        present.sort(key=vals.__getitem__, reverse=desc)
        return sel[np.array(present + missing, dtype=np.int64)]

    # ---- lists --------------------------------------------------------------------------------
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

    # ---- mutations ----------------------------------------------------------------------------
    def _bump(self, i: int) -> int:
        """Set a contact's modification time to now (strictly later than before)."""
        ms = max(int(time.time() * 1000), int(self._modified[i]) + 1)
        self._modified[i] = ms
        return ms

    def _clean(self, properties: dict[str, Any]) -> dict[str, str | None]:
        if not isinstance(properties, dict):
            raise ValueError("properties must be an object")
        out: dict[str, str | None] = {}
        for name, value in properties.items():
            if name not in self._types:
                raise ValueError(f"Property {name!r} does not exist")
            if name in schema.READ_ONLY:
                raise ValueError(f"Property {name!r} is read-only")
            if value is None:
                out[name] = None
            elif isinstance(value, bool):
                out[name] = "true" if value else "false"
            else:
                out[name] = str(value)
        created = out.get("createdate")
        if created is not None and to_ms(created) is None:
            raise ValueError(f"Invalid createdate {created!r}")
        return out

    def _set_overrides(self, i: int, props: dict[str, str | None]) -> None:
        if "createdate" in props:
            value = props.pop("createdate")
            ms = to_ms(value) if value is not None else None
            if ms is not None:
                self._created[i] = ms
        if not props:
            return
        self._overrides.setdefault(i, {}).update(props)
        for name in props:
            self._ovr_by_prop.setdefault(name, set()).add(i)

    def _grow(self) -> None:
        if self._n < len(self._ids):
            return
        extra = max(256, len(self._ids) // 2)
        for name in ("_ids", "_created", "_modified", "_archived_at", "_state"):
            arr = getattr(self, name)
            setattr(self, name, np.concatenate([arr, np.zeros(extra, dtype=arr.dtype)]))

    def create_contact(self, properties: dict[str, Any]) -> str:
        """Create a live contact (a new, higher id); return its id."""
        props = self._clean(properties)
        with self._lock:
            self._grow()
            i = self._n
            last = int(self._ids[i - 1]) if i else 50
            now = max(int(time.time() * 1000), int(self._modified[: self._n].max(initial=0)) + 1)
            self._ids[i] = last + 1
            self._created[i] = now
            self._modified[i] = now
            self._state[i] = LIVE
            self._n += 1
            self._set_overrides(i, props)
            self._changed("creation", last + 1, now, properties=dict(self._overrides.get(i, {})))
            return str(last + 1)

    def update_contact(self, record_id: str | int, properties: dict[str, Any]) -> None:
        """Change properties of a live contact and bump its modification time."""
        props = self._clean(properties)
        with self._lock:
            i = self._require(record_id, LIVE)
            self._set_overrides(i, props)
            at = self._bump(i)
            self._changed("propertyChange", record_id, at, properties=props)

    def archive_contact(self, record_id: str | int) -> None:
        """Archive (delete) a live contact: it moves to `archived=true` with `archivedAt`."""
        with self._lock:
            i = self._require(record_id, LIVE)
            ms = self._bump(i)
            self._archived_at[i] = ms
            self._state[i] = ARCHIVED
            self._changed("deletion", record_id, ms)

    def restore_contact(self, record_id: str | int) -> None:
        """Bring an archived contact back to life (HubSpot's restore)."""
        with self._lock:
            i = self._require(record_id, ARCHIVED)
            self._state[i] = LIVE
            self._archived_at[i] = 0
            self._changed("restore", record_id, self._bump(i))

    def privacy_delete(self, record_id: str | int) -> None:
        """GDPR-delete a live or archived contact: it vanishes from every endpoint."""
        with self._lock:
            i = self._require(record_id, LIVE, ARCHIVED)
            self._state[i] = ERASED
            self._changed("privacyDeletion", record_id, int(time.time() * 1000))

    def merge_contacts(self, winner_id: str | int, loser_id: str | int) -> None:
        """Merge loser into winner: the loser vanishes (not archived), the winner lists it in
        `hs_merged_object_ids`, fills its empty properties from the loser, and is bumped."""
        with self._lock:
            w = self._require(winner_id, LIVE)
            lo = self._require(loser_id, LIVE)
            if w == lo:
                raise ValueError("cannot merge a contact into itself")
            names = [p for p in self.property_names() if p not in schema.READ_ONLY]
            names.remove("createdate")
            both = np.array([w, lo], dtype=np.int64)
            fill: dict[str, str | None] = {}
            for name in names:
                mine, theirs = self._values(name, both)
                if (mine is None or mine == "") and theirs not in (None, ""):
                    fill[name] = theirs
            merged_w = self._value_one(w, "hs_merged_object_ids")
            merged_l = self._value_one(lo, "hs_merged_object_ids")
            parts = [p for p in (merged_w or "").split(";") if p]
            parts += [str(int(self._ids[lo]))]
            parts += [p for p in (merged_l or "").split(";") if p]
            fill["hs_merged_object_ids"] = ";".join(dict.fromkeys(parts))
            self._set_overrides(w, fill)
            self._state[lo] = MERGED
            at = self._bump(w)
            # This portal keeps the primary's id (older HubSpot portals; newer ones create a
            # new record): newObjectId is the primary's own id then.
            winner, loser = str(int(self._ids[w])), str(int(self._ids[lo]))
            self._changed("merge", winner, at, primary=winner, merged=[loser], new=winner)

    def set_modified(self, ids: Iterable[str | int], when: dt.datetime | int) -> int:
        """Give many contacts one identical modification time (a bulk update); returns how
        many. `when` is a datetime (naive = UTC) or epoch milliseconds."""
        ms = _to_ms(when)
        with self._lock:
            idx = [self._require(r, LIVE, ARCHIVED) for r in ids]
            self._modified[np.array(idx, dtype=np.int64)] = ms
            return len(idx)

    def add_to_list(self, list_id: str, ids: Iterable[str | int]) -> int:
        """Add contacts to a list (membership time now); returns how many were new."""
        with self._lock:
            lst = self._get_list(list_id)
            new = np.array(sorted({self._require(r, LIVE) for r in ids}), dtype=np.int64)
            new = new[~np.isin(new, lst.members)]
            if len(new):
                members = np.concatenate([lst.members, new])
                added = np.concatenate(
                    [lst.added_ms, np.full(len(new), int(time.time() * 1000), dtype=np.int64)]
                )
                order = np.argsort(members, kind="stable")
                lst.members, lst.added_ms = members[order], added[order]
                lst.updated_ms = int(time.time() * 1000)
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
                lst.updated_ms = int(time.time() * 1000)
            return removed
