"""Changes to the portal's contacts (create, update, archive, restore, merge, bulk
modification time), each stamping the contact's modification time as HubSpot does."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from . import schema
from .portal_store import ARCHIVED, ERASED, LIVE, MERGED, PortalStore, to_epoch_ms
from .search import to_ms


class MutationsMixin(PortalStore):
    """Contact mutations (used by the admin path, tests and the demo). Each one tells the
    portal's `listeners` (the webhook emitter) what changed."""

    listeners: list[Callable[[dict[str, Any]], None]]

    def _changed(self, kind: str, record_id: str | int, at: int, **info: Any) -> None:
        for listener in list(self.listeners):
            listener({"kind": kind, "id": str(record_id), "at": at, **info})

    def _bump(self, i: int) -> int:
        """Set a contact's modification time to now (strictly later than before)."""
        now = int(self.clock() * 1000)
        self._remember_indexed(i, int(self._modified[i]), int(self._state[i]), now)
        ms = max(now, int(self._modified[i]) + 1)
        self._modified[i] = ms
        return ms

    def _remember_indexed(self, i: int, modified: int, state: int, now_ms: int) -> None:
        """With an index lag, keep the version search still shows until the lag has passed
        (the oldest one not yet replaced in the index)."""
        lag_ms = int(self.config.index_lag_seconds * 1000)
        if not lag_ms:
            return
        known = self._unindexed.get(i)
        if known is None or known[2] <= now_ms - lag_ms:
            self._unindexed[i] = (modified, state, now_ms)

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
            clock_ms = int(self.clock() * 1000)
            now = max(clock_ms, int(self._modified[: self._n].max(initial=0)) + 1)
            # Not in the search index until the lag has passed.
            self._remember_indexed(i, 0, MERGED, clock_ms)
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
            self._changed("privacyDeletion", record_id, int(self.clock() * 1000))

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
            now_ms = int(self.clock() * 1000)
            self._remember_indexed(lo, int(self._modified[lo]), LIVE, now_ms)
            self._state[lo] = MERGED
            at = self._bump(w)
            # This portal keeps the primary's id (older HubSpot portals; newer ones create a
            # new record): newObjectId is the primary's own id then.
            winner, loser = str(int(self._ids[w])), str(int(self._ids[lo]))
            self._changed("merge", winner, at, primary=winner, merged=[loser], new=winner)

    def set_modified(self, ids: Iterable[str | int], when: dt.datetime | int) -> int:
        """Give many contacts one identical modification time (a bulk update); returns how
        many. `when` is a datetime (naive = UTC) or epoch milliseconds."""
        ms = to_epoch_ms(when)
        with self._lock:
            idx = [self._require(r, LIVE, ARCHIVED) for r in ids]
            self._modified[np.array(idx, dtype=np.int64)] = ms
            return len(idx)
