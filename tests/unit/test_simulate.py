"""`mash simulate`: synthetic contacts and outcomes that look like a council's front door.

Each test states one promise of the generator in `mash/simulate.py`. The configs are small so
the file runs in a few seconds; the shares checked are the national figures in
`docs/domain-primer.md` that the generator is built to follow.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from mash.domain.calendar import DEFAULT_CALENDAR, is_working_time
from mash.domain.case import CaseRecord, Referral
from mash.domain.contact import Child, ContactSubmission, submission_problems
from mash.domain.derive import derive
from mash.domain.identity import child_identity
from mash.domain.nhs import nhs_number_problem
from mash.domain.outcomes import OutcomeSubmission
from mash.domain.ruleset import Route, load_ruleset
from mash.domain.timeline import ChildTimeline, ContactEntry, Entry, OutcomeEntry, order
from mash.intake.agencies import DEMO_AGENCIES
from mash.simulate import (
    INDICATORS,
    POLICE,
    SOURCES,
    PostError,
    SimulationConfig,
    post_to_service,
    simulate,
    write_jsonl,
)

RULESET = load_ruleset()
DEMO_IDS = {agency_id for agency_id, *_ in DEMO_AGENCIES}
DOMESTIC_ABUSE = {"domestic_abuse_in_home", "domestic_abuse_marac"}

# One year for a pool of 2,000 children at one contact per child a year: big enough for the
# shares to settle, small enough to generate in a fraction of a second.
YEAR = SimulationConfig(seed=7, children=2000, days=365, start=date(2025, 4, 1), contacts_per_day=5.5)
SHORT = SimulationConfig(seed=3, children=200, days=45, start=date(2026, 3, 1), contacts_per_day=4)


@pytest.fixture(scope="module")
def year() -> list[dict[str, Any]]:
    return list(simulate(YEAR))


def contacts(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [line["submission"] for line in lines if line["kind"] == "contact"]


def events(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [line["event"] for line in lines if line["kind"] == "outcome"]


def stamp(line: dict[str, Any]) -> str:
    return str(
        line["submission"]["received_at"] if line["kind"] == "contact" else line["event"]["occurred_at"]
    )


def children_named(submissions: list[dict[str, Any]], source: str | None = None) -> int:
    return sum(len(s["children"]) for s in submissions if source is None or s["source"] == source)


def test_the_same_seed_gives_the_same_file(tmp_path: Path) -> None:
    first, second = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    count = write_jsonl(SHORT, first)
    assert write_jsonl(SHORT, second) == count > 0
    assert first.read_bytes() == second.read_bytes()
    assert [json.loads(text) for text in first.read_text().splitlines()] == list(simulate(SHORT))


def test_a_different_seed_gives_different_lines() -> None:
    assert list(simulate(replace(SHORT, seed=SHORT.seed + 1))) != list(simulate(SHORT))


def test_every_line_validates_against_the_service_contracts(year: list[dict[str, Any]]) -> None:
    for line in year:
        assert set(line) == {"kind", "agency", "submission" if line["kind"] == "contact" else "event"}
        if line["kind"] == "contact":
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
        else:
            assert line["kind"] == "outcome"
            assert line["agency"] == "case-system"
            OutcomeSubmission.model_validate(line["event"])


def test_each_source_posts_as_its_demo_agency(year: list[dict[str, Any]]) -> None:
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


def test_lines_are_in_event_time_order_inside_the_window(year: list[dict[str, Any]]) -> None:
    assert all(stamp(line).endswith("Z") for line in year)
    times = [datetime.fromisoformat(stamp(line)) for line in year]
    assert times == sorted(times)
    assert YEAR.start_at <= times[0]
    assert times[-1] < YEAR.end_at


def test_police_make_about_a_quarter_of_contacts(year: list[dict[str, Any]]) -> None:
    submissions = contacts(year)
    # A contact is one child: a notification naming three children is three contacts.
    assert 0.2 <= children_named(submissions, "6") / children_named(submissions) <= 0.3


def test_police_domestic_abuse_notifications_arrive_in_bursts(year: list[dict[str, Any]]) -> None:
    by_day: defaultdict[date, list[datetime]] = defaultdict(list)
    for s in contacts(year):
        if s["source"] == "6" and DOMESTIC_ABUSE.intersection(s["indicators"]):
            received = datetime.fromisoformat(s["received_at"])
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


def test_office_sources_keep_office_hours_and_police_do_not(year: list[dict[str, Any]]) -> None:
    def in_hours(source: str) -> float:
        times = [datetime.fromisoformat(s["received_at"]) for s in contacts(year) if s["source"] == source]
        return sum(is_working_time(t, DEFAULT_CALENDAR) for t in times) / len(times)

    assert in_hours("2A") > 0.75
    assert in_hours("6") < 0.5


def test_children_come_back(year: list[dict[str, Any]]) -> None:
    seen = Counter(
        child_identity(Child.model_validate(child)) for s in contacts(year) for child in s["children"]
    )
    assert sum(1 for count in seen.values() if count >= 3) >= 50
    # Outcomes name the child exactly as the contacts did, so the service joins them.
    for event in events(year):
        assert child_identity(Child.model_validate(event["child"])) in seen


def test_some_submissions_name_siblings(year: list[dict[str, Any]]) -> None:
    families = [s["children"] for s in contacts(year) if len(s["children"]) > 1]
    assert len(families) >= 20
    for children in families:
        assert 2 <= len(children) <= 3
        assert len({c["family_name"] for c in children}) == 1
        assert len({child_identity(Child.model_validate(c)) for c in children}) == len(children)


def test_children_are_fictional_with_valid_nhs_numbers_for_most(year: list[dict[str, Any]]) -> None:
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


def test_children_are_under_18_and_a_few_are_unborn(year: list[dict[str, Any]]) -> None:
    unborn = 0
    for s in contacts(year):
        received = datetime.fromisoformat(s["received_at"]).date()
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


def test_references_are_unique(year: list[dict[str, Any]]) -> None:
    references = [s["agency_reference"] for s in contacts(year)]
    assert len(set(references)) == len(references)
    assert all(ref.startswith(f"SIM-{YEAR.seed}-") for ref in references)
    outcomes = [e["reference"] for e in events(year)]
    assert len(set(outcomes)) == len(outcomes) > 0


def test_consent_is_mostly_given_and_otherwise_has_a_reason(year: list[dict[str, Any]]) -> None:
    consents = [(s["consent"], {RULESET.catalogue[c].level for c in s["indicators"]}) for s in contacts(year)]
    assert sum(c["status"] == "given" for c, _ in consents) / len(consents) > 0.7
    at_level_4 = [c for c, levels in consents if 4 in levels]
    assert (
        sum(c == {"status": "not_sought", "reason": "significant_harm"} for c in at_level_4)
        > len(at_level_4) / 3
    )
    below = [c for c, levels in consents if max(levels) in (2, 3) and c["status"] != "given"]
    assert {c["status"] for c in below} == {"refused", "not_sought"}


def screened_as_the_service_would(lines: list[dict[str, Any]]) -> list[CaseRecord]:
    """Runs the lines through the service's own decision function, child by child."""
    timelines: defaultdict[str, list[Entry]] = defaultdict(list)
    for i, line in enumerate(lines):
        if line["kind"] == "contact":
            s = ContactSubmission.model_validate(line["submission"])
            assert s.received_at is not None
            assert s.source is not None
            for j, child in enumerate(s.children):
                timelines[child_identity(child)].append(
                    ContactEntry(
                        id=f"c{i}-{j}",
                        at=s.received_at,
                        accepted_at=s.received_at,
                        agency=line["agency"],
                        source=s.source,
                        indicators=tuple(s.indicators),
                        consent_status=s.consent.status,
                        consent_reason=s.consent.reason,
                        children_in_submission=len(s.children),
                    )
                )
        else:
            e = OutcomeSubmission.model_validate(line["event"])
            timelines[child_identity(e.child)].append(
                OutcomeEntry(id=f"o{i}", at=e.occurred_at, type=e.type, nfa=e.nfa)
            )
    records: list[CaseRecord] = []
    for key, entries in timelines.items():
        timeline = ChildTimeline(entries=tuple(sorted(entries, key=order)))
        records.extend(derive(key, timeline, RULESET).records.values())
    return records


