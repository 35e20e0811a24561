"""Prove the local copy is complete: a counting audit against HubSpot, and its repair.

`run_audit` (lock, audit, optional repair) is what the faces reach through the service facade;
`counting` holds the algorithm, `runner` saves reports and hooks into incremental syncs.
"""

from hubsync_core.audit.model import DRIFT, IN_SYNC, PENDING, AuditReport, RangeDrift, RepairOutcome
from hubsync_core.audit.runner import AuditNotReady, counting_audit

__all__ = [
    "DRIFT",
    "IN_SYNC",
    "PENDING",
    "AuditNotReady",
    "AuditReport",
    "RangeDrift",
    "RepairOutcome",
    "counting_audit",
]
