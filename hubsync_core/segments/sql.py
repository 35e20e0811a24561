"""Evaluation in SQL: `compile_rule` turns a rule into a SQLAlchemy boolean expression.

It implements the same semantics as the Python evaluator (see `hubsync_core.segments.evaluate`),
on SQLite and PostgreSQL; the tests hold the two to it on both backends. Values are always bound
parameters, and text is folded, compared and cast so that both backends agree with Python.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    DateTime,
    Float,
    Table,
    Text,
    and_,
    case,
    cast,
    collate,
    exists,
    false,
    func,
    literal,
    not_,
    or_,
    select,
)
from sqlalchemy.sql import column, table

from hubsync_core.clock import naive_utc
from hubsync_core.segments import _values as values
from hubsync_core.segments.model import PROPERTY_PREFIX, Condition, Group, SegmentError
from hubsync_core.segments.validation import validate_rule

_PG_STORED_DATE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}($|[T ][0-9]{2}:[0-9]{2}:[0-9]{2})"
_PG_NUMERIC = r"^-?[0-9]+(\.[0-9]+)?$"
_D = "[0-9]"
_GLOB_DATE = f"{_D * 4}-{_D * 2}-{_D * 2}"
_GLOB_DATETIME = f"{_GLOB_DATE}[T ]{_D * 2}:{_D * 2}:{_D * 2}*"


# The list-membership table, named without importing the store (this module stays pure).
_LIST_MEMBERSHIPS = table("list_memberships", column("list_id"), column("hubspot_id"))


def compile_rule(
    rule: Group | Condition,
    ref: datetime,
    contacts_table: Table,
    dialect_name: str,
) -> ColumnElement[bool]:
    """The rule as a SQLAlchemy boolean expression over ``contacts_table`` at time ``ref``.

    Every value is a bound parameter (LIKE wildcards escaped), so quotes, ``%``, ``_`` or
    ``;--`` in a value are plain text. ``dialect_name`` is "sqlite" or "postgresql".
    Archived contacts are not excluded here (the caller adds that).
    """
    if dialect_name not in ("sqlite", "postgresql"):
        raise SegmentError(f"Segments support SQLite and PostgreSQL, not {dialect_name!r}.")
    validate_rule(rule)  # also guards the property names that reach a JSON path
    return _sql(rule, naive_utc(ref), contacts_table, dialect_name)


def _sql(
    rule: Group | Condition, ref: datetime, contacts: Table, dialect: str
) -> ColumnElement[bool]:
    if isinstance(rule, Group):
        parts = [_sql(item, ref, contacts, dialect) for item in rule.items]
        return and_(*parts) if rule.match == "all" else or_(*parts)
    return _sql_condition(rule, ref, contacts, dialect)


def _sql_condition(
    cond: Condition, ref: datetime, contacts: Table, dialect: str
) -> ColumnElement[bool]:
    kind = values.field_kind(cond.field)
    op, value, value2 = cond.op, cond.value, cond.value2
    if kind == "list":
        lm = _LIST_MEMBERSHIPS
        return exists(
            select(literal(1))
            .select_from(lm)
            .where(lm.c.list_id == literal(value, Text), lm.c.hubspot_id == contacts.c.hubspot_id)
            .correlate(contacts)
        )
    if kind == "date":
        return _sql_date(contacts.c[cond.field], op, value, value2, ref)
    if kind == "text":
        expr: ColumnElement[Any] = contacts.c[cond.field]
    else:
        prop = cond.field[len(PROPERTY_PREFIX) :]
        if dialect == "sqlite":
            # A quoted JSON path label; the name is validated and the path is a bound value.
            expr = func.json_extract(
                contacts.c.properties, literal(f'$."{prop}"', Text), type_=Text
            )
        else:
            expr = func.json_extract_path_text(
                contacts.c.properties, literal(prop, Text), type_=Text
            )
    return _sql_text(expr, op, value, value2, ref, dialect)


def _null_safe_not(expr: ColumnElement[bool]) -> ColumnElement[bool]:
    # NOT NULL is NULL; an unknown "equal" must count as "not equal" as in Python.
    return not_(func.coalesce(expr, false()))


def _sql_date(
    col: ColumnElement[Any], op: str, value: Any, value2: Any, ref: datetime
) -> ColumnElement[bool]:
    def at(moment: datetime) -> ColumnElement[Any]:
        return literal(moment, DateTime())

    if op == "is_empty":
        return col.is_(None)
    if op == "is_not_empty":
        return col.is_not(None)
    if op == "within_last_days":
        return col >= at(ref - timedelta(days=value))
    if op == "more_than_days_ago":
        return col <= at(ref - timedelta(days=value))
    first = values.parse_date(value)
    if op in ("eq", "neq"):
        if values.DATE_ONLY.fullmatch(value):
            eq = and_(col >= at(first), col < at(first + timedelta(days=1)))
        else:
            eq = col == at(first)
        return eq if op == "eq" else _null_safe_not(eq)
    if op == "gt":
        return col > at(first)
    if op == "lt":
        return col < at(first)
    second = values.parse_date(value2)
    if values.DATE_ONLY.fullmatch(value2):
        return and_(col >= at(first), col < at(second + timedelta(days=1)))
    return and_(col >= at(first), col <= at(second))


def _sql_text(
    expr: ColumnElement[Any], op: str, value: Any, value2: Any, ref: datetime, dialect: str
) -> ColumnElement[bool]:
    def fold(e: ColumnElement[Any]) -> ColumnElement[Any]:
        # SQLite's lower() folds ASCII only; "C" collation makes PostgreSQL's do the same.
        return func.lower(e) if dialect == "sqlite" else func.lower(collate(e, "C"))

    def text_param(v: str) -> ColumnElement[Any]:
        return literal(v, Text)

    if op == "is_empty":
        return or_(expr.is_(None), expr == text_param(""))
    if op == "is_not_empty":
        return and_(expr.is_not(None), expr != text_param(""))
    if op in ("eq", "neq"):
        if values.is_number(value):
            eq = _sql_number(expr, dialect) == literal(float(value), Float)
        else:
            eq = fold(expr) == text_param(values.fold(value))
        return eq if op == "eq" else _null_safe_not(eq)
    if op == "contains":
        return fold(expr).contains(values.fold(value), autoescape=True)
    if op == "starts_with":
        return fold(expr).startswith(values.fold(value), autoescape=True)
    if op == "in":
        return fold(expr).in_(sorted({values.fold(v) for v in value}))
    if op in ("within_last_days", "more_than_days_ago"):
        key = _sql_date_key(expr, dialect)
        cutoff = text_param(values.moment_key(ref - timedelta(days=value)))
        return key >= cutoff if op == "within_last_days" else key <= cutoff
    if values.is_number(value):
        number = _sql_number(expr, dialect)
        if op == "gt":
            return number > literal(float(value), Float)
        if op == "lt":
            return number < literal(float(value), Float)
        return number.between(literal(float(value), Float), literal(float(value2), Float))
    key = _sql_date_key(expr, dialect)
    low = text_param(values.moment_key(values.parse_date(value)))
    if op == "gt":
        return key > low
    if op == "lt":
        return key < low
    second = values.parse_date(value2)
    high = text_param(values.moment_key(values.upper_bound(value2, second)))
    return and_(key >= low, key <= high if not values.DATE_ONLY.fullmatch(value2) else key < high)


def _glob(expr: ColumnElement[Any], pattern: str) -> ColumnElement[bool]:
    return expr.op("GLOB", is_comparison=True)(literal(pattern, Text))


def _sql_number(expr: ColumnElement[Any], dialect: str) -> ColumnElement[Any]:
    """The value as a float where it looks like ``-?[0-9]+(.[0-9]+)?``, else NULL (no error)."""
    if dialect == "sqlite":
        looks_numeric = and_(
            not_(_glob(expr, "*[^0-9.-]*")),
            or_(_glob(expr, "[0-9]*"), _glob(expr, "-[0-9]*")),
            _glob(expr, "*[0-9]"),
            not_(_glob(expr, "?*-*")),
            not_(_glob(expr, "*.*.*")),
        )
    else:
        looks_numeric = expr.regexp_match(_PG_NUMERIC)
    # CASE guarantees the cast only sees numeric text (PostgreSQL would raise otherwise).
    return case((looks_numeric, cast(expr, Float)), else_=None)


def _sql_date_key(expr: ColumnElement[Any], dialect: str) -> ColumnElement[Any]:
    """A date-looking value as ``YYYY-MM-DDTHH:MM:SS`` text, else NULL.

    Mirrors `evaluate._stored_date_key`.
    """
    if dialect == "sqlite":
        looks_dated = or_(_glob(expr, _GLOB_DATE), _glob(expr, _GLOB_DATETIME))
    else:
        looks_dated = expr.regexp_match(_PG_STORED_DATE)
    day = func.substr(expr, 1, 10, type_=Text)
    time = case(
        (func.length(expr) == 10, literal("00:00:00", Text)),
        else_=func.substr(expr, 12, 8, type_=Text),
    )
    key = case((looks_dated, day.concat(literal("T", Text)).concat(time)), else_=None)
    # Byte order, not the database's locale order, so PostgreSQL compares like SQLite and Python.
    return key if dialect == "sqlite" else collate(key, "C")
