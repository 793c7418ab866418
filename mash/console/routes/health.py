"""For operations: Prometheus metrics, and whether the console is live and ready."""

from __future__ import annotations

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

from mash.console.routes import Runtime
from mash.web import ORJSONResponse

router = APIRouter(include_in_schema=False)


@router.get("/metrics")
async def metrics_page(rt: Runtime) -> Response:
    return Response(
        generate_latest(REGISTRY) + generate_latest(rt.metrics.registry), media_type=CONTENT_TYPE_LATEST
    )


@router.get("/health/live")
async def live() -> dict[str, str]:
    return {"status": "live"}


@router.get("/health/ready")
async def ready(rt: Runtime) -> Response:
    """Ready once the view has read the topics as they were at start and the producer is connected."""
    return ORJSONResponse({"ready": rt.ready}, status_code=200 if rt.ready else 503)
