"""`mash simulate`: synthetic contacts, decisions and outcomes that look like a council's front door.

Each test states one promise of the generator in `mash/simulate/`. The configs are small so
the file runs in seconds; the shares checked are the national figures in
`docs/domain-primer.md` that the generator is built to follow. What the service makes of a
file is worked out with the worker's own functions (tests/support/replayed.py), as `mash
replay` and the worker would.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import replace
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest

from mash.domain.calendar import DEFAULT_CALENDAR, is_working_time
from mash.domain.case import CaseRecord, DecidedBy, Referral
from mash.domain.contact import Child, ContactSubmission, submission_problems
from mash.domain.decisions import DecisionAction, RecordedDecision
from mash.domain.figures import ContactFact, PlanFact, figures
from mash.domain.identity import child_identity, contact_id
from mash.domain.nhs import nhs_number_problem
from mash.domain.outcomes import OutcomeSubmission
from mash.domain.ruleset import Route, load_ruleset
from mash.domain.submissions import decision_event, split_submission
from mash.intake.agencies import DEMO_AGENCIES
from mash.simulate import SimulationConfig, simulate, write_jsonl
from mash.simulate.catalogue import INDICATORS, POLICE, SOURCES
from tests.support.replayed import DEFAULT_SOURCES, SECRET, Replayed, replayed

RULESET = load_ruleset()
DEMO_IDS = {agency_id for agency_id, *_ in DEMO_AGENCIES}
DOMESTIC_ABUSE = {"domestic_abuse_in_home", "domestic_abuse_marac"}
LONDON = DEFAULT_CALENDAR.zone

# One year for a pool of 2,000 children at one contact per child a year: big enough for the
# shares to settle, small enough to generate in a fraction of a second.
YEAR = SimulationConfig(seed=7, children=2000, days=365, start=date(2025, 4, 1), contacts_per_day=5.5)
SHORT = SimulationConfig(seed=3, children=200, days=45, start=date(2026, 3, 1), contacts_per_day=4)
Line = dict[str, Any]


@pytest.fixture(scope="module")
def year() -> list[Line]:
    return list(simulate(YEAR))


@pytest.fixture(scope="module")
def service(year: list[Line]) -> Replayed:
    """What the service makes of the year: its case records and plans."""
    return replayed(year)


@pytest.fixture(scope="module")
def year_figures(service: Replayed) -> dict[str, Any]:
    """`mash report` for the year, a month after it ended."""
    facts = [ContactFact.of(r) for r in service.records.values()]
    plans = [PlanFact.of(p) for p in service.plans.values()]
    end = YEAR.start + timedelta(days=YEAR.days - 1)
    return figures(facts, plans, YEAR.start, end, YEAR.end_at + timedelta(days=30))


def contacts(lines: list[Line]) -> list[dict[str, Any]]:
    return [line["submission"] for line in lines if line["kind"] == "contact"]


def events(lines: list[Line]) -> list[dict[str, Any]]:
    return [line["event"] for line in lines if line["kind"] == "outcome"]


def decisions(lines: list[Line]) -> list[dict[str, Any]]:
    return [line["decision"] for line in lines if line["kind"] == "decision"]


def stamp(line: Line) -> str:
    if line["kind"] == "contact":
        return str(line["submission"]["received_at"])
    if line["kind"] == "outcome":
        return str(line["event"]["occurred_at"])
    return str(line["decision"]["decided_at"])


def when(text: str) -> datetime:
    return datetime.fromisoformat(text)


def children_named(submissions: list[dict[str, Any]], source: str | None = None) -> int:
    return sum(len(s["children"]) for s in submissions if source is None or s["source"] == source)


def received_contacts(lines: list[Line]) -> dict[tuple[str, str, int], tuple[datetime, dict[str, Any]]]:
    """Each contact by the identifiers a decision names it with: its receipt and submission."""
    return {
        (line["agency"], s["agency_reference"], i): (when(s["received_at"]), s)
        for line in lines
        if line["kind"] == "contact"
        for s in [line["submission"]]
        for i in range(len(s["children"]))
    }


def contact_of(decision: dict[str, Any]) -> tuple[str, str, int]:
    c = decision["contact"]
    return (c["agency"], c["agency_reference"], c["child"])


def record_of(decision: dict[str, Any], service: Replayed) -> CaseRecord:
    """The service's record of the contact a decision names (by the id the intake gave it)."""
    return service.records[contact_id(SECRET, *contact_of(decision))]


