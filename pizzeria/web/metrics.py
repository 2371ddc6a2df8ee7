"""/metrics: the house-wide metrics in the Prometheus text format (see pizzeria.house_metrics)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST

from pizzeria import house_metrics

router = APIRouter()


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    """The queues, the outbox, the failed store, the inboxes and the visits, read now."""
    body = await run_in_threadpool(house_metrics.exposition, request.app.state.pizzeria)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
