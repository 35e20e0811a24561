"""The HTTP API face (`hubsync api`): FastAPI routes over the service facade and jobs.

`create_app()` builds the app; `hubsync_core.api.app` says how to add a router in one line.
"""

from hubsync_core.api.app import create_app

__all__ = ["create_app"]