# --- the file ---------------------------------------------------------------------------------------


def test_the_same_seed_gives_the_same_file(tmp_path: Path) -> None:
    first, second = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    count = write_jsonl(SHORT, first)
    assert write_jsonl(SHORT, second) == count > 0
    assert first.read_bytes() == second.read_bytes()
    assert [json.loads(text) for text in first.read_text().splitlines()] == list(simulate(SHORT))


def test_a_different_seed_gives_different_lines() -> None:
    assert list(simulate(replace(SHORT, seed=SHORT.seed + 1))) != list(simulate(SHORT))


def test_every_line_validates_against_the_service_contracts(year: list[Line]) -> None:
    contacts: set[str] = set()
    for line in year:
        if line["kind"] == "contact":
            assert set(line) == {"kind", "agency", "submission"}
            assert line["agency"] in DEMO_IDS - {"case-system"}
            submission = ContactSubmission.model_validate(line["submission"])
            assert submission.received_at is not None
            # The checks the intake makes with the clock and the ruleset: indicator codes are
            # in the default catalogue, no date of birth after the contact.
            problems = submission_problems(
                submission,
                received_at=submission.received_at,
                now=YEAR.end_at,
                known_indicators=RULESET.codes,
                catalogue_source="the default ruleset",
            )
            assert problems == []
            for event in split_submission(
                SECRET, line["agency"], DEFAULT_SOURCES[line["agency"]], submission, YEAR.end_at, YEAR.end_at
            ):
                contacts.add(event.contact_id)
        elif line["kind"] == "outcome":
            assert set(line) == {"kind", "agency", "event"}
            assert line["agency"] == "case-system"
            OutcomeSubmission.model_validate(line["event"])
        else:
            # A decision names its contact as the partner did, and becomes the event
            # `mash replay` writes, checked as the console's decisions are.
            assert set(line) == {"kind", "decision"}
            decision_event(SECRET, RecordedDecision.model_validate(line["decision"]), contacts)


def test_each_source_posts_as_its_demo_agency(year: list[Line]) -> None:
    agency_of = {line["submission"]["source"]: line["agency"] for line in year if line["kind"] == "contact"}
    assert agency_of["6"] == "police"
    assert agency_of["2A"] == "school"
    assert {agency_of[code] for code in ("3A", "3B", "3C", "3D", "3E", "3F")} == {"health"}
    assert agency_of["5D"] == "early-help"
    # Every line of one source comes from one agency, so the source code means what it says.
    pairs = {(line["submission"]["source"], line["agency"]) for line in year if line["kind"] == "contact"}
    assert len(pairs) == len(agency_of)


def test_the_indicator_table_follows_the_default_ruleset() -> None:
    catalogue = RULESET.catalogue
    for code, (level, *_) in INDICATORS.items():
        assert catalogue[code].level == level, code
    for source in (*SOURCES, POLICE):
        for level, codes in zip((2, 3, 4), source.indicators, strict=True):
            assert {catalogue[code].level for code in codes} == {level}, source.code


def test_lines_are_in_event_time_order_inside_the_window(year: list[Line]) -> None:
    assert all(stamp(line).endswith("Z") for line in year)
    times = [when(stamp(line)) for line in year]
    assert times == sorted(times)
    assert YEAR.start_at <= times[0]
    assert times[-1] < YEAR.end_at


