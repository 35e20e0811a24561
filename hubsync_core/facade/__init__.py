"""The parts of the `HubSyncService` facade (hubsync_core/service.py), one concept each.

Each module holds a mixin that `HubSyncService` inherits; the faces never import these
modules: `hubsync_core.service` stays the one door (its names are the public ones). The
bulk-operation part lives with its feature, in `hubsync_core/bulk/facade.py`.

- `runs`: syncing, the audit, the sync history and what a run's outcome means.
- `contacts`: the SDK's contact reads, the explorer's filters and pages, the CSV export.
- `segments`: segment definitions, their validation, saving, importing and members.
- `freshness`: the sync schedule, webhook events, the journal poller and their worker.
- `overview`: what the dashboard's overview and insights read, and the data-version key.

The mixins rely on `HubSyncService` for `settings`, `db`, `client` and its private state
(`_owner`, `_lock`, `_journal`, `_properties_cache`).
"""
