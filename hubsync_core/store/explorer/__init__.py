"""The contacts explorer: filter, page, count and facet the stored contacts in SQL.

One query builder for the Contacts page, the CLI, the SDK and exports. Modules, from the
outside in: `filters` (the filter model and its URL form, no SQL), `reads` (these entry
points), `rows` (paging and shaping rows), `facets`, `planner` (which SQL a filter gets),
`cube` (grouped counts), `terms` (WHERE terms) and `sql` (shared building blocks). Why the
plans look the way they do: PERFORMANCE.md beside this file.
"""

from hubsync_core.store.explorer.facets import (
    FACETS,
    FUNNEL_STAGES,
    FacetName,
    FacetValue,
    facet_counts,
    known_segments,
    stage_sort_key,
)
from hubsync_core.store.explorer.filters import (
    MAX_SEARCH_LENGTH,
    NO_STAGE,
    QUERY_PARAM_KEYS,
    ContactFilter,
    parse_query_params,
)
from hubsync_core.store.explorer.reads import (
    Exploration,
    count_contacts,
    explore,
    format_count,
    get_contact,
    iter_contact_chunks,
    query_contacts,
)
from hubsync_core.store.explorer.rows import (
    ContactPage,
    check_paging,
)

__all__ = [
    "FACETS",
    "FUNNEL_STAGES",
    "MAX_SEARCH_LENGTH",
    "NO_STAGE",
    "QUERY_PARAM_KEYS",
    "ContactFilter",
    "ContactPage",
    "Exploration",
    "FacetName",
    "FacetValue",
    "check_paging",
    "count_contacts",
    "explore",
    "facet_counts",
    "format_count",
    "get_contact",
    "iter_contact_chunks",
    "known_segments",
    "parse_query_params",
    "query_contacts",
    "stage_sort_key",
]
