"""SQL building blocks shared by the explorer's modules: table handles, connections,
hints for SQLite's planner and a one-parameter id list."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.base import Executable
from sqlalchemy.sql.elements import ClauseElement, ColumnElement, UnaryExpression
from sqlalchemy.sql.operators import custom_op

from hubsync_core.store.database import Database
from hubsync_core.store.models import Contact, ContactSegmentRow, HubSpotList, ListMembership

CONTACTS: sa.Table = Contact.__table__  # type: ignore[attr-defined]
SEGMENTS: sa.Table = ContactSegmentRow.__table__  # type: ignore[attr-defined]
LISTS: sa.Table = HubSpotList.__table__  # type: ignore[attr-defined]
MEMBERS: sa.Table = ListMembership.__table__  # type: ignore[attr-defined]
#: The narrow (hubspot_id, archived, stage, ...) index that contacts looked up by id read.
ID_FACETS_INDEX = "ix_contacts_id_facets"


@contextmanager
def reading(db: Database) -> Iterator[Connection]:
    """A read-only connection (nothing is committed)."""
    with db.connect() as conn:
        yield conn


@contextmanager
def exploring(db: Database) -> Iterator[Connection]:
    """A read connection for the explorer's counting statements (PostgreSQL settings for
    this transaction: see PERFORMANCE.md)."""
    with reading(db) as conn:
        if not db.is_sqlite:
            conn.exec_driver_sql("SET LOCAL jit = off")
            conn.exec_driver_sql("SET LOCAL work_mem = '64MB'")
            conn.exec_driver_sql("SET LOCAL max_parallel_workers_per_gather = 0")
            conn.exec_driver_sql("SET LOCAL random_page_cost = 1.1")
        yield conn


class IndexedSelect(Executable, ClauseElement):
    """A SELECT from `contacts` that SQLite must read through `index` (`INDEXED BY`); other
    databases run it as it is. Why: PERFORMANCE.md, "Search"."""

    inherit_cache = False

    def __init__(self, select: sa.Select[Any], index: str) -> None:
        self.select = select
        self.index = index


@compiles(IndexedSelect)
def _compile_indexed(element: IndexedSelect, compiler: Any, **kw: Any) -> str:
    return str(compiler.process(element.select, **kw))


_FROM_CONTACTS = re.compile(r"\bFROM contacts\b(?!\.)")


@compiles(IndexedSelect, "sqlite")
def _compile_indexed_sqlite(element: IndexedSelect, compiler: Any, **kw: Any) -> str:
    sql = str(compiler.process(element.select, **kw))
    # The first FROM naming the table (subqueries in the select list read other tables).
    indexed, found = _FROM_CONTACTS.subn(f"FROM contacts INDEXED BY {element.index}", sql, 1)
    if not found:
        raise ValueError("an indexed select must read from contacts")
    return indexed


def no_index(column: ColumnElement[Any], dialect: str) -> ColumnElement[Any]:
    """On SQLite `+column`: the same value, but the planner will not reach it through an
    index (see PERFORMANCE.md, "Steering SQLite's planner")."""
    if dialect != "sqlite":
        return column
    return UnaryExpression(column, operator=custom_op("+"), type_=column.type)


def opaque(term: ColumnElement[bool], dialect: str) -> ColumnElement[bool]:
    """On SQLite `+(term)`: the same test, but no index is chosen for it (see `no_index`)."""
    if dialect != "sqlite":
        return term
    return UnaryExpression(term.self_group(), operator=custom_op("+"), type_=sa.Boolean())


def ids_in(column: ColumnElement[Any], ids: list[str], dialect: str) -> ColumnElement[bool]:
    """`column IN ids` with the ids as ONE parameter (a JSON array / a text[] array), so
    thousands of ids neither hit parameter limits nor slow the statement's compilation."""
    if dialect == "sqlite":
        values = sa.func.json_each(sa.bindparam(None, json.dumps(ids), type_=sa.Text))
        return column.in_(sa.select(sa.column("value")).select_from(values))
    return column == sa.any_(sa.bindparam(None, ids, type_=postgresql.ARRAY(sa.Text)))
