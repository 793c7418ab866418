"""What the intake answers: the 202 bodies, the error body, and each refusal as an HTTP error.

Every refusal says what is wrong in `detail`; a 503 says when to try again (Retry-After).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from mash.domain.contact import Problem
from mash.services.submissions import Invalid, LedgerNotCaughtUp, NotStored, Refused, StoreNotConnected
from mash.web import ORJSONResponse, invalid_request

RETRY_AFTER_S = "5"


class Accepted(BaseModel):
    contact_ids: list[str]
    status_urls: list[str]
    replayed: bool = False


def accepted(contact_ids: list[str], *, replayed: bool) -> Response:
    """The 202 of `POST /v1/contacts`: an `Accepted` body, made directly rather than by FastAPI
    validating and serializing the model again on every request."""
    body = {
        "contact_ids": contact_ids,
        "status_urls": [f"/v1/contacts/{c}" for c in contact_ids],
        "replayed": replayed,
    }
    headers = {"Idempotent-Replayed": "true"} if replayed else None
    return ORJSONResponse(body, status_code=202, headers=headers)


class OutcomeAccepted(BaseModel):
    outcome_id: str


class ErrorBody(BaseModel):
    detail: str | list[Problem]


WRITE_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody} for status in (401, 403, 413, 422, 429, 503)
}
STATUS_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody} for status in (401, 404, 429, 503)
}


class ApiError(Exception):
    def __init__(
        self, status: int, detail: str | list[Problem], headers: dict[str, str] | None = None
    ) -> None:
        self.status, self.detail, self.headers = status, detail, headers or {}


def refusal(refused: Refused) -> ApiError:
    """The HTTP answer to a refusal of the service layer."""
    if isinstance(refused, Invalid):
        return ApiError(422, refused.problems)
    if isinstance(refused, StoreNotConnected):
        return ApiError(
            503, "the event store cannot be reached yet; try again later", {"Retry-After": RETRY_AFTER_S}
        )
    if isinstance(refused, LedgerNotCaughtUp):
        return ApiError(
            503, "the intake adapter is still reading its ledger; try again", {"Retry-After": "1"}
        )
    if isinstance(refused, NotStored):
        return ApiError(503, "the event could not be stored; try again later", {"Retry-After": RETRY_AFTER_S})
    raise TypeError(f"no answer for {type(refused).__name__}")


async def api_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    detail: Any = exc.detail if isinstance(exc.detail, str) else [p.model_dump() for p in exc.detail]
    return ORJSONResponse({"detail": detail}, status_code=exc.status, headers=exc.headers)


async def refused(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, Refused)
    return await api_error(request, refusal(exc))


async def http_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 400:
        # FastAPI's answer to a body it cannot even decode (not UTF-8, say): as for bad JSON.
        problem = Problem(loc=["body"], msg="the body is not JSON text in UTF-8", type="json_invalid")
        return ORJSONResponse({"detail": [problem.model_dump()]}, status_code=422)
    return ORJSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)


def add_error_answers(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, api_error)
    app.add_exception_handler(Refused, refused)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RequestValidationError, invalid_request)
