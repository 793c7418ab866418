"""Who is asking: the agency whose API key this is, within its rate limit and payload limit."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from mash.intake.agencies import Agency
from mash.intake.answers import ApiError
from mash.intake.limits import RATE_LIMITED, retry_after_header
from mash.intake.runtime import runtime_of
from mash.observability.logging import get_logger

log = get_logger(__name__)
bearer = HTTPBearer(auto_error=False)


async def agency(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Agency:
    """The agency whose key this is, within its rate limit and payload limit."""
    runtime = runtime_of(request)
    found = runtime.agencies.by_key(credentials.credentials) if credentials else None
    if found is None:
        raise ApiError(401, "a valid agency API key is required", {"WWW-Authenticate": "Bearer"})
    rate = found.rate_per_s or runtime.settings.agency_rate_per_s
    burst = found.rate_burst or runtime.settings.agency_rate_burst
    wait = runtime.limiter.take(found.id, rate, burst)
    if wait > 0:
        RATE_LIMITED.labels(agency=found.id).inc()
        log.warning("intake_rate_limited", agency=found.id)
        raise ApiError(
            429,
            f"this agency is over its rate limit of {rate:g} requests a second (bursts of {burst}); "
            "slow down and retry after the Retry-After seconds",
            {"Retry-After": retry_after_header(wait)},
        )
    limit = found.max_body_bytes
    length = request.headers.get("content-length")
    if limit is not None and length is not None and length.isdigit() and int(length) > limit:
        raise ApiError(413, f"request body is over this agency's {limit} byte limit")
    return found


Caller = Annotated[Agency, Depends(agency)]
