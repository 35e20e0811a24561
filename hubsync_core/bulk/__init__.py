"""Bulk operations in HubSpot: plan and preview, execute in paced batches, audit and undo.

    preview = plan.plan_set(ctx, Selection(query="segment=cold"), {"lifecyclestage": "lead"})
    op_id = audit.save_plan(db, preview, actor="os:alice")      # after confirmation
    BulkRunner(db, client, op_id, owner=...).run()              # resumable, see runner

Faces reach this through `HubSyncService` (`preview_bulk_*`, `run_bulk`, `bulk_log`, ...).
"""
