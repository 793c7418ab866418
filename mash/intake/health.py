"""The intake's pages for its operators: Prometheus metrics, liveness and readiness."""

from __future__ import annotations

from fastapi import FastAPI, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from mash.intake.runtime import runtime_of
from mash.web import ORJSONResponse


async def metrics_page() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


async def live() -> dict[str, str]:
    return {"status": "live"}


async def ready(request: Request) -> Response:
    """Ready once Kafka is reached and the ledger has caught up with it."""
    ok = runtime_of(request).ready
    return ORJSONResponse({"ready": ok}, status_code=200 if ok else 503)


def add_routes(app: FastAPI) -> None:
    app.add_api_route("/metrics", metrics_page, methods=["GET"], include_in_schema=False)
    app.add_api_route("/health/live", live, methods=["GET"], include_in_schema=False)
    app.add_api_route("/health/ready", ready, methods=["GET"], include_in_schema=False)
