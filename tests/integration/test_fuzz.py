"""Bad input, everywhere: every HTTP endpoint fuzzed, every input topic fed garbage, bad rulesets.

- The intake's API is fuzzed from its own OpenAPI document with schemathesis (schema-valid and
  schema-invalid requests), and with hypothesis mutating valid submissions field by field and
  byte by byte. The console has no OpenAPI document: its routes are read from the app and
  each is fuzzed with hypothesis, signed in with each role and signed out.
- Every input topic of the worker gets malformed, truncated, oversized, wrong-version,
  wrong-schema and wrongly-keyed events between good ones.
- A ruleset with errors stops the intake and the worker at start, naming line and reason; a
  running intake and worker keep their last good ruleset when the file is changed badly.

Every example has a fixed seed (`derandomize=True`): the same run every time. Nothing may
answer 5xx or show a stack trace, and every refusal must say what is wrong.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import schemathesis
import schemathesis.checks as checks
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode

from mash.adapters.dead_letters import DeadLetter, box_key, open_dead_letter
from mash.adapters.topics import CHILD_INPUTS
from mash.cli.embedded import EmbeddedBroker
from mash.views.ledger import H_CONTACT
from tests.integration.conftest import ConsoleProc, Service, make_console, make_service
from tests.support.builders import child, submission
from tests.support.kafka_topics import read_topic, write_topic
from tests.support.keys import DEAD_LETTER_PRIVATE_KEY
from tests.support.reliability_figures import record_figures
from tests.support.traffic import console_client, console_routes, read_published
from tests.unit.domain.test_ruleset_file import VALID

EXAMPLES = 60  # per endpoint and generation mode
FUZZ = settings(
    max_examples=EXAMPLES,
    derandomize=True,  # a fixed seed: the same examples on every run
    deadline=None,
    database=None,
    phases=[Phase.explicit, Phase.generate],  # no shrinking: a failure is reported as found
    suppress_health_check=list(HealthCheck),
)
TRACEBACK = re.compile(r"Traceback \(most recent call last\)|File \"[^\"]+\.py\", line \d+")


@dataclass
class Tally:
    cases: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    by_endpoint: Counter[str] = field(default_factory=Counter)

    def add(self, endpoint: str, status: int) -> None:
        self.cases += 1
        self.statuses[status] += 1
        self.by_endpoint[endpoint] += 1

    @property
    def server_errors(self) -> int:
        return sum(n for status, n in self.statuses.items() if status >= 500)


def content_type_of(headers: Any) -> str:
    """The Content-Type, from httpx's headers or schemathesis's (a list per name)."""
    value = headers.get("content-type") or headers.get("Content-Type") or ""
    return str(value[0] if isinstance(value, list) else value)


def assert_well_refused(status: int, body: str, content_type: str, what: str) -> None:
    """No 5xx, no stack trace, and a refusal that says what is wrong."""
    assert status < 500, f"{what}: {status} {body[:500]}"
    assert not TRACEBACK.search(body), f"{what}: a stack trace in the response"
    if status < 400:
        return
    assert body.strip(), f"{what}: {status} with an empty body"
    if content_type.startswith("application/json"):
        detail = orjson.loads(body).get("detail")
        assert detail, f"{what}: {status} without a detail"
        if isinstance(detail, list):
            for problem in detail:
                assert problem.get("msg"), f"{what}: a problem without a message: {problem}"
                assert "loc" in problem, f"{what}: a problem that doesn't say where: {problem}"


@pytest.fixture(scope="module")
def stack(
    broker: EmbeddedBroker, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Service, ConsoleProc]]:
    """Intake, worker and console for the module; generous rate limits (they are tested elsewhere)."""
    tmp = tmp_path_factory.mktemp("fuzz")
    service = make_service(
        broker.bootstrap, tmp, MASH_AGENCY_RATE_PER_S="10000", MASH_AGENCY_RATE_BURST="10000"
    )
    console = make_console(service)
    for proc in (service.worker, service.intake, console.proc):
        proc.start()
    try:
        for proc in (service.intake, service.worker, console.proc):
            proc.wait_ready()
        yield service, console
    finally:
        for proc in (service.intake, console.proc, service.worker):
            proc.stop()


# --- the intake, from its OpenAPI document ------------------------------------------------------

OPENAPI_CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
    checks.response_headers_conformance,
    checks.negative_data_rejection,
]


def fuzz_operation(
    op: Any, mode: GenerationMode, agency: str, service: Service, tally: Tally
) -> Callable[[], None]:
    label = f"{op.method.upper()} {op.path} ({mode.value})"

    @FUZZ
    @given(case=op.as_strategy(generation_mode=mode))
    def run(case: schemathesis.Case) -> None:
        response = case.call(
            base_url=service.intake.url, headers={**(case.headers or {}), **service.auth(agency)}
        )
        tally.add(label, response.status_code)
        assert_well_refused(response.status_code, response.text, content_type_of(response.headers), label)
        case.validate_response(response, checks=OPENAPI_CHECKS)

    return run  # type: ignore[no-any-return]


def test_the_intake_api_fuzzed_from_its_openapi_document(stack: tuple[Service, ConsoleProc]) -> None:
    """schemathesis: schema-valid and schema-invalid requests to every operation in /openapi.json.

    Not checked: that every schema-valid request is accepted, because the schema cannot say
    everything (indicator codes come from the ruleset, NHS numbers have a check digit).
    """
    service, _ = stack
    spec = httpx.get(f"{service.intake.url}/openapi.json").json()
    schema = schemathesis.openapi.from_dict(spec)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {f"{op.method.upper()} {op.path}" for op in operations} == {
        "POST /v1/contacts",
        "POST /v1/outcomes",
        "GET /v1/contacts/{contact_id}",
        "GET /v1/indicators",
    }
    tally = Tally()
    for op in operations:
        has_input = bool(op.body or op.path_parameters or op.query)
        modes = (
            (GenerationMode.POSITIVE, GenerationMode.NEGATIVE) if has_input else (GenerationMode.POSITIVE,)
        )
        agency = "case-system" if op.path == "/v1/outcomes" else "police"
        for mode in modes:
            fuzz_operation(op, mode, agency, service, tally)()
    assert tally.server_errors == 0
    record_figures(
        "fuzz: intake OpenAPI (schemathesis)",
        fuzz_cases=tally.cases,
        server_errors=tally.server_errors,
        statuses=dict(sorted(tally.statuses.items())),
    )


# --- the intake, valid submissions mutated -------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=10,
)
FIELDS = [
    "agency_reference",
    "received_at",
    "source",
    "children",
    "indicators",
    "narrative",
    "consent",
    "referrer",
]
CHILD_FIELDS = [
    "given_name",
    "family_name",
    "date_of_birth",
    "nhs_number",
    "postcode",
    "unborn",
    "expected_date",
    "sex",
]


@st.composite
def mutated_submission(draw: st.DrawFn) -> dict[str, Any]:
    body = submission(draw(st.sampled_from(["young_carer", "disclosure_of_abuse", "no_unmet_needs"])))
    body["agency_reference"] = f"FUZZ-{draw(st.integers(0, 10**9))}"
    for _ in range(draw(st.integers(1, 3))):
        how = draw(st.sampled_from(["replace", "drop", "extra", "child", "children", "long", "date"]))
        if how == "replace":
            body[draw(st.sampled_from(FIELDS))] = draw(json_values)
        elif how == "drop":
            body.pop(draw(st.sampled_from(FIELDS)), None)
        elif how == "extra":
            body[draw(st.text(min_size=1, max_size=12))] = draw(json_values)
        elif how == "child" and isinstance(body.get("children"), list) and body["children"]:
            kid = dict(body["children"][0]) if isinstance(body["children"][0], dict) else {}
            kid[draw(st.sampled_from(CHILD_FIELDS))] = draw(json_values | st.text(max_size=30))
            body["children"][0] = kid
        elif how == "children":
            body["children"] = [
                child(dob=f"201{n % 10}-0{1 + n % 9}-1{n % 10}") for n in range(draw(st.integers(0, 25)))
            ]
        elif how == "long":
            body[draw(st.sampled_from(["narrative", "agency_reference"]))] = "x" * draw(
                st.integers(90, 25_000)
            )
        else:
            body["received_at"] = draw(
                st.sampled_from(["2999-01-01T00:00:00Z", "2020-02-30T00:00:00Z", "yesterday", "2024-01-01"])
            )
    return body


@st.composite
def broken_bytes(draw: st.DrawFn) -> bytes:
    raw = orjson.dumps(submission("young_carer"))
    how = draw(st.sampled_from(["truncate", "garbage", "flip", "empty"]))
    if how == "truncate":
        return raw[: draw(st.integers(0, len(raw) - 1))]
    if how == "garbage":
        return draw(st.binary(min_size=1, max_size=300))
    if how == "flip":
        at = draw(st.integers(0, len(raw) - 1))
        return raw[:at] + bytes([draw(st.integers(0, 255))]) + raw[at + 1 :]
    return b""


def test_mutated_and_broken_submissions_are_refused_saying_why(stack: tuple[Service, ConsoleProc]) -> None:
    service, _ = stack
    tally = Tally()
    with service.client() as client:

        @FUZZ
        @given(body=mutated_submission())
        def mutated(body: dict[str, Any]) -> None:
            response = client.post("/v1/contacts", json=body, headers=service.auth())
            tally.add("POST /v1/contacts (mutated)", response.status_code)
            assert response.status_code in (202, 413, 422), response.text
            assert_well_refused(
                response.status_code, response.text, response.headers["content-type"], "mutated"
            )

        @FUZZ
        @given(
            raw=broken_bytes(),
            content_type=st.sampled_from(
                ["application/json", "text/plain", "application/x-www-form-urlencoded"]
            ),
        )
        def broken(raw: bytes, content_type: str) -> None:
            for path, agency in (("/v1/contacts", "police"), ("/v1/outcomes", "case-system")):
                headers = {**service.auth(agency), "Content-Type": content_type}
                response = client.post(path, content=raw, headers=headers)
                tally.add(f"POST {path} (broken bytes)", response.status_code)
                assert response.status_code == 422, response.text
                assert_well_refused(
                    response.status_code, response.text, response.headers["content-type"], "broken"
                )

        mutated()
        broken()
        for path, method in (
            ("/nowhere", "GET"),
            ("/v1/contacts", "PUT"),
            ("/v1/indicators", "POST"),
            ("/v1/contacts", "GET"),
        ):
            response = client.request(method, path, headers=service.auth())
            tally.add(f"{method} {path}", response.status_code)
            assert response.status_code in (404, 405)
            assert_well_refused(response.status_code, response.text, response.headers["content-type"], path)
        for path in ("/metrics", "/health/live", "/health/ready", "/docs", "/openapi.json"):
            response = client.get(path)
            tally.add(f"GET {path}", response.status_code)
            assert response.status_code == 200
    assert tally.server_errors == 0
    record_figures(
        "fuzz: intake mutated bodies (hypothesis)",
        fuzz_cases=tally.cases,
        server_errors=tally.server_errors,
        statuses=dict(sorted(tally.statuses.items())),
    )


# --- the console: every route, every role ---------------------------------------------------------


def fill(path: str, draw: st.DrawFn, known_ids: list[str]) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name == "queue":
            return draw(
                st.sampled_from(["awaiting", "early_help", "social_care", "imm", "closed", "nope", "%2e%2e"])
            )
        if name in ("contact_id", "case_id") and known_ids:
            return draw(st.sampled_from([*known_ids, "ct-000000000000000000000000"]))
        return draw(st.from_regex(r"[A-Za-z0-9._~%-]{1,30}", fullmatch=True))

    return re.sub(r"\{([^}:]+)(?::[^}]*)?\}", value, path)


def test_every_console_route_fuzzed_with_every_role(stack: tuple[Service, ConsoleProc]) -> None:
    service, console = stack
    with service.client() as client:
        body = submission("persistent_absence", children=[child("Fuzzy", "Consolewood", dob="2012-02-02")])
        known = client.post("/v1/contacts", json=body, headers=service.auth("school")).json()["contact_ids"]
    deadline = time.monotonic() + 30
    while not set(known) <= read_published(service.bootstrap, service.settings).copies.keys():
        assert time.monotonic() < deadline
        time.sleep(0.5)
    routes = console_routes(service)
    assert ("POST", "/cases/{contact_id}/decisions") in routes
    sessions: dict[str, httpx.Client] = {"anonymous": httpx.Client(base_url=console.url, timeout=10.0)}
    for user in ("coordinator", "manager", "operations"):
        sessions[user] = console_client(console.url, user, console.password(user))
    tokens = {}
    for user, session in sessions.items():
        page = session.get("/login").text
        token = re.search(r'name="csrf_token" value="([^"]+)"', page)
        tokens[user] = token.group(1) if token else ""
    tally = Tally()

    @settings(parent=FUZZ, max_examples=5 * EXAMPLES)
    @given(data=st.data())
    def run(data: st.DataObject) -> None:
        method, template = data.draw(st.sampled_from([r for r in routes if r[1] not in ("/logout",)]))
        user = data.draw(st.sampled_from(sorted(sessions)))
        path = fill(template, data.draw, known)
        params = data.draw(
            st.dictionaries(
                st.sampled_from(["limit", "since", "q", "page"]), st.text(max_size=12), max_size=2
            )
        )
        session = sessions[user]
        if path.startswith("/events"):
            with session.stream("GET", path, params=params) as response:
                tally.add(f"GET {template}", response.status_code)
                assert response.status_code in (200, 401, 422)
            return
        if method == "POST":
            form = data.draw(
                st.dictionaries(
                    st.sampled_from(
                        [
                            "action",
                            "level",
                            "rag",
                            "rationale",
                            "seen_level",
                            "seen_rag",
                            "signs_off",
                            "username",
                            "password",
                            "outcome",
                            "meeting_id",
                        ]
                    ),
                    st.text(max_size=30),
                    max_size=6,
                )
            )
            if data.draw(st.booleans()):
                form["csrf_token"] = tokens[user]
            response = session.post(path, data=form, params=params)
        else:
            response = session.get(path, params=params)
        tally.add(f"{method} {template}", response.status_code)
        assert_well_refused(
            response.status_code,
            response.text,
            content_type_of(response.headers),
            f"{user} {method} {path}",
        )
        if response.status_code >= 400 and content_type_of(response.headers).startswith("text/html"):
            assert re.search(r"<h1[^>]*>[^<]+</h1>|role=\"alert\"", response.text), (
                f"{path}: an error page that says nothing"
            )

    try:
        run()
    finally:
        for session in sessions.values():
            session.close()
    assert tally.server_errors == 0
    record_figures(
        "fuzz: console routes x roles (hypothesis)",
        fuzz_cases=tally.cases,
        routes=len(routes),
        server_errors=tally.server_errors,
        statuses=dict(sorted(tally.statuses.items())),
    )


# --- every input topic ------------------------------------------------------------------------------


def good_event(service: Service, topic: str, n: int) -> tuple[bytes, bytes, Callable[[], bool]]:
    """A valid event for the topic, and how to tell it was processed."""
    with service.client() as client:
        kid = child(f"Dlqgood{n}", "Topicson", dob=f"2013-0{1 + n % 9}-0{1 + n % 9}")
        [contact_id] = client.post(
            "/v1/contacts", json=submission("young_carer", children=[kid]), headers=service.auth()
        ).json()["contact_ids"]
    # The intake names the contact in a header: the topic also holds this test's bad events.
    event = next(
        orjson.loads(r.value)
        for r in read_topic(service.bootstrap, service.topic("contacts"))
        if (H_CONTACT, contact_id.encode()) in r.headers
    )
    published = read_published(service.bootstrap, service.settings)
    while contact_id not in published.copies:
        time.sleep(0.2)
        published = read_published(service.bootstrap, service.settings)
    child_key = published.copies[contact_id][-1]["child_key"]
    key = contact_id.encode()
    if topic == "contacts":
        event = {**event, "contact_id": f"ct-dlq{n:020d}"[:27]}
        done = event["contact_id"]
        return (
            done.encode(),
            orjson.dumps(event),
            lambda: done in read_published(service.bootstrap, service.settings).copies,
        )
    if topic == "outcomes":
        outcome = {
            "schema_version": 2,
            "outcome_id": f"oc-dlq-{n}",
            "identifiers": event["identifiers"],  # the same child as the contact
            "agency": "case-system",
            "type": "cp_plan_started",
            "occurred_at": event["received_at"],
            "nfa": False,
            "accepted_at": event["accepted_at"],
        }
        return (
            outcome["outcome_id"].encode(),
            orjson.dumps(outcome),
            lambda: any(
                p[-1]["child_key"] == child_key
                for p in read_published(service.bootstrap, service.settings).plans.values()
            ),
        )
    if topic == "identities":
        # A coordinator says the contact is not the child of another record: nothing moves, and
        # the child's records are published again.
        copies = len(published.copies[contact_id])
        decision = {
            "schema_version": 1,
            "decision_id": f"id-dlq-{n}",
            "action": "different_child",
            "subjects": [contact_id],
            "others": ["ct-no-such-contact"],
            "decided_at": event["received_at"],
            "by": "coordinator",
            "role": "coordinator",
            "rationale": "Checked.",
        }
        return (
            key,
            orjson.dumps(decision),
            lambda: len(read_published(service.bootstrap, service.settings).copies[contact_id]) > copies,
        )
    decision = {
        "schema_version": 1,
        "decision_id": f"dc-dlq-{n}",
        "contact_id": contact_id,
        "action": "confirm",
        "decided_at": event["received_at"],
        "by": "coordinator",
        "role": "coordinator",
        "rationale": "Checked.",
        "level": 2,  # young carer: early help, green
        "rag": "green",
    }
    return (
        key,
        orjson.dumps(decision),
        lambda: bool(
            read_published(service.bootstrap, service.settings)
            .copies.get(contact_id, [{}])[-1]
            .get("decided_at")
        ),
    )


def bad_events(key: bytes, good: bytes) -> list[tuple[str, bytes | None, bytes]]:
    """(expected reason, key, value) for one of each kind of bad event, built from a good one."""
    event = orjson.loads(good)
    required = next(k for k in event if k not in ("schema_version", "nfa"))
    return [
        ("malformed_json", key, b"{not json"),
        ("malformed_json", key, good[: len(good) // 2]),  # truncated
        ("malformed_json", key, b""),
        ("malformed_json", key, b"\xff\xfe\x00garbage"),
        ("not_an_object", key, b"[1, 2, 3]"),
        ("not_an_object", key, b'"a string"'),
        ("unsupported_version", key, orjson.dumps({**event, "schema_version": event["schema_version"] + 1})),
        ("unsupported_version", key, orjson.dumps({k: v for k, v in event.items() if k != "schema_version"})),
        ("schema_invalid", key, orjson.dumps({k: v for k, v in event.items() if k != required})),
        ("schema_invalid", key, orjson.dumps({**event, "unexpected": 1})),
        ("schema_invalid", key, orjson.dumps({**event, required: {"nested": [1, 2]}})),
        ("oversized", key, b"x" * (512 * 1024 + 1)),
    ]


def test_bad_events_on_every_input_topic_are_dead_lettered_and_the_good_ones_processed(
    stack: tuple[Service, ConsoleProc],
) -> None:
    service, _ = stack
    expected: list[tuple[str, str, bytes]] = []
    waits: list[Callable[[], bool]] = []
    for n, topic in enumerate(CHILD_INPUTS):
        key, good, processed = good_event(service, topic, n)
        bad = bad_events(key, good)
        # good, the bad ones, good again (a second, distinct good event) around them
        key_after, good_after, processed_after = good_event(service, topic, n + 10)
        write_topic(
            service.bootstrap,
            service.topic(topic),
            [(key, good), *[(k, v) for _, k, v in bad], (key_after, good_after)],
        )
        expected.extend((service.topic(topic), reason, value) for reason, _, value in bad)
        waits.extend([processed, processed_after])
    # A child's update must be keyed by its child: anywhere else, its history would split.
    resolved = service.topic("resolved")
    update = read_topic(service.bootstrap, resolved, at_least=1)[0].value
    write_topic(service.bootstrap, resolved, [(b"ck-not-this-child", update), (None, update)])
    expected.extend([(resolved, "key_mismatch", update)] * 2)
    raw = [
        r.value
        for r in read_topic(service.bootstrap, service.topic("dlq"), at_least=len(expected), timeout=60)
    ]
    letters = [orjson.loads(value) for value in raw]
    # Each original is sealed to the operators' key and opens to exactly the bytes written.
    private_key = box_key(DEAD_LETTER_PRIVATE_KEY, "MASH_DEAD_LETTER_PRIVATE_KEY")
    originals = [open_dead_letter(DeadLetter.model_validate_json(value), private_key)[1] for value in raw]
    assert sorted(
        (x["topic"], x["reason"], original) for x, original in zip(letters, originals, strict=True)
    ) == sorted(expected)
    for letter in letters:
        assert letter["problems"], "every dead letter says what is wrong"
        assert all(p["msg"] for p in letter["problems"])
    deadline = time.monotonic() + 60
    while not all(wait() for wait in waits):
        assert time.monotonic() < deadline, "good events around the bad ones were not processed"
        time.sleep(1.0)
    assert service.worker.process is not None
    assert service.worker.process.poll() is None, "the worker kept going"
    record_figures(
        "fuzz: bad events on every input topic",
        bad_events=len(expected),
        topics=len(CHILD_INPUTS),
        dead_lettered=len(letters),
        good_processed=len(waits),
    )


# --- rulesets -------------------------------------------------------------------------------------------


def broken_ruleset(path: Path) -> int:
    """Writes a ruleset with an error; returns the line the error is on."""
    path.write_text(VALID.replace("    level: 2", "    level: 7"))
    return VALID.splitlines().index("    level: 2") + 1


@pytest.mark.parametrize("part", ["intake", "worker"])
def test_a_ruleset_with_errors_is_refused_at_start_with_line_and_reason(
    broker: EmbeddedBroker, tmp_path: Path, part: str
) -> None:
    service = make_service(broker.bootstrap, tmp_path, MASH_RULESET_FILE=str(tmp_path / "council.yaml"))
    line = broken_ruleset(tmp_path / "council.yaml")
    done = subprocess.run(
        [sys.executable, "-m", "mash", part], env=service.env, capture_output=True, timeout=60
    )
    output = (done.stdout + done.stderr).decode()
    assert done.returncode != 0
    assert f"line {line}" in output or f"council.yaml:{line}:" in output, output[-2000:]
    assert "less than or equal to 4" in output


def test_a_running_service_keeps_its_last_good_ruleset_on_a_bad_reload(
    broker: EmbeddedBroker, tmp_path: Path
) -> None:
    ruleset = tmp_path / "council.yaml"
    ruleset.write_text(VALID)
    service = make_service(
        broker.bootstrap, tmp_path, MASH_RULESET_FILE=str(ruleset), MASH_RULESET_CHECK_S="0.2"
    )
    service.worker.start()
    service.intake.start()
    try:
        service.intake.wait_ready()
        service.worker.wait_ready()
        with service.client() as client:
            assert client.get("/v1/indicators").json()["ruleset_version"] == "test.1"
            line = broken_ruleset(ruleset)
            time.sleep(1.0)
            assert client.get("/v1/indicators").json()["ruleset_version"] == "test.1"
            # The worker goes on screening with test.1 too.
            accepted = client.post(
                "/v1/contacts", json=submission("missed_health_checks"), headers=service.auth()
            )
            assert accepted.status_code == 202, accepted.text
            [contact_id] = accepted.json()["contact_ids"]
            deadline = time.monotonic() + 30
            while contact_id not in (published := read_published(service.bootstrap, service.settings)).copies:
                assert time.monotonic() < deadline
                time.sleep(0.3)
            earlier = published.latest()[contact_id]
            assert (earlier["recommendation"]["ruleset_version"], earlier["recommendation"]["level"]) == (
                "test.1",
                2,
            )
            # test.2 makes missed health checks level 3: it screens contacts from now on, and the
            # same child's earlier contact keeps the screening and version it was received under.
            checks = 'missed_health_checks\n    description: "Missed immunisations or health checks"\n'
            test_2 = VALID.replace('version: "test.1"', 'version: "test.2"').replace(
                checks + "    level: 2", checks + "    level: 3"
            )
            assert test_2.count("level: 3") == VALID.count("level: 3") + 1
            ruleset.write_text(test_2)
            deadline = time.monotonic() + 10
            while client.get("/v1/indicators").json()["ruleset_version"] != "test.2":
                assert time.monotonic() < deadline, "a good ruleset is taken up without a restart"
                time.sleep(0.2)
            [later] = client.post(
                "/v1/contacts", json=submission("missed_health_checks"), headers=service.auth()
            ).json()["contact_ids"]
            deadline = time.monotonic() + 30
            while later not in (published := read_published(service.bootstrap, service.settings)).copies:
                assert time.monotonic() < deadline
                time.sleep(0.3)
            latest = published.latest()
            assert (
                latest[later]["recommendation"]["ruleset_version"],
                latest[later]["recommendation"]["level"],
            ) == (
                "test.2",
                3,
            )
            assert latest[later]["child_key"] == earlier["child_key"]
            assert latest[contact_id]["recommendation"] == earlier["recommendation"]
        worker_metrics = service.worker_metrics()
    finally:
        service.intake.stop()
        service.worker.stop()
    for proc in (service.intake, service.worker):
        logs = proc.log_text()
        assert "ruleset_reload_refused" in logs
        assert f"line {line}: indicators.1.level: Input should be less than or equal to 4" in logs
        assert "ruleset_reloaded" in logs
    assert 'mash_ruleset_reloads_total{outcome="refused"} 1.0' in worker_metrics
