"""Staff open what citizens attached.

``GET /api/v1/cases/{number}/attachments/{message_id}/{index}``: the ``index``-th attachment of
inbound message ``message_id`` of case ``number``.

The same access rule as the case itself; what is served and how: ``gateway/attachments.py``.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import StreamingResponse

from civicline.gateway.attachments import serve_attachment
from civicline.gateway.bounds import Index, RowId
from civicline.gateway.deps import ServicesDep, UserDep

router = APIRouter(tags=["staff"])


@router.get(
    "/{number}/attachments/{message_id}/{index}",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/octet-stream": {}, "image/jpeg": {}}}},
)
async def open_attachment(
    number: str,
    message_id: RowId,
    index: Index,
    user: UserDep,
    services: ServicesDep,
) -> StreamingResponse:
    """The ``index``-th attachment of inbound message ``message_id`` of the case."""
    return await serve_attachment(number, message_id, index, user, services)
