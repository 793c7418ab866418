"""Words and times as coordinators read them: local office time, labels for codes, and what people
typed into decisions, opened."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from mash.adapters.keyring import Keyring
from mash.adapters.sealing import Unreadable
from mash.domain.calendar import DEFAULT_CALENDAR
from mash.domain.case import CaseRecord, DataQuality, DecidedBy, TrailItem
from mash.domain.contact import CinSource, ConsentReason, ConsentStatus
from mash.domain.decisions import ConsentBasis, DecisionAction, ImmOutcome, PartnerAgency, Role
from mash.domain.ruleset import Rag, Route
from mash.domain.sealed import Sealed
from mash.observability.logging import get_logger
from mash.views.clocks import clock
from mash.views.queue_order import QUEUE_TITLES, Queue
from mash.views.summaries import concern

log = get_logger(__name__)

LEVEL_NAMES = {
    1: "Universal",
    2: "Early help",
    3: "Targeted / complex",
    4: "Specialist / safeguarding",
}
# Lower case, as they read inside a sentence; templates capitalise them at the start of a cell.
ROUTE_NAMES = {
    Route.UNIVERSAL: "universal services",
    Route.EARLY_HELP: "early help",
    Route.SOCIAL_CARE: "children's social care",
    Route.SINGLE_AGENCY: "single agency",
}
REFERRAL_NAMES = {
    "referral": "New referral to children's social care",
    "linked_to_open_case": "Linked to the child's open case: to the allocated worker",
    "not_referred": "Not a social care referral",
}
STATE_NAMES = {
    "awaiting_decision": "Awaiting decision",
    "decided": "Decided",
    "closed": "Closed",
}
DECIDED_BY_NAMES = {
    DecidedBy.COORDINATOR: "a coordinator",
    DecidedBy.IMM: "the integrated mid-day meeting (IMM)",
    DecidedBy.SERVICE: "the service",
}
ACTION_NAMES = {
    DecisionAction.CONFIRM: "Confirmed",
    DecisionAction.CHANGE: "Changed",
    DecisionAction.SIGN_OFF: "Signed off",
    DecisionAction.IMM_OUTCOME: "IMM outcome",
    DecisionAction.RESCREEN: "Re-screened",
}
ROLE_NAMES = {
    Role.COORDINATOR: "coordinator",
    Role.MANAGER: "manager",
    Role.SERVICE: "the service",
}
DATA_QUALITY_NAMES = {
    DataQuality.CONSENT_BASIS_MISSING: "consent basis missing",
    DataQuality.REFERRER_UNREACHABLE: "referrer unreachable",
    DataQuality.UNKNOWN_INDICATOR: "unknown indicator",
}
DATA_QUALITY_HELP = {
    DataQuality.CONSENT_BASIS_MISSING: "The family has not consented and the partner gave no reason to "
    "proceed without their consent: ask the referrer, or seek consent.",
    DataQuality.REFERRER_UNREACHABLE: "The partner gave no phone number or e-mail address for the referrer.",
    DataQuality.UNKNOWN_INDICATOR: "An indicator is not in the contact's ruleset: review it by hand.",
}
CONSENT_STATUS_NAMES = {
    ConsentStatus.GIVEN: "Given",
    ConsentStatus.REFUSED: "Refused",
    ConsentStatus.NOT_SOUGHT: "Not sought",
}
CONSENT_REASON_NAMES = {
    ConsentReason.SIGNIFICANT_HARM: "the child is suffering or at risk of significant harm",
    ConsentReason.INCREASES_RISK: "asking would increase the risk to the child",
    ConsentReason.HARMFUL_DELAY: "asking would cause harmful delay",
    ConsentReason.SPECIFIED_HARM: "the concern is one where consent is never sought",
    ConsentReason.SERIOUS_CRIME: "asking would prejudice the prevention or detection of serious crime",
}
OUTCOME_NAMES = {
    ImmOutcome.NFA: "No further action",
    ImmOutcome.ADVICE_SIGNPOST: "Advice and signposting",
    ImmOutcome.EARLY_HELP: "Early help",
    ImmOutcome.SINGLE_AGENCY: "Single agency",
    ImmOutcome.CSC_ASSESSMENT: "Children's social care assessment",
    ImmOutcome.STRATEGY_DISCUSSION: "Strategy discussion (s47)",
}
AGENCY_NAMES = {
    PartnerAgency.CHILDRENS_SOCIAL_CARE: "Children's social care",
    PartnerAgency.POLICE: "Police",
    PartnerAgency.HEALTH: "Health",
    PartnerAgency.EDUCATION: "Education",
    PartnerAgency.EARLY_HELP: "Early help",
    PartnerAgency.HOUSING: "Housing",
    PartnerAgency.PROBATION: "Probation",
    PartnerAgency.YOUTH_JUSTICE: "Youth justice",
    PartnerAgency.ADULT_SERVICES: "Adult services",
    PartnerAgency.OTHER: "Other",
}
CONSENT_NAMES = {
    ConsentBasis.GIVEN: "Consent given",
    ConsentBasis.NOT_REQUIRED: "Not needed: no service offered",
    ConsentBasis.SIGNIFICANT_HARM: "Without consent: significant harm",
    ConsentBasis.INCREASES_RISK: "Without consent: asking would increase the risk",
    ConsentBasis.HARMFUL_DELAY: "Without consent: asking would cause harmful delay",
    ConsentBasis.SPECIFIED_HARM: "Without consent: sexual abuse, forced marriage, HBV, FGM or FII",
    ConsentBasis.SERIOUS_CRIME: "Without consent: would prejudice a serious crime investigation",
}
SOURCE_NAMES = {
    CinSource.INDIVIDUAL_SELF: "Individual: the child",
    CinSource.INDIVIDUAL_FAMILY: "Individual: family",
    CinSource.INDIVIDUAL_ACQUAINTANCE: "Individual: acquaintance",
    CinSource.INDIVIDUAL_OTHER: "Individual: other",
    CinSource.SCHOOLS: "School",
    CinSource.EDUCATION_SERVICES: "Education services",
    CinSource.GP: "GP",
    CinSource.HEALTH_VISITOR: "Health visitor",
    CinSource.SCHOOL_NURSE: "School nurse",
    CinSource.OTHER_PRIMARY_HEALTH: "Other primary health",
    CinSource.A_AND_E: "A&E",
    CinSource.OTHER_HEALTH: "Other health",
    CinSource.HOUSING: "Housing",
    CinSource.LA_SOCIAL_CARE: "LA social care",
    CinSource.LA_OTHER_DEPARTMENT: "LA other department",
    CinSource.LA_EXTERNAL: "LA external",
    CinSource.LA_EARLY_HELP: "Early help",
    CinSource.POLICE: "Police",
    CinSource.OTHER_LEGAL_AGENCY: "Courts, probation, prison",
    CinSource.OTHER: "Other",
    CinSource.ANONYMOUS: "Anonymous",
    CinSource.UNKNOWN: "Unknown",
}
TRAIL_STATUS = {
    "applied": "Applied",
    "awaiting_sign_off": "Awaiting manager sign-off",
    "was_awaiting_sign_off": "Applied when signed off (below)",
    "signed_off": "Signed off",
    "ignored": "Not applied",
}


def local(value: datetime | None, fmt: str = "%a %d %b %Y, %H:%M") -> str:
    """A time on the office clock (London), which is what coordinators and their rotas use."""
    if value is None:
        return "—"
    return value.astimezone(DEFAULT_CALENDAR.zone).strftime(fmt)


def words(value: object) -> str:
    return str(value).replace("_", " ")


def trail_action(item: TrailItem) -> str:
    """What a trail step did, as a sentence would say it."""
    if item.role is Role.SERVICE:
        return "Decided by the service"
    return ACTION_NAMES[item.action]


def consent_text(status: ConsentStatus | None, reason: ConsentReason | None) -> str:
    said = CONSENT_STATUS_NAMES[status] if status is not None else "Not recorded"
    return f"{said}: proceeding because {CONSENT_REASON_NAMES[reason]}" if reason is not None else said


def screened_as(record: CaseRecord) -> tuple[int, Rag]:
    """The level and RAG the service first recommended: what the trail's first step started from
    (a rescreen replaces the recommendation, and the trail keeps what it replaced)."""
    if record.trail:
        return record.trail[0].from_level, record.trail[0].from_rag
    return record.recommendation.level, record.recommendation.rag


ERASED_TEXT = "(erased)"
UNOPENED_TEXT = "(cannot be opened here)"


@dataclass(frozen=True)
class Said:
    """What a person typed into a decision (a rationale, a dissent, an action, a single agency's
    name), to show: opened with the console's keyring when sealed (`field` is what it was sealed
    for, e.g. "rationale", "actions/0/what"); "(erased)" once its contact's data key is erased.
    Text in clear (the service's own, or from before decisions were sealed) is shown as it is."""

    keyring: Keyring

    def __call__(self, decision_id: str, field: str, value: str | Sealed | None) -> str:
        if value is None:
            return ""
        if isinstance(value, str):
            return value
        if self.keyring.is_erased(value.key):
            return ERASED_TEXT
        try:
            return self.keyring.open(value, f"{decision_id}/{field}".encode()).decode()
        except (Unreadable, UnicodeDecodeError) as exc:
            reason = type(exc).__name__
            log.warning("console_unopened_text", decision_id=decision_id, field=field, reason=reason)
            return UNOPENED_TEXT


def environment(keyring: Keyring | None = None) -> Environment:
    """`keyring`: what the pages open decisions' free text with (`said`); None opens nothing."""
    env = Environment(
        loader=PackageLoader("mash.console", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(local=local, words=words)
    globals_: dict[str, Any] = {
        "LEVEL_NAMES": LEVEL_NAMES,
        "ROUTE_NAMES": ROUTE_NAMES,
        "REFERRAL_NAMES": REFERRAL_NAMES,
        "STATE_NAMES": STATE_NAMES,
        "DECIDED_BY_NAMES": DECIDED_BY_NAMES,
        "ROLE_NAMES": ROLE_NAMES,
        "DATA_QUALITY_NAMES": DATA_QUALITY_NAMES,
        "DATA_QUALITY_HELP": DATA_QUALITY_HELP,
        "OUTCOME_NAMES": OUTCOME_NAMES,
        "AGENCY_NAMES": AGENCY_NAMES,
        "CONSENT_NAMES": CONSENT_NAMES,
        "SOURCE_NAMES": SOURCE_NAMES,
        "TRAIL_STATUS": TRAIL_STATUS,
        "QUEUES": list(Queue),
        "QUEUE_TITLES": QUEUE_TITLES,
        "clock": clock,
        "concern": concern,
        "consent_text": consent_text,
        "screened_as": screened_as,
        "trail_action": trail_action,
        "said": Said(keyring or Keyring(None)),
    }
    env.globals.update(globals_)
    return env
