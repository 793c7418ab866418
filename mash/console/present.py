"""Words and times as coordinators read them: local office time, labels for codes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from mash.console.view import QUEUE_TITLES, Queue, clock
from mash.domain.calendar import DEFAULT_CALENDAR
from mash.domain.contact import CinSource

LEVEL_NAMES = {
    1: "Universal",
    2: "Early help",
    3: "Targeted / complex",
    4: "Specialist / safeguarding",
}
ROUTE_NAMES = {
    "universal": "Universal: no further action",
    "early_help": "Early help",
    "social_care": "Children's social care",
    "single_agency": "A single partner agency",
}
REFERRAL_NAMES = {
    "referral": "New referral to children's social care",
    "linked_to_open_case": "Linked to the child's open case",
    "not_referred": "Not a social care referral",
}
STATE_NAMES = {
    "awaiting_decision": "Awaiting screening decision",
    "decided": "Decided",
    "closed": "Closed",
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


def environment() -> Environment:
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
        "SOURCE_NAMES": SOURCE_NAMES,
        "TRAIL_STATUS": TRAIL_STATUS,
        "QUEUES": list(Queue),
        "QUEUE_TITLES": QUEUE_TITLES,
        "clock": clock,
    }
    env.globals.update(globals_)
    return env
