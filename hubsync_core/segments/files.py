"""Segment definition files: `dump_definitions` writes TOML or JSON, `load_definitions` reads it.

A file holds ``format = FILE_FORMAT`` and a list ``segments`` of definitions in their dict form
(`SegmentDef.to_dict`); what is written reads back exactly.
"""

from __future__ import annotations

import json
import math
import tomllib
from collections.abc import Sequence
from typing import Any

from hubsync_core.segments.model import Group, SegmentDef, SegmentError, definition_from_dict
from hubsync_core.segments.validation import validate_definition

FILE_FORMAT = 1


def dump_definitions(defs: Sequence[SegmentDef], format: str = "toml") -> str:
    """Segment definitions as a TOML or JSON document that `load_definitions` reads back exactly."""
    if format == "json":
        doc = {"format": FILE_FORMAT, "segments": [seg.to_dict() for seg in defs]}
        return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
    if format != "toml":
        raise SegmentError(f"Unknown format {format!r}: use 'toml' or 'json'.")
    lines = ["# HubSync segment definitions", f"format = {FILE_FORMAT}"]
    for seg in defs:
        lines += ["", "[[segments]]"]
        lines.append(f"name = {_toml_value(seg.name)}")
        lines.append(f"colour = {_toml_value(seg.colour)}")
        lines.append(f"description = {_toml_value(seg.description)}")
        lines.append(f"builtin = {_toml_value(seg.builtin)}")
        _toml_group(lines, "segments.rule", seg.rule, array=False)
    return "\n".join(lines) + "\n"


def _toml_group(lines: list[str], header: str, group: Group, *, array: bool) -> None:
    lines += ["", f"[[{header}]]" if array else f"[{header}]"]
    lines.append(f"match = {_toml_value(group.match)}")
    if not group.items:
        lines.append("items = []")
    for item in group.items:
        if isinstance(item, Group):
            # A nested array of tables attaches to the element just opened above it.
            _toml_group(lines, f"{header}.items", item, array=True)
        else:
            lines += ["", f"[[{header}.items]]"]
            for key, val in item.to_dict().items():
                lines.append(f"{key} = {_toml_value(val)}")


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise SegmentError(f"Cannot write the number {value!r}.")
        return repr(value)
    if isinstance(value, str):
        return _toml_string(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise SegmentError(f"Cannot write the value {value!r} to TOML.")


_TOML_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "\b": "\\b",
    "\t": "\\t",
    "\n": "\\n",
    "\f": "\\f",
    "\r": "\\r",
}


def _toml_string(text: str) -> str:
    out = ['"']
    for ch in text:
        code = ord(ch)
        if ch in _TOML_ESCAPES:
            out.append(_TOML_ESCAPES[ch])
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\u{code:04X}")
        elif 0xD800 <= code <= 0xDFFF:
            raise SegmentError(f"Cannot write text with an unpaired surrogate: {text!r}.")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def load_definitions(text: str, format: str = "toml") -> list[SegmentDef]:
    """Read definitions written by `dump_definitions` (or by hand); validates each one.

    Properties are not checked against the synced ones here (`segment_store` does that on save).
    """
    if format == "toml":
        try:
            doc: Any = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise SegmentError(f"Not valid TOML: {exc}.") from None
    elif format == "json":
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as exc:
            raise SegmentError(f"Not valid JSON: {exc}.") from None
        if isinstance(doc, list):
            doc = {"segments": doc}
    else:
        raise SegmentError(f"Unknown format {format!r}: use 'toml' or 'json'.")
    if not isinstance(doc, dict) or not isinstance(doc.get("segments", []), list):
        raise SegmentError("The file must hold a list 'segments' of segment definitions.")
    version = doc.get("format", FILE_FORMAT)
    if version != FILE_FORMAT:
        raise SegmentError(
            f"Unsupported segment file format {version!r} (this HubSync reads {FILE_FORMAT})."
        )
    defs: list[SegmentDef] = []
    for index, item in enumerate(doc.get("segments", []), start=1):
        seg = definition_from_dict(item, f"segment {index}")
        validate_definition(seg, existing_names=[d.name for d in defs if not seg.builtin])
        if seg.builtin and any(d.name == seg.name for d in defs):
            raise SegmentError(f"The built-in segment {seg.name!r} appears twice.")
        defs.append(seg)
    return defs
