"""The rule model: segment keys and the dict form."""

from __future__ import annotations

import pytest

from hubsync_core.segments import SegmentDef, definition_from_dict, segment_key

from .helpers import one, seg


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("EU leads", "eu_leads"),
        ("Top-10 accounts", "top_10_accounts"),
        ("a  _- b", "a_b"),
        ("Kunden München", "kunden_münchen"),
        ("cold", "cold"),
    ],
)
def test_segment_key_is_a_stable_slug(name: str, key: str) -> None:
    assert segment_key(name) == key
    assert seg(name).key == key


def test_definition_from_dict_defaults_colour_and_description() -> None:
    loaded = definition_from_dict({"name": "A", "rule": one("email", "is_empty").to_dict()})
    assert loaded == SegmentDef("A", "#4C78A8", one("email", "is_empty"))