def test_about_a_quarter_of_contacts_reach_social_care(year: list[dict[str, Any]]) -> None:
    records = screened_as_the_service_would(year)
    social_care = sum(r.route is Route.SOCIAL_CARE for r in records) / len(records)
    assert 0.2 <= social_care <= 0.3
    # Repeat contacts about a child whose case is open are linked to it, not new referrals.
    assert any(r.referral is Referral.LINKED_TO_OPEN_CASE for r in records)
    assert any(r.re_referral for r in records)
    closed = [r.nfa for r in records if r.nfa is not None]
    assert 0.3 <= sum(closed) / len(closed) <= 0.55


def test_plans_start_after_a_referral_and_end_months_later(year: list[dict[str, Any]]) -> None:
    started: dict[str, datetime] = {}
    lengths: list[timedelta] = []
    for event in events(year):
        child = child_identity(Child.model_validate(event["child"]))
        when = datetime.fromisoformat(event["occurred_at"])
        if event["type"] == "cp_plan_started":
            assert child not in started
            started[child] = when
        elif event["type"] == "cp_plan_ended":
            lengths.append(when - started.pop(child))
        else:
            assert event["type"] == "case_closed"
            assert child not in started  # a case with a plan closes only after the plan ends
    plans = sum(event["type"] == "cp_plan_started" for event in events(year))
    assert plans >= 10
    assert lengths  # most plans outlast a one-year run, but not all
    assert min(lengths) > timedelta(days=89)  # three months, give or take the time of day


