"""The overview part of the facade: what the dashboard's overview and insights read, and
the data-version key every face caches reads under."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from hubsync_core.store import data_version as versions
from hubsync_core.store import insights
from hubsync_core.store import overview as overview_store
from hubsync_core.store.data_version import DataVersion
from hubsync_core.store.insights import EngagementPoint, RunPoint, SegmentShare, StageCount
from hubsync_core.store.overview import Overview

if TYPE_CHECKING:
    from hubsync_core.config import Settings
    from hubsync_core.store.database import Database


class OverviewFacade:
    """Mixed into `HubSyncService`; relies on its `settings` and `db`."""

    settings: Settings
    db: Database

    def data_version(self) -> DataVersion:
        """A cheap key that changes whenever stored data changes (a sync, a clear, a segment
        edit, from any face): cache reads under it."""
        return versions.data_version(self.db)

    def overview(self) -> Overview:
        """Totals, segment sizes and the last sync, for the Overview page."""
        return overview_store.overview(self.db)

    def segment_distribution(self) -> list[SegmentShare]:
        """Live contacts per segment, with each segment's share and colour."""
        return insights.segment_distribution(self.db, self.settings)

    def sync_history_points(self, limit: int = 100) -> list[RunPoint]:
        """The last `limit` runs, oldest first, for charts."""
        return insights.sync_history(self.db, limit)

    def engagement_trend(self, limit: int = 100) -> list[EngagementPoint]:
        """Engaged and cold members after each of the last `limit` finished syncs."""
        return insights.engagement_trend(self.db, limit)

    def lifecycle_funnel(self) -> list[StageCount]:
        """Live contacts per lifecycle stage, in funnel order."""
        return insights.lifecycle_funnel(self.db)

    def created_per_month(self) -> list[tuple[date, int]]:
        """Live contacts created in HubSpot, per month."""
        return insights.created_per_month(self.db)
