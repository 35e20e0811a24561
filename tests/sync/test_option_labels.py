"""Enumeration labels: each sync stores HubSpot's options; the funnel and the CSV export (when
asked) show "Former customer", not the custom stage's internal value "1088421376"."""

from __future__ import annotations

import csv
import io

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
