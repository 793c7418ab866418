"""Decisions people make about a contact: a coordinator confirms or changes its level and RAG,
a manager signs off lowering a level-4 case, the integrated mid-day meeting (IMM) agrees an
outcome for it, a manager has a waiting contact screened again under another ruleset version.

A confirm names the level and RAG the coordinator confirmed, so a recommendation that changes
later (an earlier contact about the child arriving late) never changes what a person decided.

Each is an event on `mash.decisions.v1`, keyed by child key, applied by the worker in
event-time order. Nothing is overwritten: the case record carries the whole trail.

What people type into a decision (its rationale, an IMM dissent, action or single agency's name)
may say anything about a child or a family, so it travels sealed like a contact's personal details
(`DecisionEvent.sealed`): under the data key of the decision's contact, the decision id and the
field bound in. The worker copies the sealed values, unopened, into the timeline and the trail;
plain text is still read, from events written before decisions were sealed.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from mash.domain.contact import MAX_CHILDREN
from mash.domain.ruleset import Level, Rag
from mash.domain.sealed import Seal, Sealed


class DecisionAction(StrEnum):
    CONFIRM = "confirm"  # the recommendation stands, at the level and RAG the coordinator saw
    CHANGE = "change"  # a new level and/or RAG
    SIGN_OFF = "sign_off"  # a manager approves a change that lowered a level-4 case
    IMM_OUTCOME = "imm_outcome"  # the integrated mid-day meeting agreed the intervention
    RESCREEN = "rescreen"  # a manager has a waiting contact screened under another ruleset version


class Role(StrEnum):
    COORDINATOR = "coordinator"
    MANAGER = "manager"
    SERVICE = "service"  # only in a case's trail: the service's own decision (Ruleset.service_decides)


class ImmOutcome(StrEnum):
    """What the integrated mid-day meeting agreed for a case."""

    NFA = "nfa"  # no further action
    ADVICE_SIGNPOST = "advice_signpost"
    EARLY_HELP = "early_help"
    SINGLE_AGENCY = "single_agency"  # one named agency supports the child and family
    CSC_ASSESSMENT = "csc_assessment"  # children's social care assessment (child in need, s17)
    STRATEGY_DISCUSSION = "strategy_discussion"  # s47: significant harm suspected


# Interventions the family has to agree to: the meeting records their consent, or why it
# proceeds without it (domain primer, "Consent").
NEEDS_CONSENT = frozenset({ImmOutcome.EARLY_HELP, ImmOutcome.SINGLE_AGENCY, ImmOutcome.CSC_ASSESSMENT})


class PartnerAgency(StrEnum):
    """The MASH partners: who attends the meeting and who may lead a case. A fixed list, so
    it is safe as a metric label."""

    CHILDRENS_SOCIAL_CARE = "childrens_social_care"
    POLICE = "police"
    HEALTH = "health"
    EDUCATION = "education"
    EARLY_HELP = "early_help"
    HOUSING = "housing"
    PROBATION = "probation"
    YOUTH_JUSTICE = "youth_justice"
    ADULT_SERVICES = "adult_services"
    OTHER = "other"


class ConsentBasis(StrEnum):
    """The family's consent to the agreed intervention, or the lawful reason to proceed without it."""

    GIVEN = "given"
    NOT_REQUIRED = "not_required"  # no service is offered (no further action, advice)
    SIGNIFICANT_HARM = "significant_harm"
    INCREASES_RISK = "increases_risk"
    HARMFUL_DELAY = "harmful_delay"
    SPECIFIED_HARM = "specified_harm"
    SERIOUS_CRIME = "serious_crime"


MEETING_ID_PATTERN = r"^imm-\d{4}-\d{2}-\d{2}$"
Text = Annotated[str, Field(min_length=1, max_length=5000)]
AgencyName = Annotated[str, Field(min_length=1, max_length=200)]
# Free text a person typed: as it was typed, or (on Kafka) sealed under the data key of the
# decision's contact, `<decision id>/<field>` bound in (`DecisionEvent.sealed`).
SealedText = Text | Sealed
SealedAgencyName = AgencyName | Sealed
SealedWhat = Annotated[str, Field(min_length=1, max_length=1000)] | Sealed


def seal_text(seal: Seal, token: str, record_id: str, text: str | Sealed) -> Sealed:
    """Free text sealed under the data key of `token` (a contact id), `record_id` bound in; a
    value already sealed is kept as it is."""
    return text if isinstance(text, Sealed) else seal(token, record_id, text.encode())