def test_references_are_unique(year: list[Line]) -> None:
    references = [s["agency_reference"] for s in contacts(year)]
    assert len(set(references)) == len(references)
    assert all(ref.startswith(f"SIM-{YEAR.seed}-") for ref in references)
    outcomes = [e["reference"] for e in events(year)]
    assert len(set(outcomes)) == len(outcomes) > 0
    made = [d["reference"] for d in decisions(year)]
    assert len(set(made)) == len(made) > 0
    assert not set(made) & set(outcomes)


# --- the partners -------------------------------------------------------------------------------------


def test_police_make_about_a_quarter_of_contacts(year: list[Line]) -> None:
    submissions = contacts(year)
    # A contact is one child: a notification naming three children is three contacts.
    assert 0.2 <= children_named(submissions, "6") / children_named(submissions) <= 0.3


def test_police_domestic_abuse_notifications_arrive_in_bursts(year: list[Line]) -> None:
    by_day: defaultdict[date, list[datetime]] = defaultdict(list)
    for s in contacts(year):
        if s["source"] == "6" and DOMESTIC_ABUSE.intersection(s["indicators"]):
            received = when(s["received_at"])
            by_day[received.date()].extend([received] * len(s["children"]))

    def most_in_half_an_hour(times: list[datetime]) -> int:
        times = sorted(times)
        return max(
            sum(1 for later in times[i:] if later - first <= timedelta(minutes=30))
            for i, first in enumerate(times)
        )

    bursts = [day for day, times in by_day.items() if most_in_half_an_hour(times) >= 5]
    assert len(bursts) >= 3
    assert len(bursts) < YEAR.days / 10  # on some days, not every day


def test_no_two_contacts_about_one_child_arrive_at_the_same_instant(year: list[Line]) -> None:
    # Their order, and so which is the referral, would be left to chance.
    instants = Counter(
        (child_identity(Child.model_validate(child)), s["received_at"])
        for s in contacts(year)
        for child in s["children"]
    )
    assert max(instants.values()) == 1


def test_office_sources_keep_office_hours_and_police_do_not(year: list[Line]) -> None:
    def in_hours(source: str) -> float:
        times = [when(s["received_at"]) for s in contacts(year) if s["source"] == source]
        return sum(is_working_time(t, DEFAULT_CALENDAR) for t in times) / len(times)

    assert in_hours("2A") > 0.75
    assert in_hours("6") < 0.5


def test_children_come_back(year: list[Line]) -> None:
    seen = Counter(
        child_identity(Child.model_validate(child)) for s in contacts(year) for child in s["children"]
    )
    assert sum(1 for count in seen.values() if count >= 3) >= 50
    # Outcomes name the child exactly as the contacts did, so the service joins them.
    for event in events(year):
        assert child_identity(Child.model_validate(event["child"])) in seen


def test_some_submissions_name_siblings(year: list[Line]) -> None:
    families = [s["children"] for s in contacts(year) if len(s["children"]) > 1]
    assert len(families) >= 20
    for children in families:
        assert 2 <= len(children) <= 3
        assert len({c["family_name"] for c in children}) == 1
        assert len({child_identity(Child.model_validate(c)) for c in children}) == len(children)


def test_children_are_fictional_with_valid_nhs_numbers_for_most(year: list[Line]) -> None:
    born = {
        child_identity(Child.model_validate(c)): c
        for s in contacts(year)
        for c in s["children"]
        if not c.get("unborn")
    }
    numbers = [c["nhs_number"] for c in born.values() if "nhs_number" in c]
    assert all(nhs_number_problem(n) is None for n in numbers)
    # The 999 range is reserved for test data, so no number can be a real child's.
    assert all(n.startswith("999") for n in numbers)
    assert 0.7 <= len(numbers) / len(born) <= 0.9


