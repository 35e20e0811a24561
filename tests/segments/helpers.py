"""Shorthands shared by the segment tests: a fixed reference time and small rule builders."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from hubsync_core.segments import BuiltinParams, Condition, Group, SegmentDef, builtin_segments

REF = datetime(2026, 3, 1, 12, 0, 0)


def one(field: str, op: str, value: Any = None, value2: Any = None) -> Group:
    return Group("all", [Condition(field, op, value, value2)])


def builtin(name: str, **params: Any) -> SegmentDef:
    return next(s for s in builtin_segments(BuiltinParams(**params)) if s.name == name)


def seg(name: str = "EU leads", rule: Group | None = None, **kw: Any) -> SegmentDef:
    return SegmentDef(name, kw.pop("colour", "#4C78A8"), rule or one("company", "eq", "x"), **kw)