class ImmAction(BaseModel):
    """Something the meeting asked someone to do, by a date."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    what: SealedWhat
    owner: SealedAgencyName
    due: date

    def sealed(self, seal: Seal, token: str, record_id: str) -> ImmAction:
        """`record_id`: the action's own, e.g. `<decision id>/actions/0`."""
        return self.model_copy(
            update={
                "what": seal_text(seal, token, f"{record_id}/what", self.what),
                "owner": seal_text(seal, token, f"{record_id}/owner", self.owner),
            }
        )


class ImmDetails(BaseModel):
    """What the meeting agreed about one case: carried by the decision into the timeline and the trail."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    meeting_id: Annotated[str, Field(pattern=MEETING_ID_PATTERN)]
    outcome: ImmOutcome
    lead_agency: PartnerAgency
    single_agency_name: SealedAgencyName | None = None
    consent_basis: ConsentBasis | None = None
    actions: tuple[ImmAction, ...] = ()
    dissent: SealedText | None = None


class DecisionEvent(BaseModel):
    """Decision v1 on `mash.decisions.v1`."""

    model_config = ConfigDict(extra="forbid", title="DecisionEventV1")

    schema_version: Literal[1] = 1
    decision_id: str
    contact_id: str
    child_key: str | None = Field(
        None, description="the child the person saw the contact under; the worker goes by contact_id"
    )
    action: DecisionAction
    decided_at: AwareDatetime
    by: Annotated[str, Field(min_length=1, max_length=100)]
    role: Role
    level: Level | None = None
    rag: Rag | None = None
    rationale: SealedText = Field(
        description="why, as the person wrote it: sealed under the contact's data key, "
        "`<decision_id>/rationale` bound in (plain text in events written before decisions were sealed)"
    )
    signs_off: str | None = Field(None, description="sign_off only: the decision_id being approved")
    ruleset_version: Annotated[str, Field(min_length=1, max_length=64)] | None = Field(
        None, description="rescreen only: the ruleset version to screen the contact under"
    )
    meeting_id: Annotated[str, Field(pattern=MEETING_ID_PATTERN)] | None = Field(
        None, description="imm_outcome only: the meeting, imm-YYYY-MM-DD"
    )
    outcome: ImmOutcome | None = Field(None, description="imm_outcome only: what the meeting agreed")
    lead_agency: PartnerAgency | None = Field(None, description="imm_outcome only: the agreed lead agency")
    single_agency_name: SealedAgencyName | None = Field(
        None,
        description="imm_outcome with single_agency only: the agency named (sealed, "
        "`<decision_id>/single_agency_name` bound in)",
    )
    consent_basis: ConsentBasis | None = Field(
        None,
        description="imm_outcome only: consent given, or why the intervention proceeds without it "
        "(required for early_help, single_agency and csc_assessment)",
    )
    actions: list[ImmAction] = Field(
        default_factory=list,
        description="imm_outcome only: agreed actions (each what and owner sealed, "
        "`<decision_id>/actions/<n>/what` and `.../owner` bound in)",
    )
    dissent: SealedText | None = Field(
        None,
        description="imm_outcome only: any partner's recorded dissent (sealed, "
        "`<decision_id>/dissent` bound in)",
    )

    @model_validator(mode="after")
    def _fields_fit_the_action(self) -> DecisionEvent:
        if isinstance(self.rationale, str) and not self.rationale.strip():
            raise ValueError("a rationale is required for every decision")
        if self.action is DecisionAction.IMM_OUTCOME:
            self._check_imm()
        elif self.meeting_id or self.outcome or self.lead_agency or self.single_agency_name:
            raise ValueError("only an imm_outcome names a meeting, outcome or lead agency")
        elif self.consent_basis or self.actions or self.dissent:
            raise ValueError("only an imm_outcome records consent, actions or dissent")
        if self.role is Role.SERVICE:
            raise ValueError("a decision event is a person's: a coordinator's or a manager's")
        if self.action is DecisionAction.CHANGE and self.level is None and self.rag is None:
            raise ValueError("a change needs a new level or RAG")
        if self.action is DecisionAction.CONFIRM and (self.level is None or self.rag is None):
            raise ValueError("a confirm names the level and RAG confirmed")
        levelled = (DecisionAction.CHANGE, DecisionAction.CONFIRM)
        if self.action not in levelled and (self.level is not None or self.rag is not None):
            raise ValueError("only a confirm or a change sets a level or RAG")
        if (self.action is DecisionAction.SIGN_OFF) != (self.signs_off is not None):
            raise ValueError("signs_off is given with, and only with, a sign_off")
        if (
            self.action in (DecisionAction.SIGN_OFF, DecisionAction.RESCREEN)
            and self.role is not Role.MANAGER
        ):
            raise ValueError(f"only a manager may {self.action.value.replace('_', ' ')}")
        if (self.action is DecisionAction.RESCREEN) != (self.ruleset_version is not None):
            raise ValueError("ruleset_version is given with, and only with, a rescreen")
        return self

    def _check_imm(self) -> None:
        if self.meeting_id is None or self.outcome is None or self.lead_agency is None:
            raise ValueError("an imm_outcome needs the meeting_id, the outcome and the lead agency")
        if (self.outcome is ImmOutcome.SINGLE_AGENCY) != (self.single_agency_name is not None):
            raise ValueError("single_agency_name is given with, and only with, a single_agency outcome")
        if self.outcome in NEEDS_CONSENT and self.consent_basis in (None, ConsentBasis.NOT_REQUIRED):
            raise ValueError(
                f"a {self.outcome.value} outcome needs the family's consent, or the reason to proceed "
                "without it"
            )
        if isinstance(self.dissent, str) and not self.dissent.strip():
            raise ValueError("dissent, when given, may not be blank")

    def sealed(self, seal: Seal) -> DecisionEvent:
        """The event as Kafka holds it: every piece of free text a person typed sealed under the
        data key of its contact, the decision id and the field bound in (`<decision_id>/rationale`,
        `.../dissent`, `.../single_agency_name`, `.../actions/<n>/what`, `.../actions/<n>/owner`),
        so a sealed text cannot be moved to another decision or field."""

        def sealed(field: str, text: str | Sealed) -> Sealed:
            return seal_text(seal, self.contact_id, f"{self.decision_id}/{field}", text)

        update: dict[str, object] = {"rationale": sealed("rationale", self.rationale)}
        if self.dissent is not None:
            update["dissent"] = sealed("dissent", self.dissent)
        if self.single_agency_name is not None:
            update["single_agency_name"] = sealed("single_agency_name", self.single_agency_name)
        if self.actions:
            update["actions"] = [
                a.sealed(seal, self.contact_id, f"{self.decision_id}/actions/{n}")
                for n, a in enumerate(self.actions)
            ]
        return self.model_copy(update=update)

    def imm_details(self) -> ImmDetails | None:
        """What an imm_outcome agreed, as the timeline and the trail keep it; None for other actions."""
        if self.action is not DecisionAction.IMM_OUTCOME:
            return None
        assert self.meeting_id is not None
        assert self.outcome is not None
        assert self.lead_agency is not None
        return ImmDetails(
            meeting_id=self.meeting_id,
            outcome=self.outcome,
            lead_agency=self.lead_agency,
            single_agency_name=self.single_agency_name,
            consent_basis=self.consent_basis,
            actions=tuple(self.actions),
            dissent=self.dissent,
        )


class ContactReference(BaseModel):
    """A contact as its partner named it: the agency, the agency's own reference for the
    submission, and which child of the submission (from 0)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    agency: Annotated[str, Field(min_length=1, max_length=64)]
    agency_reference: Annotated[str, Field(min_length=1, max_length=100)]
    child: Annotated[int, Field(ge=0, lt=MAX_CHILDREN)]


