"""Enumeration labels: each sync stores HubSpot's options; the funnel and the CSV export (when
asked) show "Former customer", not the custom stage's internal value "1088421376"."""

from __future__ import annotations

import csv
import io

from hubsync_core.segments import Condition, Group
from hubsync_core.service import ContactFilter
from hubsync_core.sync.model import SyncOptions

CUSTOM_STAGE, CUSTOM_LABEL = "1088421376", "Former customer"


def test_a_custom_stage_reads_as_its_label_and_exports_as_its_value(sandbox, make_service):
    target = sandbox.portal.live_ids()[0]
    sandbox.portal.update_contact(target, {"lifecyclestage": CUSTOM_STAGE})
    service = make_service()
    assert service.sync(SyncOptions(mode="full")).ok

    labels = service.option_labels()
    assert labels["lifecyclestage"][CUSTOM_STAGE] == CUSTOM_LABEL
    assert labels["lifecyclestage"]["lead"] == "Lead"

    funnel = {stage.stage: stage.label for stage in service.lifecycle_funnel()}
    assert funnel[CUSTOM_STAGE] == CUSTOM_LABEL

    def exported(**options) -> dict[str, str]:
        text = "".join(
            service.iter_contacts_csv(columns=["hubspot_id", "lifecyclestage"], **options)
        )
        return {
            row["hubspot_id"]: row["lifecyclestage"] for row in csv.DictReader(io.StringIO(text))
        }

    assert exported()[target] == CUSTOM_STAGE  # internal values by default (round-trips)
    assert exported(labels=True)[target] == CUSTOM_LABEL


def test_the_facade_shows_labels_to_people_and_keeps_values_for_filters_and_rules(
    sandbox, make_service
):
    target = sandbox.portal.live_ids()[0]
    sandbox.portal.update_contact(target, {"lifecyclestage": CUSTOM_STAGE})
    service = make_service()
    assert service.sync(SyncOptions(mode="full")).ok
    flt = ContactFilter(lifecycle_stages=(CUSTOM_STAGE,))  # filters keep the value
    shape = dict(sort="hubspot_id", descending=False, limit=50, offset=0)

    # Explorer cells: labels when asked (the dashboard), values otherwise (SDK, API).
    found = service.explore(flt, columns=["hubspot_id", "lifecyclestage"], labels=True, **shape)
    assert target in [row["hubspot_id"] for row in found.page.rows]
    assert {row["lifecyclestage"] for row in found.page.rows} == {CUSTOM_LABEL}
    plain = service.explore(flt, columns=["hubspot_id", "lifecyclestage"], **shape)
    assert {row["lifecyclestage"] for row in plain.page.rows} == {CUSTOM_STAGE}
    paged = service.contact_page(flt, columns=["lifecyclestage"], labels=True, **shape)
    assert {row["lifecyclestage"] for row in paged.rows} == {CUSTOM_LABEL}
    assert {c["lifecyclestage"] for c in service.find_contacts(flt)["contacts"]} == {CUSTOM_STAGE}

    # Facets: the label beside the value the filter uses, with the count.
    stages = {f.value: f for f in found.facets["lifecycle"]}
    assert stages[CUSTOM_STAGE].label == CUSTOM_LABEL
    assert stages[CUSTOM_STAGE].selected and stages[CUSTOM_STAGE].count == found.page.total
    assert stages["lead"].label == "Lead"

    # Contact details: label and value; the SDK's plain read keeps the value.
    shown = service.get_contact(target, labels=True)
    assert shown["lifecyclestage"] == f"{CUSTOM_LABEL} ({CUSTOM_STAGE})"
    assert service.get_contact(target)["lifecyclestage"] == CUSTOM_STAGE

    # The segment editor picks labels; a rule saved from the pick holds the value.
    options = service.rule_value_options()
    assert options["lifecyclestage"][CUSTOM_STAGE] == CUSTOM_LABEL
    assert "email" not in options
    rule = Group("all", [Condition("lifecyclestage", "eq", CUSTOM_STAGE)])
    count, sample = service.preview_segment(rule, 5, labels=True)
    assert count == found.page.total
    assert {row["lifecyclestage"] for row in sample} == {CUSTOM_LABEL}
