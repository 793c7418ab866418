"""Where a decided contact goes, in words partners read: the level's route (saying where consent
stands when the service needs the family's consent), the integrated mid-day meeting's outcome,
or the allocated social worker when the child's case is open. Pure: used by mash.domain.derive.
"""

from __future__ import annotations

from mash.domain.case import Reason, ReasonKind
from mash.domain.contact import ConsentStatus
from mash.domain.decisions import ImmDetails, ImmOutcome
from mash.domain.ruleset import Route, RouteTo, Ruleset
from mash.domain.timeline import ContactEntry

LINKED_PATHWAY = "To the allocated social worker: the child's social care case is open"
LINKED = RouteTo(route=Route.SOCIAL_CARE, pathway=LINKED_PATHWAY)

_IMM_ROUTES: dict[ImmOutcome, tuple[Route, str]] = {
    ImmOutcome.NFA: (Route.UNIVERSAL, "No further action"),
    ImmOutcome.ADVICE_SIGNPOST: (Route.UNIVERSAL, "Advice and signposting"),
    ImmOutcome.EARLY_HELP: (Route.EARLY_HELP, "Early help"),
    ImmOutcome.SINGLE_AGENCY: (Route.SINGLE_AGENCY, "Single agency support"),
    ImmOutcome.CSC_ASSESSMENT: (Route.SOCIAL_CARE, "Children's social care assessment"),
    ImmOutcome.STRATEGY_DISCUSSION: (Route.SOCIAL_CARE, "Strategy discussion (s47)"),
}


def imm_route(imm: ImmDetails) -> RouteTo:
    """Where the meeting's outcome sends the contact (social care outcomes refer or link it).
    The single agency's name is a person's free text: sealed, it stays in the trail, never in the
    pathway (which is in clear, and shown to partners); only an event from before decisions were
    sealed names it here."""
    route, pathway = _IMM_ROUTES[imm.outcome]
    if isinstance(imm.single_agency_name, str):
        pathway = f"{pathway}: {imm.single_agency_name}"
    return RouteTo(route=route, pathway=f"{pathway} (agreed at the integrated mid-day meeting)")


def level_route(ruleset: Ruleset, level: int, entry: ContactEntry) -> RouteTo:
    """The ruleset's route for a level, its pathway saying where consent stands when the
    service it leads to needs the family's consent."""
    to = ruleset.routes[level]
    if level in ruleset.needs_consent:
        return RouteTo(route=to.route, pathway=f"{to.pathway} ({_consent_phrase(entry)})")
    return to


_CONSENT_WORDS = {
    "significant_harm": "the child is suffering or at risk of significant harm",
    "increases_risk": "asking would increase the risk to the child",
    "harmful_delay": "asking would cause harmful delay",
    "specified_harm": "the concern is one where consent is never sought (sexual abuse, FGM, forced "
    "marriage, honour-based violence, fabricated illness)",
    "serious_crime": "asking would prejudice the prevention or detection of serious crime",
}


def _consent_phrase(entry: ContactEntry) -> str:
    if entry.consent_status is ConsentStatus.GIVEN:
        return "with the family's consent"
    if entry.consent_reason is not None:
        return f"without consent: {_CONSENT_WORDS[entry.consent_reason.value]}"
    if entry.consent_status is ConsentStatus.REFUSED:
        return "the family refused consent, and no reason to proceed without it is recorded"
    return "consent to be sought"


def consent_reason(entry: ContactEntry) -> Reason:
    """The reason a case record gives for going ahead with, or without, the family's consent."""
    status = entry.consent_status.value.replace("_", " ") if entry.consent_status else "not recorded"
    if entry.consent_reason is not None:
        why = _CONSENT_WORDS[entry.consent_reason.value]
        text = f"Consent {status}; proceeding because {why}"
    elif entry.consent_status is ConsentStatus.GIVEN:
        text = "The family has consented"
    else:
        text = f"Consent {status}, and no reason to proceed without it: consent basis missing"
    return Reason(kind=ReasonKind.CONSENT, rule=f"consent_{status.replace(' ', '_')}", text=text)
