"""What the case page shows, and where it lives.

The page leads with an identity to check (if the contact is one), then the child, the concern and
the service's recommendation, then the decision form, then the child's history, its possible
matches, linking and splitting, and the trail. Its routes are in mash.console.routes.cases and,
for the decisions made on it, mash.console.routes.decisions.
"""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import HTMLResponse

from mash.console.forms import pending_sign_offs, rescreen_versions
from mash.console.pages import error_page
from mash.console.runtime import ConsoleRuntime
from mash.domain.ruleset import Rag
from mash.views.queues import ERASED

# What the page says of the identifier a contact shares with the record it conflicts with.
CONFLICTS = {
    "nhs": "The NHS number on this contact is already another child's, with a different date of birth.",
    "name_dob": "The name and date of birth on this contact are already another child's, "
    "with a different NHS number.",
    None: "The NHS number, or the name and date of birth, on this contact belong to another child's record.",
}


def case_path(contact_id: str) -> str:
    return f"/cases/{quote(contact_id, safe='')}"


def case_not_found(rt: ConsoleRuntime, request: Request) -> HTMLResponse:
    return error_page(rt, request, 404, "No such case", "There is no case with that id.")


def case_context(rt: ConsoleRuntime, contact_id: str, link: str = "") -> dict[str, Any]:
    """What the case page shows; `link`: a contact id to put in the link form (a possible
    match's "Link with this record"). Raises KeyError for a contact the view does not hold."""
    view, history = rt.view, rt.registry.history
    record = view.records.get(contact_id)
    if record is None:
        raise KeyError(contact_id)
    opened = view.opened(contact_id)
    own = (history.get(record.recommendation.ruleset_version) if history else None) or rt.ruleset
    conflict = record.identity_conflict if record.identity_to_check else None
    return {
        "r": record,
        "contact": None if opened is ERASED else opened,
        "erased": opened is ERASED,
        "child": view.child_line(contact_id),
        "history": view.history(contact_id),
        "pending": pending_sign_offs(record),
        "catalogue": own.catalogue,
        "usual_rag": own.rag,
        "rags": list(Rag),
        "rescreen_versions": rescreen_versions(record, rt.registered_versions()),
        "conflict": conflict,
        "conflict_known": conflict is not None and conflict in view.records,
        "conflict_text": CONFLICTS[view.shared_identifier(contact_id, conflict) if conflict else None],
        "child_contacts": view.child_contacts(contact_id),
        "matches": view.possible_matches(contact_id),
        "child_of": view.child_line,
        "link": link,
    }


async def index_matches(rt: ConsoleRuntime) -> None:
    """The possible matches' index brought up to date a step at a time, letting the feed and
    the live updates run between steps (the first time, it opens every contact read)."""
    while not rt.view.index_pending():
        await asyncio.sleep(0)
