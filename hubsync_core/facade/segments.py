"""The segments part of the facade: definitions, validation against the one set of known
fields every face uses, saving, importing, resetting and recomputing members."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from hubsync_core import labels as _labels
from hubsync_core.clock import utcnow
from hubsync_core.segments import CONTACT_FIELDS as RULE_COLUMNS
from hubsync_core.segments import (
    LIST_FIELD,
    PROPERTY_PREFIX,
    Condition,
    Group,
    SegmentDef,
    describe_rule,
    dump_definitions,
    load_definitions,
    validate_definition,
)
from hubsync_core.store import explorer, segment_store
from hubsync_core.store.segment_store import ImportResult
from hubsync_core.sync.records import CORE_PROPERTIES

if TYPE_CHECKING:
    from hubsync_core.config import Settings
    from hubsync_core.store.database import Database


class SegmentsFacade:
    """Mixed into `HubSyncService`; relies on its `settings`, `db` and the option labels
    of `ContactsFacade`."""

    settings: Settings
    db: Database

    if TYPE_CHECKING:  # from the contacts part (`ContactsFacade`)

        def _option_labels(
            self, properties: Iterable[str] | None = None
        ) -> dict[str, dict[str, str]]: ...

        def _labelled_rows(self, rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]: ...

    def apply_segments(self, reference_time: datetime | None = None) -> dict[str, int]:
        """Recompute every segment's membership now; returns the count per segment."""
        definitions = segment_store.list_definitions(self.db, self.settings)
        with self.db.transaction() as conn:
            return segment_store.recompute(
                conn, definitions, reference_time or utcnow(), prune=True
            )

    def segments(self) -> list[SegmentDef]:
        """Every segment definition: the four built-ins, then user-defined ones."""
        return segment_store.list_definitions(self.db, self.settings)

    def segment_sizes(self) -> dict[str, int]:
        """Live contacts per segment key, every defined segment included (zeros too)."""
        return {f.value: f.count for f in explorer.facet_counts(self.db, None, "segment")}

    def known_properties(self) -> set[str]:
        """Fields a segment rule may name: columns, synced properties, configured ones."""
        names = set(segment_store.known_properties(self.db))
        names.update(CORE_PROPERTIES)
        names.update(self.settings.properties)
        return names

    def rule_fields(self) -> list[str]:
        """The fields a segment rule may name, as a rule writes them: the contact columns,
        then `properties.<name>` for every known property, then the list pseudo-field."""
        known = self.known_properties()
        names = {
            name.removeprefix(PROPERTY_PREFIX)
            for name in known
            if name.startswith(PROPERTY_PREFIX) or name not in RULE_COLUMNS
        }
        names.update(CORE_PROPERTIES)
        properties = sorted(PROPERTY_PREFIX + name for name in names)
        return [*(c for c in RULE_COLUMNS if c in known), *properties, LIST_FIELD]

    def save_segment(self, segment: SegmentDef, *, original_name: str | None = None) -> SegmentDef:
        """Validate and store a segment (new, or edited/renamed from `original_name`), then
        recompute its members. Raises `SegmentError` with a clear message when invalid."""
        return segment_store.save_definition(
            self.db,
            segment,
            known_properties=self.known_properties(),
            original_name=original_name,
            ref=utcnow(),
        )

    def delete_segment(self, name: str) -> bool:
        """Delete a user segment and its membership (built-ins cannot be deleted)."""
        return segment_store.delete_definition(self.db, name)

    def preview_segment(
        self, rule: SegmentDef | Group, sample: int = 10, *, labels: bool = False
    ) -> tuple[int, list[dict[str, Any]]]:
        """How many live contacts a rule matches now, and a sample of them; writes nothing.
        With `labels`, the sample's enumeration columns hold option labels."""
        count, rows = segment_store.preview(self.db, rule, utcnow(), sample=sample)
        return count, self._labelled_rows(rows) if labels and rows else rows

    def rule_value_options(self, fields: Sequence[str] | None = None) -> dict[str, dict[str, str]]:
        """{rule field: {internal value: label}} for each of `fields` (default: `rule_fields`)
        that is an enumeration: what a value picker offers. A rule saves the value
        ("1088421376"); people pick the label ("Former customer")."""
        fields = self.rule_fields() if fields is None else fields
        found = _labels.column_options(self._option_labels(_labels.properties_of(fields)), fields)
        return {field: dict(options) for field, options in found.items()}

    def describe_rule(self, rule: Group | Condition) -> str:
        """A rule in one line for people, enumeration values as their option labels
        (``lifecyclestage eq 'Former customer'``); the stored rule keeps the values."""
        return describe_rule(rule, self.rule_value_options())

    def export_segments(self, format: str = "toml", *, include_builtin: bool = True) -> str:
        """Segment definitions as a TOML or JSON document."""
        defs = [s for s in self.segments() if include_builtin or not s.builtin]
        return dump_definitions(defs, format)

    def import_segments(
        self, text: str, format: str = "toml", *, replace_existing: bool = False
    ) -> ImportResult:
        """Add the segments of a TOML or JSON document (all or nothing) and recompute them."""
        return self.import_segment_definitions(
            load_definitions(text, format), replace_existing=replace_existing
        )

    def validate_segment(self, segment: SegmentDef, *, original_name: str | None = None) -> None:
        """Raise `SegmentError` if `save_segment` would refuse this segment (the same rules
        and the same `known_properties` as every face)."""
        others = [s.name for s in self.segments() if not s.builtin and s.name != original_name]
        validate_definition(
            segment, known_properties=self.known_properties(), existing_names=others
        )

    def reset_segment(self, name: str) -> SegmentDef | None:
        """Put a built-in segment back to its default rule (from the settings) and recompute
        its members; returns the default. Raises `SegmentError` for a user segment."""
        segment_store.reset_builtin(self.db, name)
        default = segment_store.get_definition(self.db, name, self.settings)
        if default is not None:
            segment_store.recompute(self.db, [default], utcnow())
        return default

    def import_segment_definitions(
        self, definitions: Sequence[SegmentDef], *, replace_existing: bool = False
    ) -> ImportResult:
        """Add already-parsed segments (all or nothing) and recompute them."""
        return segment_store.import_definitions(
            self.db,
            definitions,
            known_properties=self.known_properties(),
            replace_existing=replace_existing,
            ref=utcnow(),
        )
