"""`GET .../segments`: every segment definition with its live member count."""

from __future__ import annotations

from fastapi import APIRouter

from hubsync_core.api.context import PREFIX, Service
from hubsync_core.api.errors import error_responses
from hubsync_core.api.schemas import SegmentBody, SegmentsBody

router = APIRouter(prefix=PREFIX, tags=["segments"])


@router.get(
    "/segments",
    response_model=SegmentsBody,
    summary="Segments and their sizes",
    responses=error_responses(401),
)
def list_segments(service: Service) -> SegmentsBody:
    """The four built-ins, then user-defined segments, each with its rule and the number of
    live contacts in it; `key` is what `segment=` takes."""
    sizes = service.segment_sizes()
    return SegmentsBody(
        segments=[
            SegmentBody(
                key=segment.key,
                name=segment.name,
                colour=segment.colour,
                description=segment.description,
                builtin=segment.builtin,
                contacts=sizes.get(segment.key, 0),
                rule=segment.rule.to_dict(),
            )
            for segment in service.segments()
        ]
    )
