"""Compilation to SQL: every value bound, wildcards escaped, bad rules refused."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.dialects import postgresql, sqlite

from hubsync_core.segments import Condition, Group, SegmentError, compile_rule
from hubsync_core.store.models import Contact

from .helpers import REF, one

HOSTILE = ["'; DROP TABLE contacts;--", "x' OR '1'='1", '" OR 1=1 --', "100%_\\"]


@pytest.mark.parametrize("dialect", [sqlite.dialect(), postgresql.dialect()], ids=["sqlite", "pg"])
@pytest.mark.parametrize("value", HOSTILE)
def test_compiled_sql_binds_every_value(dialect: Any, value: str) -> None:
    rule = Group(
        "any",
        [
            Condition("company", "eq", value),
            Condition("company", "contains", value),
            Condition("properties.note", "starts_with", value),
            Condition("email", "in", [value, "a"]),
        ],
    )
    compiled = compile_rule(rule, REF, Contact.__table__, dialect.name).compile(dialect=dialect)
    sql = str(compiled)
    assert "DROP" not in sql and "OR '1'" not in sql and "1=1" not in sql and "100" not in sql
    params = [str(v) for v in compiled.params.values()]
    assert any(value.lower().split("%")[0] in p for p in params)


def test_like_wildcards_are_escaped_in_bound_values() -> None:
    compiled = compile_rule(
        one("company", "contains", "100%_x"), REF, Contact.__table__, "sqlite"
    ).compile(dialect=sqlite.dialect())
    assert "ESCAPE" in str(compiled)
    assert "100/%/_x" in compiled.params.values()


def test_compile_rule_refuses_invalid_rules_and_dialects() -> None:
    with pytest.raises(SegmentError, match="not a property name"):
        compile_rule(one("properties.x'); --", "eq", "a"), REF, Contact.__table__, "sqlite")
    with pytest.raises(SegmentError, match="not 'mysql'"):
        compile_rule(one("email", "eq", "a"), REF, Contact.__table__, "mysql")
