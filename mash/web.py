"""What the HTTP processes share: JSON answers by orjson, and the answer to a request they cannot parse."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from mash.domain.contact import Problem


class ORJSONResponse(JSONResponse):
    """JSON rendered by orjson. FastAPI deprecated its own class of this name (it now renders
    declared response models itself); these processes build most answers by hand."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, option=orjson.OPT_NON_STR_KEYS)


async def invalid_request(_: Request, exc: Exception) -> JSONResponse:
    """422 naming each bad field and why, without the input: FastAPI's default echoes what was
    sent, and what was sent may be a child's name."""
    assert isinstance(exc, RequestValidationError)
    problems = [
        Problem(loc=list(err["loc"]), msg=err["msg"], type=err["type"]).model_dump() for err in exc.errors()
    ]
    return ORJSONResponse({"detail": problems}, status_code=422)
