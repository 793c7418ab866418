"""The intake's API: partner agencies submit contacts and outcomes and ask after their contacts.

Each handler authenticates the agency (`auth.agency`), checks what it may do, calls the service
layer and turns its answer into the HTTP one; a refusal of the service layer becomes its HTTP
error in answers.py. Nothing is written for a refused request. `add_routes` gives the paths.
"""

from __future__ import annotations

from fastapi import FastAPI, Request, Response

from mash.domain.contact import ContactSubmission
from mash.domain.outcomes import OutcomeSubmission
from mash.intake.answers import STATUS_ERRORS, WRITE_ERRORS, Accepted, ApiError, OutcomeAccepted, accepted
from mash.intake.auth import Caller
from mash.intake.runtime import runtime_of
from mash.observability import metrics
from mash.observability.logging import get_logger
from mash.services.submissions import report_outcome, utc_now

log = get_logger(__name__)


async def submit_contact(submission: ContactSubmission, who: Caller, request: Request) -> Response:
    """Submit a contact about one or more children: one contact is made per child.

    Idempotent on `agency_reference`: the same reference from the same agency returns
    the original contact ids and writes nothing new.
    """
    if not who.can_submit:
        raise ApiError(403, "this agency may not submit contacts")
    runtime = runtime_of(request)
    result = await runtime.contacts.submit(who.id, who.default_source, submission)
    if result.source is not None:
        contacts = len(result.contact_ids)
        metrics.CONTACTS_RECEIVED.labels(source=result.source).inc(contacts)
        runtime.accepted_log.add(who.id, result.source, contacts)
    return accepted(result.contact_ids, replayed=result.replayed)


async def submit_outcome(submission: OutcomeSubmission, who: Caller, request: Request) -> OutcomeAccepted:
    """The council's case system reports a case closed, or a child protection plan started or ended.

    Outcomes about children the service has not seen yet are kept and applied when
    their contacts arrive. A repeat (same reference, or same content) changes nothing.
    """
    if not who.can_report_outcomes:
        raise ApiError(403, "only the council's case system may report outcomes")
    runtime = runtime_of(request)
    event = await report_outcome(runtime.settings, runtime.kafka, who.id, submission, utc_now())
    metrics.OUTCOMES_RECEIVED.labels(type=event.type.value).inc()
    log.info("outcome_accepted", agency=who.id, type=event.type.value)
    return OutcomeAccepted(outcome_id=event.outcome_id)


async def contact_status(contact_id: str, who: Caller, request: Request) -> dict[str, object]:
    """The contact's current status, to the agency that made it (404 to every other agency)."""
    status = runtime_of(request).contacts.status(contact_id, who.id)
    if status is None:
        raise ApiError(404, "no contact with this id for this agency")
    return status


async def indicators(request: Request) -> dict[str, object]:
    """The ruleset's indicator catalogue: the codes partners may send, with their levels."""
    ruleset = runtime_of(request).rules.current
    return {
        "ruleset_version": ruleset.version,
        "indicators": [
            {"code": i.code, "description": i.description, "level": i.level, "override": i.override}
            for i in ruleset.indicators
        ],
    }


def add_routes(app: FastAPI) -> None:
    app.add_api_route(
        "/v1/contacts",
        submit_contact,
        methods=["POST"],
        status_code=202,
        response_model=Accepted,
        responses=WRITE_ERRORS,
    )
    app.add_api_route(
        "/v1/outcomes",
        submit_outcome,
        methods=["POST"],
        status_code=202,
        response_model=OutcomeAccepted,
        responses=WRITE_ERRORS,
    )
    app.add_api_route("/v1/contacts/{contact_id}", contact_status, methods=["GET"], responses=STATUS_ERRORS)
    app.add_api_route("/v1/indicators", indicators, methods=["GET"])
