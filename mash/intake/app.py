"""The intake adapter's HTTP API (FastAPI): `POST /v1/contacts`, `GET /v1/contacts/{id}`,
`POST /v1/outcomes`, `GET /v1/indicators`, and the operators' pages.

Authenticate the agency, apply its rate and payload limits, validate (pydantic model, then the
checks that need the clock and the ruleset), split into one contact per child, and write them to
Kafka with acks=all before answering 202: routes.py, with the use case in
mash/services/submissions.py. Nothing is written for a refused request, and every refusal says
what is wrong in `detail`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from mash.adapters.ruleset_file import RulesetHolder
from mash.config import Settings
from mash.domain.ruleset import Ruleset
from mash.intake import health, routes
from mash.intake.agencies import AgencyDirectory
from mash.intake.answers import add_error_answers
from mash.intake.middleware import LimitsAndMetrics
from mash.intake.runtime import IntakeRuntime, runtime_of
from mash.web import ORJSONResponse


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    runtime: IntakeRuntime = app.state.runtime
    await runtime.start()
    try:
        yield
    finally:
        await runtime.stop()


def create_intake_app(
    settings: Settings, ruleset: Ruleset | RulesetHolder, agencies: AgencyDirectory
) -> FastAPI:
    app = FastAPI(
        title="MASH intake adapter",
        version="1",
        summary="Partner agencies submit contacts about children",
        lifespan=lifespan,
        default_response_class=ORJSONResponse,
        # No OpenTelemetry here (Prometheus metrics instead): skip its per-request checks.
        telemetry={"tracing": False, "metrics": False, "logs": False, "operation_spans": False},
    )
    app.state.runtime = IntakeRuntime.build(settings, ruleset, agencies)
    add_error_answers(app)
    app.add_middleware(LimitsAndMetrics, max_body_bytes=settings.max_body_bytes)
    # Added to the app itself rather than included from routers: FastAPI's `include_router`
    # nests a router that every request then looks into.
    routes.add_routes(app)
    health.add_routes(app)
    return app


__all__ = ["create_intake_app", "runtime_of"]