@pytest.mark.timeout(30)
async def test_post_to_service_sends_each_line_with_its_agency_key_and_retries_503() -> None:
    keys = {agency_id: f"key-{agency_id}" for agency_id in DEMO_IDS}
    lines = list(simulate(SHORT))
    seen: list[tuple[str, str, dict[str, Any]]] = []
    busy_once: set[str] = set()

    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        reference = body.get("agency_reference") or body["reference"]
        if reference not in busy_once and len(busy_once) < 3:
            busy_once.add(reference)
            return httpx.Response(503, headers={"Retry-After": "0"}, json={"detail": "busy"})
        seen.append((request.url.path, request.headers["Authorization"], body))
        return httpx.Response(202, json={})

    posted = await post_to_service(
        SHORT, "http://intake.test/", keys, rate_per_s=5000, transport=httpx.MockTransport(handler)
    )
    assert posted == len(lines) == len(seen)
    expected = sorted(
        (
            "/v1/contacts" if line["kind"] == "contact" else "/v1/outcomes",
            f"Bearer key-{line['agency']}",
            json.dumps(line.get("submission") or line["event"], sort_keys=True),
        )
        for line in lines
    )
    assert sorted((p, a, json.dumps(b, sort_keys=True)) for p, a, b in seen) == expected
    assert {p for p, _, _ in seen} == {"/v1/contacts", "/v1/outcomes"}


async def test_post_to_service_skips_refused_lines_and_stops_on_a_bad_key() -> None:
    keys = {agency_id: f"key-{agency_id}" for agency_id in DEMO_IDS}
    refused: list[int] = []

    def unprocessable(request: httpx.Request) -> httpx.Response:
        return httpx.Response(422, json={"detail": "no"})

    posted = await post_to_service(
        SHORT,
        "http://intake.test",
        keys,
        rate_per_s=5000,
        on_refused=lambda line, status, body: refused.append(status),
        transport=httpx.MockTransport(unprocessable),
    )
    assert posted == 0
    assert len(refused) == len(list(simulate(SHORT)))
    assert set(refused) == {422}

    def unauthorised(request: httpx.Request) -> httpx.Response:
        return httpx.Response(401, json={"detail": "bad key"})

    with pytest.raises(PostError):
        await post_to_service(
            SHORT, "http://intake.test", keys, rate_per_s=5000, transport=httpx.MockTransport(unauthorised)
        )
    with pytest.raises(ValueError, match="no key"):
        await post_to_service(SHORT, "http://intake.test", {"police": "k"}, rate_per_s=1)