def test_children_are_under_18_and_a_few_are_unborn(year: list[Line]) -> None:
    unborn = 0
    for s in contacts(year):
        received = when(s["received_at"]).date()
        for child in s["children"]:
            if child.get("unborn"):
                unborn += 1
                assert date.fromisoformat(child["expected_date"]) > received
                assert "nhs_number" not in child
            else:
                born = date.fromisoformat(child["date_of_birth"])
                assert born <= received
                assert born > received.replace(year=received.year - 18)
    assert 0 < unborn < 0.05 * children_named(contacts(year))


def test_consent_is_mostly_given_and_otherwise_mostly_has_a_reason(year: list[Line]) -> None:
    consents = [(s["consent"], {RULESET.catalogue[c].level for c in s["indicators"]}) for s in contacts(year)]
    assert sum(c["status"] == "given" for c, _ in consents) / len(consents) > 0.7
    at_level_4 = [c for c, levels in consents if 4 in levels]
    assert (
        sum(c == {"status": "not_sought", "reason": "significant_harm"} for c in at_level_4)
        > len(at_level_4) / 3
    )
    below = [c for c, levels in consents if max(levels) in (2, 3) and c["status"] != "given"]
    assert {c["status"] for c in below} == {"refused", "not_sought"}
    # Now and then a partner records no reason: accepted, and flagged as data quality.
    missing = sum("reason" not in c for c in below)
    assert 0 < missing < 0.2 * len(below)


def test_a_few_referrers_cannot_be_called_back_and_are_flagged(
    year: list[Line], year_figures: dict[str, Any]
) -> None:
    unreachable = [s for s in contacts(year) if not {"phone", "email"} & set(s["referrer"])]
    assert all(s["source"] in ("1A", "1B", "1C", "1D", "9") for s in unreachable)
    assert 0 < children_named(unreachable) < 0.05 * children_named(contacts(year))
    assert year_figures["data_quality"]["referrer_unreachable"] == children_named(unreachable)
    assert year_figures["data_quality"]["consent_basis_missing"] > 0


# --- the people ------------------------------------------------------------------------------------------


def test_every_decision_comes_after_its_contact_in_the_file_and_in_time(year: list[Line]) -> None:
    received: dict[tuple[str, str, int], datetime] = {}
    for line in year:
        if line["kind"] == "contact":
            s = line["submission"]
            for i in range(len(s["children"])):
                received[(line["agency"], s["agency_reference"], i)] = when(s["received_at"])
        elif line["kind"] == "decision":
            decision = line["decision"]
            assert contact_of(decision) in received, "a decision after its contact's line"
            assert when(decision["decided_at"]) > received[contact_of(decision)]


def test_people_decide_in_working_hours_except_red_contacts_which_are_worked_out_of_hours(
    year: list[Line], service: Replayed
) -> None:
    red: list[tuple[datetime, datetime]] = []
    for decision in decisions(year):
        record = record_of(decision, service)
        decided = when(decision["decided_at"])
        if record.recommendation.rag.value == "red":
            red.append((record.received_at, decided))
        else:
            assert is_working_time(decided, DEFAULT_CALENDAR), decision["reference"]
    out_of_hours = [(at, decided) for at, decided in red if not is_working_time(at, DEFAULT_CALENDAR)]
    assert out_of_hours, "red contacts received out of hours"
    within = sum(decided - at <= timedelta(hours=4) for at, decided in out_of_hours)
    assert within / len(out_of_hours) > 0.85, "decided within the 4 clock hours, out of hours too"
    assert any(not is_working_time(decided, DEFAULT_CALENDAR) for _, decided in out_of_hours)


def test_most_contacts_are_decided_within_their_rag_target_and_a_few_late(
    service: Replayed, year_figures: dict[str, Any]
) -> None:
    decided = [r for r in service.records.values() if r.decided_by in (DecidedBy.COORDINATOR, DecidedBy.IMM)]
    for rag in ("red", "amber", "green"):
        mine = [r for r in decided if r.recommendation.rag.value == rag]
        on_time = sum(bool(r.decided_at and r.due_at and r.decided_at <= r.due_at) for r in mine)
        assert 0.85 <= on_time / len(mine) < 1, f"{rag}: mostly on time, a few late (late_share)"
    assert 0.88 <= year_figures["decided_within_target_rate"] <= 0.98
    # Most are decided by the next working day, though green may take three.
    assert year_figures["decided_within_1_working_day_rate"] > 0.6


