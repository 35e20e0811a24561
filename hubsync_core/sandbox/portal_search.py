"""`POST /crm/v3/objects/contacts/search` over the portal's arrays: filters on the fast arrays
(ids, dates) and generated vocabularies are vectorised, everything else is tested one value at a
time, and only where earlier filters left candidates."""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from . import schema
from .portal_store import LIVE, PortalStore
from .search import (
    RESULT_CAP,
    SearchRequest,
    array_mask,
    make_predicate,
    parse_request,
    query_matcher,
    sort_key,
)

_FAST_ARRAYS = ("hs_object_id", "createdate", "lastmodifieddate")
_QUERY_PROPS = ("firstname", "lastname", "email", "phone", "company")
_BATCH = 65_536
_EMAIL_INDEX = re.compile(r"(\d+)@")


class SearchMixin(PortalStore):
    """The portal's search endpoint."""

    def search(self, body: Any) -> dict[str, Any]:
        """The body of `POST /crm/v3/objects/contacts/search` (raises ApiError on bad input)."""
        req = parse_request(body)
        props = self.resolve_properties(req.properties)
        with self._lock:
            state, modified = self._search_view()
            sel = self._matching(req, state == LIVE, modified)
            total = len(sel)
            sel = self._sorted(sel, req, modified)
            end = min(req.after + req.limit, total, RESULT_CAP)
            page = sel[req.after : end] if req.after < end else sel[:0]
            results = self._render(page, props)
        body_out: dict[str, Any] = {"total": total, "results": results}
        if end < total and len(page):
            body_out["paging"] = {"next": {"after": str(end)}}
        return body_out

    def _prop_type(self, prop: str) -> str:
        return self._types.get(prop, "string")

    def _search_view(self) -> tuple[np.ndarray, np.ndarray]:
        """(state, lastmodifieddate) as the search index sees them: with an index lag, changes
        younger than the lag still show the contact as it was (a new one not at all)."""
        n = self._n
        state, modified = self._state[:n], self._modified[:n]
        lag_ms = int(self.config.index_lag_seconds * 1000)
        if not lag_ms or not self._unindexed:
            return state, modified
        horizon = int(self.clock() * 1000) - lag_ms
        for i, entry in list(self._unindexed.items()):
            if entry[2] <= horizon:
                del self._unindexed[i]  # indexed by now
        if self._unindexed:
            state, modified = state.copy(), modified.copy()
            for i, (old_modified, old_state, _changed) in self._unindexed.items():
                state[i], modified[i] = old_state, old_modified
        return state, modified

    def _matching(self, req: SearchRequest, live: np.ndarray, modified: np.ndarray) -> np.ndarray:
        n = self._n
        if req.groups:
            mask = np.zeros(n, dtype=bool)
            for group in req.groups:
                mask |= self._group_mask(group, live, modified)
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

    def _group_mask(
        self, filters: tuple[Any, ...], live: np.ndarray, modified: np.ndarray
    ) -> np.ndarray:
        mask = live.copy()
        slow = []
        for f in filters:
            m = self._fast_mask(f, modified)
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

    def _fast_mask(self, f: Any, modified: np.ndarray) -> np.ndarray | None:
        n = self._n
        ptype = self._prop_type(f.prop)
        if f.prop in _FAST_ARRAYS:
            arr = {
                "hs_object_id": self._ids,
                "createdate": self._created,
                "lastmodifieddate": modified,
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

    def _sorted(self, sel: np.ndarray, req: SearchRequest, modified: np.ndarray) -> np.ndarray:
        if req.sort is None or not len(sel):
            return sel
        prop, desc = req.sort.prop, req.sort.descending
        if prop == "hs_object_id":
            return sel[::-1] if desc else sel
        if prop in ("createdate", "lastmodifieddate"):
            keys = (self._created if prop == "createdate" else modified)[sel]
            # Ties keep id order in both directions (sel is ascending by id).
            return sel[np.lexsort((sel, -keys if desc else keys))]
        conv = sort_key(self._prop_type(prop))
        vals = [conv(v) for v in self._values_batched(prop, sel)]
        present = [k for k, v in enumerate(vals) if v is not None]
        missing = [k for k, v in enumerate(vals) if v is None]
        present.sort(key=vals.__getitem__, reverse=desc)
        return sel[np.array(present + missing, dtype=np.int64)]
