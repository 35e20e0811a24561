"""The sandbox portal's data store: compact arrays for ids, dates and state, lazily generated
properties, sparse overrides for everything mutated, and the reads built on them (render a
contact, the list endpoint, get-by-id).

Contact *index* i (0..n-1) is the position in the id-sorted arrays. Indices below `n_gen` are
generated contacts; created contacts are appended (HubSpot gives new contacts higher ids).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import numpy as np

from . import schema
from .config import SandboxConfig
from .errors import bad_request, not_found
from .generator import DAY_MS, Ctx, Generator, stream_key, unit

#: Contact states. ERASED: deleted for privacy (GDPR), gone from every endpoint.
LIVE, ARCHIVED, MERGED, ERASED = 0, 1, 2, 3
CHUNK = 1 << 17
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


def to_epoch_ms(when: dt.datetime | int | float) -> int:
    """A datetime (naive = UTC) or epoch ms -> epoch ms."""
    if isinstance(when, dt.datetime):
        if when.tzinfo is None:
            when = when.replace(tzinfo=dt.UTC)  # naive datetimes are UTC throughout HubSync
        return round(when.timestamp() * 1000)
    return int(when)


class PortalStore:
    """The contact arrays and how to read them; `Portal` adds search, lists and mutations.
    Every public method is thread-safe (one re-entrant lock)."""

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
        #: Wall clock (epoch seconds) for mutation times and the index lag; tests may replace it.
        self.clock: Callable[[], float] = time.time
        #: With an index lag: contact index -> (lastmodifieddate, state, changed at ms) of the
        #: version search still shows (see `SearchMixin._search_view`).
        self._unindexed: dict[int, tuple[int, int, int]] = {}

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
        for lo in range(0, n, CHUNK):
            idx = np.arange(lo, min(n, lo + CHUNK), dtype=np.int64)
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
        out: list[dict[str, Any]] = [
            {
                "id": ids[k],
                "properties": dict(zip(names, row, strict=True)),
                "createdAt": created[k],
                "updatedAt": updated[k],
                "archived": archived,
            }
            for k, row in enumerate(zip(*cols, strict=True) if cols else [()] * len(idx))
        ]
        if archived:
            for record, at in zip(out, iso_ms(self._archived_at[idx]), strict=True):
                record["archivedAt"] = at
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
