"""HubSpot change events: signature checks, event validation, the receiver and the journal
poller. Everything here ends in the event inbox (`store.inbox`); the applier
(`sync.applier`) turns the inbox into stored contacts."""
