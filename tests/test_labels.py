"""Option labels on what people read (`hubsync_core.labels`): pure shaping over the stored
{property: {value: label}} map; internal values stay where filters and rules need them."""

from __future__ import annotations

from hubsync_core.labels import (
    column_options,
    column_property,
    label_contact,
    label_facets,
    label_rows,
    label_value,
    label_with_value,
    properties_of,
)
from hubsync_core.store.explorer import NO_STAGE, FacetValue

LABELS = {
    "lifecyclestage": {
        "lead": "Lead",
        "customer": "Customer",
        "1088421376": "Former customer",
        "partner": "Partner",
    },
    "hs_lead_status": {"NEW": "New", "OPEN_DEAL": "Open deal"},
    "interests": {"api": "API", "webhooks": "Webhooks"},
}


def test_columns_map_to_the_enumeration_property_they_show():
    assert column_property("lifecyclestage") == "lifecyclestage"
    assert column_property("hs_lead_status") == "hs_lead_status"  # a typed property column
    assert column_property("properties.interests") == "interests"  # a rule field
    assert column_property("email") is None  # free text, never an option
    assert column_property("segments") is None
    assert properties_of(["email", "lifecyclestage", "country"]) == {"lifecyclestage", "country"}
    assert set(column_options(LABELS, ["email", "lifecyclestage", "hs_lead_status", "x"])) == {
        "lifecyclestage",
        "hs_lead_status",
    }


def test_values_read_as_labels_and_unknown_values_stay_as_they_are():
    stages = LABELS["lifecyclestage"]
    assert label_value(stages, "1088421376") == "Former customer"
    assert label_value(stages, "retired_stage") == "retired_stage"
    assert label_value(stages, None) is None
    assert label_value(stages, "") == ""
    # A multiple-checkbox value lists its options separated by ";".
    assert label_value(LABELS["interests"], "api;webhooks") == "API; Webhooks"
    assert label_with_value(stages, "1088421376") == "Former customer (1088421376)"
    assert label_with_value(stages, "lead") == "Lead"  # the same but for case: no repeat
    assert label_with_value(stages, None) is None


def test_rows_get_labels_in_copies_and_the_given_rows_keep_values():
    rows = [
        {"hubspot_id": "1", "lifecyclestage": "1088421376", "hs_lead_status": "OPEN_DEAL"},
        {"hubspot_id": "2", "lifecyclestage": None, "hs_lead_status": "GONE"},
    ]
    options = column_options(LABELS, ["hubspot_id", "lifecyclestage", "hs_lead_status"])
    shown = label_rows(rows, options)
    assert shown == [
        {"hubspot_id": "1", "lifecyclestage": "Former customer", "hs_lead_status": "Open deal"},
        {"hubspot_id": "2", "lifecyclestage": None, "hs_lead_status": "GONE"},
    ]
    assert rows[0]["lifecyclestage"] == "1088421376"


def test_the_lifecycle_facet_shows_labels_and_keeps_values_for_the_filter():
    facets = {
        "lifecycle": [
            FacetValue("lead", "lead", 5, False),
            FacetValue("1088421376", "1088421376", 2, True),
            FacetValue("partner", "partner", 3, False),
            FacetValue(NO_STAGE, "No stage", 1, False),
        ],
        "segment": [FacetValue("chainge", "CHAINge", 4, False)],
    }
    shaped = label_facets(facets, LABELS)
    assert [(f.value, f.label, f.count, f.selected) for f in shaped["lifecycle"]] == [
        ("lead", "Lead", 5, False),
        ("1088421376", "Former customer", 2, True),  # custom stages by label, A-Z
        ("partner", "Partner", 3, False),
        (NO_STAGE, "No stage", 1, False),
    ]
    assert shaped["segment"] == facets["segment"]
    assert facets["lifecycle"][1].label == "1088421376"  # the given facets are unchanged


def test_a_contact_reads_label_and_value_in_fields_and_properties():
    contact = {
        "hubspot_id": "7",
        "email": "a@example.com",
        "lifecyclestage": "1088421376",
        "properties": {
            "hs_lead_status": "OPEN_DEAL",
            "interests": "api;webhooks",
            "city": "Berlin",
        },
    }
    shown = label_contact(contact, LABELS)
    assert shown["lifecyclestage"] == "Former customer (1088421376)"
    assert shown["email"] == "a@example.com"
    assert shown["properties"] == {
        "hs_lead_status": "Open deal (OPEN_DEAL)",
        "interests": "API; Webhooks (api;webhooks)",
        "city": "Berlin",
    }
    assert contact["lifecyclestage"] == "1088421376"
