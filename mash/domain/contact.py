"""What a partner agency submits, and the contact events the intake adapter makes of it.

A submission may name several children; the service turns it into one contact per child,
because every statutory figure counts contacts by child.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    model_validator,
)

from mash.domain.nhs import nhs_number_problem
from mash.domain.referrals import local_date
from mash.domain.sealed import Seal, Sealed

MAX_CHILDREN = 20
FUTURE_TOLERANCE = timedelta(minutes=5)
# A baby is rarely born more than a few weeks after its expected date, and a pregnancy lasts
# about 40 weeks: an expected date outside these bounds is a typing mistake.
UNBORN_OVERDUE = timedelta(weeks=6)
UNBORN_AHEAD = timedelta(weeks=44)


class CinSource(StrEnum):
    """Children in Need census contact source codes."""

    INDIVIDUAL_FAMILY = "1A"  # family member, relative or carer
    INDIVIDUAL_ACQUAINTANCE = "1B"  # including neighbours and childminders
    INDIVIDUAL_SELF = "1C"
    INDIVIDUAL_OTHER = "1D"
    SCHOOLS = "2A"
    EDUCATION_SERVICES = "2B"
    GP = "3A"
    HEALTH_VISITOR = "3B"
    SCHOOL_NURSE = "3C"
    OTHER_PRIMARY_HEALTH = "3D"
    A_AND_E = "3E"
    OTHER_HEALTH = "3F"
    HOUSING = "4"
    LA_SOCIAL_CARE = "5A"
    LA_OTHER_DEPARTMENT = "5B"
    LA_EXTERNAL = "5C"
    LA_EARLY_HELP = "5D"
    POLICE = "6"
    OTHER_LEGAL_AGENCY = "7"
    OTHER = "8"
    ANONYMOUS = "9"
    UNKNOWN = "10"


class ConsentStatus(StrEnum):
    GIVEN = "given"
    REFUSED = "refused"
    NOT_SOUGHT = "not_sought"


class ConsentReason(StrEnum):
    """Lawful reasons to proceed without the family's consent."""

    SIGNIFICANT_HARM = "significant_harm"
    INCREASES_RISK = "increases_risk"
    HARMFUL_DELAY = "harmful_delay"
    SPECIFIED_HARM = "specified_harm"
    SERIOUS_CRIME = "serious_crime"


def _valid_nhs_number(value: str) -> str:
    problem = nhs_number_problem(value)
    if problem:
        raise ValueError(problem)
    return value


NhsNumber = Annotated[str, AfterValidator(_valid_nhs_number)]
Name = Annotated[str, Field(min_length=1, max_length=100)]

_STRICT = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Consent(BaseModel):
    """The family's consent to the contact being shared, or why the partner went ahead without it.

    A missing reason is never a reason to refuse a contact: it is accepted and flagged as a
    data-quality problem (`DataQuality.CONSENT_BASIS_MISSING`) where consent matters.
    """

    model_config = _STRICT

    status: ConsentStatus
    reason: ConsentReason | None = None

    @model_validator(mode="after")
    def _reason_only_without_consent(self) -> Consent:
        if self.status is ConsentStatus.GIVEN and self.reason is not None:
            raise ValueError("a reason is only recorded when consent is not given")
        return self


class Child(BaseModel):
    model_config = _STRICT

    nhs_number: NhsNumber | None = None
    given_name: Name
    family_name: Name
    date_of_birth: date | None = None
    unborn: bool = False
    expected_date: date | None = None
    sex: Literal["female", "male", "unknown"] | None = None
    postcode: Annotated[str, Field(min_length=2, max_length=10)] | None = None

    @model_validator(mode="after")
    def _born_or_unborn(self) -> Child:
        if self.unborn:
            if self.expected_date is None:
                raise ValueError("expected_date is required for an unborn child")
            if self.date_of_birth is not None:
                raise ValueError("an unborn child has no date_of_birth")
        else:
            if self.date_of_birth is None:
                raise ValueError("date_of_birth is required (or unborn: true with expected_date)")
            if self.expected_date is not None:
                raise ValueError("expected_date is only for an unborn child")
        return self


class Referrer(BaseModel):
    """Who made the contact. Without a phone or e-mail the MASH cannot call them back: the
    contact is accepted all the same and flagged (`DataQuality.REFERRER_UNREACHABLE`)."""

    model_config = _STRICT

    name: Name
    role: Annotated[str, Field(min_length=1, max_length=100)]
    phone: Annotated[str, Field(min_length=3, max_length=40)] | None = None
    email: Annotated[str, Field(min_length=3, max_length=200, pattern=r"^[^@\s]+@[^@\s]+$")] | None = None

    @property
    def reachable(self) -> bool:
        return self.phone is not None or self.email is not None


IndicatorCode = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[a-z0-9_]+$")]


