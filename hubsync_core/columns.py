"""The contact columns: one registry every contact-column list in HubSync derives from.

Each column says what it is called in rows (`name`), which HubSpot property fills it, its
kind, its label on screen and whether pages may sort by it. The order is the display order
(the Contacts page, the CSV export). Imports nothing of HubSync, so the store, the sync, the
segment rules, the SDK and the pages can all use it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class ColumnKind(StrEnum):
    """What a column holds."""

    ID = "id"  # the HubSpot record id, a digit string
    TEXT = "text"  # free text: searched, sorted case-insensitively
    CHOICE = "choice"  # one of HubSpot's option values (the lifecycle stage)
    TIME = "time"  # a naive UTC datetime (see `hubsync_core.clock`)
    FLAG = "flag"  # True or False
    MEMBERS = "members"  # names from the membership tables, not a stored column


@dataclass(frozen=True)
class Column:
    """One contact column. `hubspot_property`: the property a sync reads it from (None for
    what HubSync computes). `shown`: in the default view and export. `brief`: in the CLI's
    short table. `sdk`: in the original spec's contact shape (`get_contacts`)."""

    name: str
    label: str
    kind: ColumnKind
    hubspot_property: str | None = None
    sortable: bool = False
    shown: bool = False
    brief: bool = False
    sdk: bool = True


_ID, _TEXT, _CHOICE = ColumnKind.ID, ColumnKind.TEXT, ColumnKind.CHOICE
_TIME, _FLAG, _MEMBERS = ColumnKind.TIME, ColumnKind.FLAG, ColumnKind.MEMBERS

COLUMNS: tuple[Column, ...] = (
    Column("hubspot_id", "ID", _ID, "hs_object_id", sortable=True, shown=True, brief=True),
    Column("email", "Email", _TEXT, "email", sortable=True, shown=True, brief=True),
    Column("firstname", "First name", _TEXT, "firstname", sortable=True, shown=True, brief=True),
    Column("lastname", "Last name", _TEXT, "lastname", sortable=True, shown=True, brief=True),
    Column("company", "Company", _TEXT, "company", sortable=True, shown=True, brief=True),
    Column("jobtitle", "Job title", _TEXT, "jobtitle", sortable=True, shown=True),
    Column("phone", "Phone", _TEXT, "phone", sortable=True, shown=True),
    Column(
        "lifecyclestage",
        "Lifecycle stage",
        _CHOICE,
        "lifecyclestage",
        sortable=True,
        shown=True,
        brief=True,
    ),
    Column("segments", "Segments", _MEMBERS, shown=True, brief=True),
    Column("list_memberships", "Lists", _MEMBERS, shown=True),
    Column("created_at", "Created", _TIME, "createdate", sortable=True, shown=True),
    Column("updated_at", "Last modified", _TIME, "lastmodifieddate", sortable=True, shown=True),
    Column("synced_at", "Synced", _TIME),
    Column("archived", "Archived", _FLAG),
    Column("archived_at", "Archived at", _TIME, sdk=False),
    Column("archived_reason", "Archived why", _TEXT, sdk=False),
)
BY_NAME: dict[str, Column] = {column.name: column for column in COLUMNS}


def _names(*, kinds: tuple[ColumnKind, ...] = tuple(ColumnKind), **flags: bool) -> tuple[str, ...]:
    return tuple(
        c.name
        for c in COLUMNS
        if c.kind in kinds and all(getattr(c, flag) == want for flag, want in flags.items())
    )


_STORED_KINDS = (_ID, _TEXT, _CHOICE, _TIME, _FLAG)

#: Every column name, in display order.
NAMES: tuple[str, ...] = _names()
#: Columns stored in `contacts` (besides the `properties` JSON).
STORED: tuple[str, ...] = _names(kinds=_STORED_KINDS)
#: Columns computed from the membership tables.
MEMBERSHIPS: tuple[str, ...] = _names(kinds=(_MEMBERS,))
#: Columns a page may be sorted by.
SORTABLE: tuple[str, ...] = _names(sortable=True)
#: Shown by default on the Contacts page and exported when no columns are chosen.
SHOWN: tuple[str, ...] = _names(shown=True)
#: The CLI's short table.
BRIEF: tuple[str, ...] = _names(brief=True)
#: The original spec's contact fields (`get_contacts` rows also carry `properties`).
SDK: tuple[str, ...] = _names(sdk=True)
#: Text-like stored columns (ids, free text, option values).
TEXT_LIKE: tuple[str, ...] = _names(kinds=(_ID, _TEXT, _CHOICE))
#: Stored time columns.
TIMES: tuple[str, ...] = _names(kinds=(_TIME,))
#: Columns filled from a HubSpot property: the ones a segment rule can name.
FROM_HUBSPOT: tuple[str, ...] = tuple(c.name for c in COLUMNS if c.hubspot_property)
#: The HubSpot properties the columns are read from.
HUBSPOT_PROPERTIES: tuple[str, ...] = tuple(
    c.hubspot_property for c in COLUMNS if c.hubspot_property
)


def label(name: str) -> str:
    """The column's label on screen; any other name (a HubSpot property) as it is."""
    column = BY_NAME.get(name)
    return column.label if column else name