class RecordedImmAction(BaseModel):
    """An agreed action as a `mash replay` file records it: text as typed (sealed when replayed)."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    what: Annotated[str, Field(min_length=1, max_length=1000)]
    owner: AgencyName
    due: date


# What a history file may record: a rescreen needs the service's own ruleset versions, and
# is made in the console.
RecordedAction = Literal["confirm", "change", "sign_off", "imm_outcome"]


class RecordedDecision(BaseModel):
    """A decision as a `mash replay` file records it (`{"kind": "decision", "decision": ...}`):
    its contact by the partner's identifiers and itself by a reference of its own, where the
    event on `mash.decisions.v1` carries the service's keyed ids
    (`mash.domain.submissions.decision_event`). The other fields are the event's."""

    model_config = ConfigDict(extra="forbid", frozen=True, title="RecordedDecisionV1")

    contact: ContactReference
    reference: Annotated[str, Field(min_length=1, max_length=100)] = Field(
        description="the decision's own id in the file; another line's signs_off names it"
    )
    action: RecordedAction
    decided_at: AwareDatetime
    by: Annotated[str, Field(min_length=1, max_length=100)]
    role: Role
    level: Level | None = None
    rag: Rag | None = None
    rationale: Annotated[str, Field(min_length=1, max_length=5000)]
    signs_off: Annotated[str, Field(min_length=1, max_length=100)] | None = Field(
        None, description="sign_off only: the reference of the decision being approved"
    )
    meeting_id: Annotated[str, Field(pattern=MEETING_ID_PATTERN)] | None = None
    outcome: ImmOutcome | None = None
    lead_agency: PartnerAgency | None = None
    single_agency_name: AgencyName | None = None
    consent_basis: ConsentBasis | None = None
    actions: list[RecordedImmAction] = Field(default_factory=list)
    dissent: Text | None = None