class ContactSubmission(BaseModel):
    """Contact submission v1: what a partner agency posts to `POST /v1/contacts`."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, title="ContactSubmissionV1")

    agency_reference: Annotated[str, Field(min_length=1, max_length=100)]
    received_at: AwareDatetime | None = None
    source: CinSource | None = None
    children: Annotated[list[Child], Field(min_length=1, max_length=MAX_CHILDREN)]
    indicators: Annotated[list[IndicatorCode], Field(min_length=1, max_length=50)]
    narrative: Annotated[str, Field(max_length=20_000)] = ""
    consent: Consent | None = Field(None, description="missing: accepted, and flagged where consent matters")
    referrer: Referrer | None = Field(
        None, description="missing (an anonymous contact): accepted, and flagged"
    )


class Problem(BaseModel):
    """One reason a request or event was refused: where, and why, in words."""

    loc: list[str | int]
    msg: str
    type: str


def submission_problems(
    submission: ContactSubmission,
    *,
    received_at: datetime,
    now: datetime,
    known_indicators: frozenset[str],
    catalogue_source: str,
    max_backdate: timedelta | None = None,
) -> list[Problem]:
    """Checks that need context the model alone doesn't have: the clock and the ruleset.

    `max_backdate` limits how far back a partner may date a contact (None: no limit, for
    `mash replay`, which loads history on purpose), so nobody rewrites a closed year by accident.
    """
    problems: list[Problem] = []
    if received_at > now + FUTURE_TOLERANCE:
        problems.append(
            Problem(
                loc=["body", "received_at"],
                msg="must not be more than 5 minutes in the future",
                type="future_datetime",
            )
        )
    if max_backdate is not None and received_at < now - max_backdate:
        hours = round(max_backdate.total_seconds() / 3600)
        problems.append(
            Problem(
                loc=["body", "received_at"],
                msg=f"must not be more than {hours} hours in the past; older history is loaded "
                "with `mash replay`",
                type="backdated_too_far",
            )
        )
    unknown = sorted({code for code in submission.indicators if code not in known_indicators})
    if unknown:
        problems.append(
            Problem(
                loc=["body", "indicators"],
                msg=f"unknown indicator codes: {', '.join(unknown)}; "
                f"valid codes are listed by {catalogue_source}",
                type="unknown_indicator",
            )
        )
    received_on = local_date(received_at)  # a date of birth is a date in England
    for i, child in enumerate(submission.children):
        if child.date_of_birth is not None and child.date_of_birth > received_on:
            problems.append(
                Problem(
                    loc=["body", "children", i, "date_of_birth"],
                    msg="must not be after received_at",
                    type="date_after_received",
                )
            )
        if child.expected_date is not None and not (
            received_on - UNBORN_OVERDUE <= child.expected_date <= received_on + UNBORN_AHEAD
        ):
            problems.append(
                Problem(
                    loc=["body", "children", i, "expected_date"],
                    msg="must be within 6 weeks before and 44 weeks after received_at; a baby already "
                    "born is given with date_of_birth",
                    type="expected_date_out_of_range",
                )
            )
    return problems


class Identifiers(BaseModel):
    """What a partner knows of a child, as keyed hashes (mash.domain.identity): how the worker finds
    which contacts are about one child (mash.domain.persons) without knowing who the child is."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    nhs: str | None = Field(description="the NHS number, when the partner knows it")
    name_dob: str = Field(description="family and given names with the date of birth (or expected date)")
    dob: str = Field(description="the date of birth (or expected date) alone")


class ContactEvent(BaseModel):
    """One child from one submission, open: what the intake makes and what a reader with the
    child's data key sees. On `mash.contacts.v1` it travels as a `SealedContactEvent`."""

    model_config = ConfigDict(extra="forbid", title="ContactEventOpen")

    contact_id: str
    identifiers: Identifiers
    agency: str
    agency_reference: str
    child_index: int
    children_in_submission: int
    received_at: AwareDatetime
    accepted_at: AwareDatetime
    source: CinSource
    child: Child
    indicators: list[str]
    narrative: str
    consent: Consent | None
    referrer: Referrer | None

    @property
    def referrer_reachable(self) -> bool:
        return self.referrer is not None and self.referrer.reachable

    def personal(self) -> PersonalDetails:
        return PersonalDetails(child=self.child, narrative=self.narrative, referrer=self.referrer)

    def sealed(self, seal: Seal) -> SealedContactEvent:
        """The event as Kafka holds it: the personal details sealed under the contact's own data
        key, bound to it."""
        details = self.personal().model_dump_json().encode()
        return SealedContactEvent(
            **self.model_dump(exclude={"child", "narrative", "referrer"}),
            referrer_given=self.referrer is not None,
            referrer_reachable=self.referrer_reachable,
            personal=seal(self.contact_id, self.contact_id, details),
        )


class PersonalDetails(BaseModel):
    """What a contact says about people: the child, the narrative, the referrer. Sealed on Kafka."""

    model_config = ConfigDict(extra="forbid")

    child: Child
    narrative: str
    referrer: Referrer | None


class SealedContactEvent(BaseModel):
    """Contact v2 on `mash.contacts.v1`: one child from one submission, its personal details sealed.

    Keyed by its contact id. The worker finds the child from `identifiers` (docs/identity.md),
    screens and routes it on the fields in clear, and never opens `personal`
    (docs/security-and-privacy.md).
    """

    model_config = ConfigDict(extra="forbid", title="ContactEventV2")

    schema_version: Literal[2] = 2
    contact_id: str
    identifiers: Identifiers
    agency: str
    agency_reference: str
    child_index: int
    children_in_submission: int
    received_at: AwareDatetime
    accepted_at: AwareDatetime
    source: CinSource
    indicators: list[str]
    consent: Consent | None
    referrer_given: bool
    referrer_reachable: bool
    personal: Sealed

    def opened(self, details: PersonalDetails) -> ContactEvent:
        return ContactEvent(
            **self.model_dump(exclude={"schema_version", "referrer_given", "referrer_reachable", "personal"}),
            **dict(details),
        )