def test_a_few_contacts_are_still_waiting_at_the_end_of_the_run(year_figures: dict[str, Any]) -> None:
    waiting = year_figures["awaiting_decision"]
    assert 0 < waiting < 0.02 * year_figures["contacts"]
    # Those past their due time count as missed, and show in the end-of-period queue.
    assert 0 < year_figures["undecided_past_due"] <= waiting
    assert sum(year_figures["waiting_past_due_at_end"].values()) > 0


def test_the_service_alone_decides_information_only_contacts_about_children_with_no_history(
    year: list[Line], service: Replayed
) -> None:
    by_service = [r for r in service.records.values() if r.decided_by is DecidedBy.SERVICE]
    assert 0.05 < len(by_service) / len(service.records) < 0.25
    assert {r.recommendation.level for r in by_service} == {1}
    decided = {record_of(d, service).contact_id for d in decisions(year)}
    assert not decided & {r.contact_id for r in by_service}, "nobody decides them again"
    # Every other contact waits for a person, and nearly all are decided by one.
    people = [r for r in service.records.values() if r.decided_by is not DecidedBy.SERVICE]
    assert sum(r.contact_id in decided for r in people) / len(people) > 0.98


def test_most_coordinators_confirm_the_recommendation_and_some_change_it_by_one_level(
    year: list[Line], service: Replayed
) -> None:
    made = decisions(year)
    actions = Counter(d["action"] for d in made)
    by_coordinators = actions["confirm"] + actions["change"]
    assert 0.8 < actions["confirm"] / by_coordinators < 0.95
    assert actions["imm_outcome"] > 0
    for record in service.records.values():
        for step in record.trail:
            if step.action is DecisionAction.CONFIRM:
                # A confirm names what the coordinator saw: the recommendation.
                assert (step.to_level, step.to_rag) == (
                    record.recommendation.level,
                    record.recommendation.rag,
                )
            elif step.action is DecisionAction.CHANGE:
                assert abs(step.to_level - step.from_level) == 1
                assert step.to_rag is RULESET.rag[step.to_level]
    raised = sum(d["level"] > 1 for d in made if d["action"] == "change")
    assert 0 < raised < actions["change"], "some raised, some lowered"


def test_lowering_a_level_4_waits_for_a_managers_sign_off_a_little_later(
    year: list[Line], service: Replayed
) -> None:
    made = decisions(year)
    by_reference = {d["reference"]: d for d in made}
    sign_offs = [d for d in made if d["action"] == "sign_off"]
    assert sign_offs
    for sign_off in sign_offs:
        change = by_reference[sign_off["signs_off"]]
        assert (change["action"], change["role"], change["level"]) == ("change", "coordinator", 3)
        assert sign_off["role"] == "manager"
        assert contact_of(sign_off) == contact_of(change)
        assert timedelta(0) < when(sign_off["decided_at"]) - when(change["decided_at"]) <= timedelta(hours=2)
    signed = [r for r in service.records.values() if any(s.status == "signed_off" for s in r.trail)]
    assert len(signed) == len(sign_offs)
    assert all(r.level == 3 and r.decided_at == r.trail[-1].at for r in signed)


