"""What every HTTP process answers for a request it cannot parse."""

from __future__ import annotations

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, ORJSONResponse

from mash.domain.contact import Problem


async def invalid_request(_: Request, exc: Exception) -> JSONResponse:
    """422 naming each bad field and why, without the input: FastAPI's default echoes what was
    sent, and what was sent may be a child's name."""
    assert isinstance(exc, RequestValidationError)
    problems = [
        Problem(loc=list(err["loc"]), msg=err["msg"], type=err["type"]).model_dump() for err in exc.errors()
    ]
    return ORJSONResponse({"detail": problems}, status_code=422)
