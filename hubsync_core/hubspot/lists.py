"""Lists endpoints: lists search, one list, a list's members, one contact's lists."""

from __future__ import annotations

from .errors import BadRequestError
from .models import ListInfo, ListsPage, MembershipPage
from .paging import walk_cursor
from .parsing import as_int, as_str, dicts, list_info, next_after_of
from .transport import Transport


class ListsEndpoints(Transport):
    """`search_lists`, `get_list`, `list_memberships` and `contact_list_ids`."""

    def search_lists(self, query: str = "", count: int = 500, offset: int = 0) -> ListsPage:
        """One page of `POST .../lists/search` (per HUBSPOT_API_VERSION)."""
        if not 1 <= count <= 500:
            raise ValueError(f"count must be between 1 and 500, got {count}")
        if offset < 0:
            raise ValueError(f"offset must not be negative, got {offset}")
        body = {"query": query, "count": count, "offset": offset}
        data = self._request("POST", self.paths.lists_search, body=body)
        lists = [info for item in dicts(data.get("lists")) if (info := list_info(item))]
        return ListsPage(
            lists=lists,
            has_more=bool(data.get("hasMore")),
            offset=as_int(data.get("offset")) or offset + len(lists),
            total=as_int(data.get("total")),
        )

    def get_list(self, list_id: str) -> ListInfo:
        """One list's definition (`GET .../lists/{listId}`)."""
        data = self._request("GET", self.paths.list_by_id(list_id))
        item = data.get("list") if isinstance(data.get("list"), dict) else data
        info = list_info(item)
        if info is None:
            raise BadRequestError(f"HubSpot returned no list for id {list_id}")
        return info

    def list_memberships(
        self, list_id: str, after: str | None = None, limit: int = 250
    ) -> MembershipPage:
        """One page of a list's member record ids (`GET .../lists/{id}/memberships`)."""
        if not 1 <= limit <= 250:
            raise ValueError(f"limit must be between 1 and 250, got {limit}")
        params = {"limit": str(limit)}
        if after:
            params["after"] = str(after)
        data = self._request("GET", self.paths.list_memberships(list_id), params=params)
        ids: list[str] = []
        for item in data.get("results") or ():
            value = item.get("recordId") if isinstance(item, dict) else item
            if value is not None and not isinstance(value, (dict, list, bool)) and str(value):
                ids.append(str(value))
        return MembershipPage(record_ids=ids, next_after=next_after_of(data))

    def contact_list_ids(self, contact_id: str) -> list[str]:
        """The ids of every list one contact is in (all pages)."""
        path = self.paths.contact_list_memberships(contact_id)

        def fetch(after: str | None, _limit: int) -> tuple[list[str], str | None]:
            data = self._request("GET", path, params={"after": after} if after else None)
            found = [as_str(item.get("listId")) or "" for item in dicts(data.get("results"))]
            return [list_id for list_id in found if list_id], next_after_of(data)

        pages = walk_cursor(fetch, what=f"the lists of contact {contact_id}")
        return list(dict.fromkeys(list_id for page in pages for list_id in page.items))