def test_the_meeting_decides_some_level_2_and_3_contacts_when_it_meets(
    year: list[Line], service: Replayed
) -> None:
    received = received_contacts(year)
    at_meetings = [d for d in decisions(year) if d["action"] == "imm_outcome"]
    assert 0.05 < len(at_meetings) / len(decisions(year)) < 0.25
    for d in at_meetings:
        at = when(d["decided_at"]).astimezone(LONDON)
        assert d["meeting_id"] == f"imm-{at.date().isoformat()}"
        assert DEFAULT_CALENDAR.is_working_day(at.date())
        assert time(12, 30) <= at.time() < time(13, 0)
        # The first meeting whose agenda (frozen at 11:30) could list the contact.
        got = received[contact_of(d)][0].astimezone(LONDON)
        assert got < datetime.combine(at.date(), time(11, 30), tzinfo=LONDON)
        assert at - got < timedelta(days=5)
    decided_at_meetings = [r for r in service.records.values() if r.decided_by is DecidedBy.IMM]
    assert len(decided_at_meetings) == len(at_meetings)
    assert {r.recommendation.level for r in decided_at_meetings} == {2, 3}
    assert {r.route for r in decided_at_meetings} >= {Route.SOCIAL_CARE, Route.EARLY_HELP}


# --- what the service makes of it -----------------------------------------------------------------------


def test_about_a_fifth_of_contacts_become_referrals_and_a_quarter_reach_social_care(
    service: Replayed, year_figures: dict[str, Any]
) -> None:
    records = list(service.records.values())
    # Referrals come from people's decisions: national conversion is about 22%.
    assert 0.18 <= year_figures["conversion_rate"] <= 0.26
    social_care = sum(r.route is Route.SOCIAL_CARE for r in records) / len(records)
    assert 0.2 <= social_care <= 0.3
    # Contacts about a child whose case is open are linked to it, not new referrals.
    assert year_figures["linked_to_open_case"] > 0
    assert year_figures["re_referrals"] > 0
    closed = [r.nfa for r in records if r.referral is Referral.REFERRAL and r.nfa is not None]
    assert 0.3 <= sum(closed) / len(closed) <= 0.55


def test_the_case_system_follows_peoples_decisions(year: list[Line], service: Replayed) -> None:
    """Every case the case system closes was opened by a referral a person decided, weeks before."""
    closures = [e for e in events(year) if e["type"] == "case_closed"]
    referrals = [r for r in service.records.values() if r.referral is Referral.REFERRAL]
    closed = [r for r in referrals if r.case_closed_at is not None]
    assert len(closed) == len(closures) > 0
    for r in closed:
        assert r.decided_at is not None
        assert r.decided_by in (DecidedBy.COORDINATOR, DecidedBy.IMM)
        assert r.case_closed_at is not None
        assert r.case_closed_at - r.decided_at >= timedelta(days=6)
    # A plan starts while the case a referral opened is open: no plan opens a case of its own.
    assert service.plans
    for plan in service.plans.values():
        assert any(
            r.child_key == plan.child_key
            and r.decided_at is not None
            and r.decided_at < plan.started_at
            and (r.case_closed_at is None or plan.started_at < r.case_closed_at)
            for r in referrals
        )


def test_plans_name_their_plan_start_after_a_referral_and_end_months_later(year: list[Line]) -> None:
    started: dict[str, tuple[str, datetime]] = {}
    lengths: list[timedelta] = []
    children_on_plans: set[str] = set()
    for event in events(year):
        child = child_identity(Child.model_validate(event["child"]))
        at = when(event["occurred_at"])
        if event["type"] == "cp_plan_started":
            assert event["plan_id"] not in started
            assert child not in children_on_plans
            started[event["plan_id"]] = (child, at)
            children_on_plans.add(child)
        elif event["type"] == "cp_plan_ended":
            plan_child, began = started[event["plan_id"]]
            assert plan_child == child
            lengths.append(at - began)
            children_on_plans.discard(child)
        else:
            assert event["type"] == "case_closed"
            assert "plan_id" not in event
            assert child not in children_on_plans  # a case with a plan closes only after the plan ends
    assert len(started) >= 10
    assert lengths  # most plans outlast a one-year run, but not all
    assert min(lengths) > timedelta(days=89)  # three months, give or take the time of day
