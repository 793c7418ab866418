"""The worker's web pages: Prometheus metrics and the liveness and readiness checks."""

from __future__ import annotations

import faust
from faust.web import Request, Response, View
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from mash.worker.pipeline_metrics import worker_ready


def install_pages(app: faust.App) -> None:
    @app.page("/metrics")
    async def metrics_page(view: View, request: Request) -> Response:
        return view.bytes(generate_latest(), headers={"Content-Type": CONTENT_TYPE_LATEST})

    @app.page("/health/live")
    async def live(view: View, request: Request) -> Response:
        return view.json({"status": "live"})

    @app.page("/health/ready")
    async def ready(view: View, request: Request) -> Response:
        recovered = worker_ready(app)
        return view.json({"ready": recovered}, status=200 if recovered else 503)
