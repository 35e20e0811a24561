"""The HubSpot scopes HubSync asks for, and what each is for."""

from __future__ import annotations

#: Needed to sync at all: read every contact (list, search, properties).
CONTACTS_READ = "crm.objects.contacts.read"
#: Needed to sync list memberships (without it the sync warns and skips lists).
LISTS_READ = "crm.lists.read"
#: Needed only by bulk operations that change contacts in HubSpot.
CONTACTS_WRITE = "crm.objects.contacts.write"
#: Needed only to add contacts to or remove them from static lists.
LISTS_WRITE = "crm.lists.write"

#: (scope, what it is for, needed for a sync) in the order a person reads them.
SCOPES: tuple[tuple[str, str, bool], ...] = (
    (CONTACTS_READ, "sync contacts", True),
    (LISTS_READ, "sync list memberships", True),
    (CONTACTS_WRITE, "bulk updates only", False),
    (LISTS_WRITE, "list changes in bulk operations only", False),
)
#: What a sync needs.
SYNC_SCOPES: tuple[str, ...] = tuple(name for name, _why, needed in SCOPES if needed)
