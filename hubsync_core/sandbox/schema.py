"""Contact property definitions as `GET /crm/v3/properties/contacts` returns them."""

from __future__ import annotations

from typing import Any

from .pools import INDUSTRY_SEGMENTS, LIFECYCLE_STAGES, REGIONS

#: Properties returned by the list and search endpoints when none are named (HubSpot's defaults).
DEFAULT_PROPERTIES: tuple[str, ...] = (
    "createdate",
    "email",
    "firstname",
    "hs_object_id",
    "lastmodifieddate",
    "lastname",
)

#: Properties the portal computes; a create or update may not set them.
READ_ONLY: frozenset[str] = frozenset({"hs_object_id", "lastmodifieddate", "hs_merged_object_ids"})

_CREATED_AT = "2019-08-06T02:41:52.115Z"
_CUSTOM_CREATED_AT = "2024-03-11T09:12:44.020Z"


def _options(pairs: list[tuple[str, str]]) -> list[dict[str, Any]]:
    return [
        {"label": label, "value": value, "displayOrder": i, "hidden": False, "description": ""}
        for i, (value, label) in enumerate(pairs)
    ]


def _prop(
    name: str,
    label: str,
    type_: str,
    field_type: str,
    group: str,
    *,
    options: list[dict[str, Any]] | None = None,
    custom: bool = False,
    read_only: bool = False,
    description: str = "",
    order: int = -1,
) -> dict[str, Any]:
    created = _CUSTOM_CREATED_AT if custom else _CREATED_AT
    return {
        "updatedAt": created,
        "createdAt": created,
        "name": name,
        "label": label,
        "type": type_,
        "fieldType": field_type,
        "description": description,
        "groupName": group,
        "options": options or [],
        "displayOrder": order,
        "calculated": False,
        "externalOptions": False,
        "hasUniqueValue": name == "email",
        "hidden": False,
        "hubspotDefined": not custom,
        "modificationMetadata": {
            "archivable": custom,
            "readOnlyDefinition": not custom,
            "readOnlyValue": read_only,
        },
        "formField": not read_only,
        "dataSensitivity": "non_sensitive",
        "archived": False,
    }


def property_definitions() -> list[dict[str, Any]]:
    """Every contact property of the sandbox portal, HubSpot's and the portal's custom ones."""
    info = "contactinformation"
    custom = "hubsync_demo_properties"
    stage_options = _options([(value, label) for value, label, _ in LIFECYCLE_STAGES])
    return [
        _prop("email", "Email", "string", "text", info, description="A contact's email address"),
        _prop("firstname", "First Name", "string", "text", info),
        _prop("lastname", "Last Name", "string", "text", info),
        _prop("company", "Company Name", "string", "text", info),
        _prop("phone", "Phone Number", "string", "phonenumber", info),
        _prop("jobtitle", "Job Title", "string", "text", info),
        _prop(
            "lifecyclestage",
            "Lifecycle Stage",
            "enumeration",
            "radio",
            info,
            options=stage_options,
        ),
        _prop("country", "Country/Region", "string", "text", info),
        _prop("city", "City", "string", "text", info),
        _prop("createdate", "Create Date", "datetime", "date", info),
        _prop("lastmodifieddate", "Last Modified Date", "datetime", "date", info, read_only=True),
        _prop("hs_object_id", "Record ID", "number", "number", info, read_only=True),
        _prop(
            "hs_merged_object_ids",
            "Merged Record IDs",
            "enumeration",
            "checkbox",
            info,
            read_only=True,
        ),
        _prop(
            "industry_segment",
            "Industry segment",
            "enumeration",
            "select",
            custom,
            options=_options(list(INDUSTRY_SEGMENTS)),
            custom=True,
        ),
        _prop("lead_score", "Lead score", "number", "number", custom, custom=True),
        _prop(
            "region",
            "Sales region",
            "enumeration",
            "select",
            custom,
            options=_options([(r, r) for r in REGIONS]),
            custom=True,
        ),
        _prop("sales_notes", "Sales notes", "string", "textarea", custom, custom=True),
        _prop("last_meeting_date", "Last meeting date", "date", "date", custom, custom=True),
    ]


PROPERTY_TYPES: dict[str, str] = {p["name"]: p["type"] for p in property_definitions()}
#: Multi-valued properties: values are ";"-joined and a filter matches any one of them.
MULTI_VALUED: frozenset[str] = frozenset(
    p["name"] for p in property_definitions() if p["fieldType"] == "checkbox"
)
PROPERTY_NAMES: tuple[str, ...] = tuple(sorted(PROPERTY_TYPES))
