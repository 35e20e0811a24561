"""Rules as text for people."""

from __future__ import annotations

from hubsync_core.segments import describe_rule

from .helpers import builtin


def test_describe_rule_reads_like_the_rule() -> None:
    text = describe_rule(builtin("chainge", chainge_list_id="5").rule)
    assert text == "company contains 'chainge' OR in list 5"
    assert describe_rule(builtin("cold").rule) == "updated_at 90 or more days ago"
