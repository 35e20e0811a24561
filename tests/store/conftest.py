"""Fixtures shared by the store's tests."""

from __future__ import annotations

import pytest

from hubsync_core.store.database import Database

from .contact_data import add_people


@pytest.fixture
def people(db: Database) -> Database:
    """The standard cast (`add_people`) in the test's database."""
    add_people(db)
    return db
