"""Access control: every endpoint tried with every role, and with none.

Intake: agency keys (stored only as hashes) rotated and revoked without a restart; an agency
submits only as itself and reads only its own contacts; outcomes only from the case system;
per-agency rate limits (429 with Retry-After) and payload limits. Console: coordinators and
managers see cases, read-only (operations) users see counts and never a case, a partner's API
key opens nothing, a manager alone signs off, and a form refused for want of its CSRF token
records nothing and sends the browser back to its page.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from mash.cli.embedded import EmbeddedBroker, free_port
from mash.domain.contact import CinSource
from mash.intake.agencies import Agency, AgencyFile, hash_key, new_key
from mash.views.ledger import H_AGENCY, H_CONTACT
from tests.integration.conftest import ConsoleProc, Proc, Service, make_console, make_service
from tests.support.builders import child, submission
from tests.support.kafka_topics import read_topic
from tests.support.reliability_figures import record_figures
from tests.support.traffic import console_client, console_routes, read_published

CASE_ID = re.compile(r"ct-[0-9a-f]{24}")
PARTNERS = ("police", "school", "health", "early-help", "case-system")


@dataclass
class Stack:
    service: Service
    console: ConsoleProc
    keys: dict[str, str]  # identity -> bearer key ("" for none)
    police_contact: str


def write_agencies(path: Path, keys: dict[str, list[str]], **extra: dict[str, Any]) -> None:
    """The agencies file: the demo agencies plus a partner that may not submit, with these keys."""
    defaults = {
        "police": CinSource.POLICE,
        "school": CinSource.SCHOOLS,
        "health": CinSource.OTHER_HEALTH,
        "early-help": CinSource.LA_EARLY_HELP,
        "case-system": CinSource.LA_SOCIAL_CARE,
        "observer": CinSource.OTHER,
    }
    agencies = [
        Agency(
            id=agency_id,
            name=agency_id,
            default_source=source,
            can_submit=agency_id != "observer",
            can_report_outcomes=agency_id == "case-system",
            key_hashes=tuple(hash_key(k) for k in keys.get(agency_id, [])),
            **extra.get(agency_id, {}),
        )
        for agency_id, source in defaults.items()
    ]
    path.write_bytes(orjson.dumps(AgencyFile(agencies=agencies).model_dump(mode="json")))


@pytest.fixture(scope="module")
def stack(broker: EmbeddedBroker, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("access")
    service = make_service(broker.bootstrap, tmp)
    keys = {agency: new_key(agency) for agency in (*PARTNERS, "observer")}
    write_agencies(tmp / "agencies.json", {a: [k] for a, k in keys.items()})
    console = make_console(service)
    for proc in (service.worker, service.intake, console.proc):
        proc.start()
    try:
        for proc in (service.intake, service.worker, console.proc):
            proc.wait_ready()
        with service.client() as client:
            body = submission("young_carer", children=[child("Accessa", "Matrixford", dob="2014-04-04")])
            answer = client.post(
                "/v1/contacts", json=body, headers={"Authorization": f"Bearer {keys['police']}"}
            )
            assert answer.status_code == 202, answer.text
            [contact_id] = answer.json()["contact_ids"]
        deadline = time.monotonic() + 30
        while contact_id not in read_published(service.bootstrap, service.settings).copies:
            assert time.monotonic() < deadline
            time.sleep(0.3)
        yield Stack(service, console, {"none": "", "unknown": new_key("police"), **keys}, contact_id)
    finally:
        for proc in (service.intake, console.proc, service.worker):
            proc.stop()


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"} if key else {}


def intake_expected(identity: str, endpoint: str) -> int:
    if endpoint in (
        "GET /v1/indicators",
        "GET /health/live",
        "GET /health/ready",
        "GET /metrics",
        "GET /openapi.json",
    ):
        return 200  # public: the catalogue of codes, and what operations scrape
    if identity in ("none", "unknown"):
        return 401
    if endpoint == "POST /v1/contacts":
        return 403 if identity == "observer" else 202
    if endpoint == "POST /v1/outcomes":
        return 202 if identity == "case-system" else 403
    if endpoint == "GET /v1/contacts/{police contact}":
        return 200 if identity == "police" else 404  # 404, not 403: another agency's contact isn't there
    raise AssertionError(endpoint)


def test_the_intake_matrix_every_endpoint_with_every_identity(stack: Stack) -> None:
    service = stack.service
    spec = httpx.get(f"{service.intake.url}/openapi.json").json()
    documented = {f"{m.upper()} {p}" for p, ops in spec["paths"].items() for m in ops}
    assert documented == {
        "POST /v1/contacts",
        "POST /v1/outcomes",
        "GET /v1/contacts/{contact_id}",
        "GET /v1/indicators",
    }
    outcome = {
        "type": "cp_plan_started",
        "child": child("Accessa", "Matrixford", dob="2014-04-04"),
        "occurred_at": "2025-01-01T10:00:00Z",
    }
    cells = 0
    with service.client() as client:
        for identity, key in stack.keys.items():
            requests: dict[str, Any] = {
                "POST /v1/contacts": lambda key=key: client.post(
                    "/v1/contacts", json=submission("young_carer"), headers=bearer(key)
                ),
                "POST /v1/outcomes": lambda key=key: client.post(
                    "/v1/outcomes", json=outcome, headers=bearer(key)
                ),
                "GET /v1/contacts/{police contact}": lambda key=key: client.get(
                    f"/v1/contacts/{stack.police_contact}", headers=bearer(key)
                ),
                "GET /v1/indicators": lambda key=key: client.get("/v1/indicators", headers=bearer(key)),
                "GET /health/live": lambda key=key: client.get("/health/live", headers=bearer(key)),
                "GET /health/ready": lambda key=key: client.get("/health/ready", headers=bearer(key)),
                "GET /metrics": lambda key=key: client.get("/metrics", headers=bearer(key)),
                "GET /openapi.json": lambda key=key: client.get("/openapi.json", headers=bearer(key)),
            }
            for endpoint, call in requests.items():
                response = call()
                cells += 1
                assert response.status_code == intake_expected(identity, endpoint), (
                    identity,
                    endpoint,
                    response.text,
                )
                if response.status_code == 401:
                    assert response.headers["WWW-Authenticate"] == "Bearer"
                if response.status_code in (401, 403, 404):
                    assert response.json()["detail"]
    record_figures("access: intake matrix", identities=len(stack.keys), endpoints=8, cells=cells)


def test_an_agency_submits_only_as_itself(stack: Stack) -> None:
    service = stack.service
    with service.client() as client:
        claimed = {**submission("young_carer"), "agency": "school"}
        refused = client.post("/v1/contacts", json=claimed, headers=bearer(stack.keys["police"]))
        assert refused.status_code == 422
        assert ["body", "agency"] in [p["loc"] for p in refused.json()["detail"]]
        body = submission("young_carer")
        headers = {**bearer(stack.keys["police"]), "X-Agency": "school", "X-Forwarded-User": "school"}
        [contact_id] = client.post("/v1/contacts", json=body, headers=headers).json()["contact_ids"]
    [record] = [
        r
        for r in read_topic(service.bootstrap, service.topic("contacts"))
        if (H_CONTACT, contact_id.encode()) in r.headers
    ]
    assert orjson.loads(record.value)["agency"] == "police"
    assert (H_AGENCY, b"police") in record.headers


def test_keys_are_rotated_and_revoked_without_a_restart(stack: Stack) -> None:
    service = stack.service
    path = service.tmp / "agencies.json"
    old, rotated = stack.keys["school"], new_key("school")
    everyone = {a: [k] for a, k in stack.keys.items() if a in (*PARTNERS, "observer")}
    pid = service.intake.process.pid if service.intake.process else None
    with service.client() as client:

        def status(key: str) -> int:
            return client.post(
                "/v1/contacts", json=submission("young_carer"), headers=bearer(key)
            ).status_code

        write_agencies(path, {**everyone, "school": [old, rotated]})
        assert (status(old), status(rotated)) == (202, 202)
        write_agencies(path, {**everyone, "school": [rotated]})
        assert (status(old), status(rotated)) == (401, 202)
        write_agencies(path, {**everyone, "school": []})  # revoked: the agency has no key at all
        assert status(rotated) == 401
        write_agencies(path, everyone)
        assert status(old) == 202
    assert service.intake.process is not None
    assert service.intake.process.pid == pid, "no restart"
    text = path.read_text()
    assert old not in text, "the file holds hashes only"
    assert rotated not in text


def test_per_agency_rate_and_payload_limits(stack: Stack) -> None:
    """A second intake on the same topics, with tight limits: 5 at once, then 2 a second."""
    service = stack.service
    port = free_port()
    env = {
        **service.env,
        "MASH_INTAKE_PORT": str(port),
        "MASH_AGENCY_RATE_PER_S": "2",
        "MASH_AGENCY_RATE_BURST": "5",
    }
    limited = Proc("intake", f"http://127.0.0.1:{port}", service.tmp / "limited-intake.log", env)
    limited.start()
    try:
        limited.wait_ready()
        with httpx.Client(base_url=limited.url, timeout=10.0) as client:
            police = [client.get("/v1/contacts/ct-x", headers=bearer(stack.keys["police"])) for _ in range(8)]
            assert [r.status_code for r in police][:5] == [404] * 5
            over = [r for r in police if r.status_code == 429]
            assert len(over) >= 2
            assert all(int(r.headers["Retry-After"]) >= 1 for r in over)
            assert "rate limit" in over[0].json()["detail"]
            # Another agency has its own bucket.
            assert client.get("/v1/contacts/ct-x", headers=bearer(stack.keys["school"])).status_code == 404
            time.sleep(float(over[-1].headers["Retry-After"]))
            assert client.get("/v1/contacts/ct-x", headers=bearer(stack.keys["police"])).status_code == 404

            # A per-agency payload limit from the agencies file, applied without a restart.
            everyone = {a: [k] for a, k in stack.keys.items() if a in (*PARTNERS, "observer")}
            write_agencies(service.tmp / "agencies.json", everyone, health={"max_body_bytes": 2000})
            big = submission("young_carer", narrative="n" * 3000)
            too_big = client.post("/v1/contacts", json=big, headers=bearer(stack.keys["health"]))
            assert too_big.status_code == 413
            assert "2000 byte limit" in too_big.json()["detail"]
            assert (
                client.post("/v1/contacts", json=big, headers=bearer(stack.keys["early-help"])).status_code
                == 202
            )
            # And the service-wide limit for everyone.
            huge = submission("young_carer", narrative="n" * 300_000)
            assert (
                client.post("/v1/contacts", json=huge, headers=bearer(stack.keys["early-help"])).status_code
                == 413
            )
    finally:
        limited.stop()
        write_agencies(
            service.tmp / "agencies.json",
            {a: [k] for a, k in stack.keys.items() if a in (*PARTNERS, "observer")},
        )
    metrics = httpx.get(f"{service.intake.url}/metrics").text
    assert "mash_intake_rate_limited_total" in metrics


# --- the console ----------------------------------------------------------------------------------

PUBLIC = {"/login", "/logout", "/health/live", "/health/ready", "/metrics", "/static/{name}"}
COUNTS_ONLY = {"/", "/overview", "/counts", "/events", "/imm"}
# A refused case or meeting form redirects to its page (a reload never posts it again).
REDIRECTING_FORMS = {"/cases/{contact_id}/decisions", "/imm/{meeting}/record"}


def console_expected(identity: str, method: str, route: str) -> set[int]:
    """Statuses allowed for the identity on the route, from the roles as specified.

    A POST here carries no CSRF token, so where the role may act it is refused for that: 403, or
    a redirect back to the page for the case and meeting forms.
    """
    if route in PUBLIC:
        return {403} if method == "POST" else {200}
    if identity in ("none", "partner key"):
        # Pages send a browser to sign in; what scripts fetch (JSON, fragments) says 401.
        scripted = route in ("/counts", "/events") or route.endswith(("/rows", "/live"))
        return {303} if method == "GET" and not scripted else {401}
    if identity == "operations":
        if route in COUNTS_ONLY:
            return ({303} if route == "/" else {200}) if method == "GET" else {403}
        return {403}
    # coordinator or manager: every page (an unknown meeting is 404), and forms need the token
    if route == "/":
        return {303}  # to the role's start page
    if method == "POST" and route in REDIRECTING_FORMS:
        return {303}  # refused without the token, back to the form's page, which says so
    return {200, 404} if method == "GET" else {403}


def test_the_console_matrix_every_route_with_every_role(stack: Stack) -> None:
    service, console = stack.service, stack.console
    routes = console_routes(service)
    sessions = {
        "none": httpx.Client(base_url=console.url, timeout=10.0),
        "partner key": httpx.Client(base_url=console.url, timeout=10.0, headers=bearer(stack.keys["police"])),
        **{
            user: console_client(console.url, user, console.password(user))
            for user in ("coordinator", "manager", "operations")
        },
    }
    cells = 0
    try:
        for identity, session in sessions.items():
            for method, route in routes:
                path = route.replace("{contact_id}", stack.police_contact).replace("{queue}", "awaiting")
                path = path.replace("{meeting}", "imm-2025-01-06").replace("{name}", "console.css")
                if path == "/events":
                    with session.stream("GET", path) as response:
                        status = response.status_code
                        body = ""
                else:
                    response = session.request(
                        method, path, data={"rationale": "x"} if method == "POST" else None
                    )
                    status, body = response.status_code, response.text
                cells += 1
                assert status in console_expected(identity, method, route), (
                    identity,
                    method,
                    path,
                    status,
                    body[:300],
                )
                if identity in ("none", "partner key", "operations"):
                    assert stack.police_contact not in body, f"{identity} saw a case on {path}"
                    assert not CASE_ID.search(body), f"{identity} saw a case id on {path}"
                if identity in ("none", "partner key") and status == 303:
                    assert response.headers["location"] == "/login"
        # What each role may do with a case, exactly.
        case_page = f"/cases/{stack.police_contact}"
        assert sessions["coordinator"].get(case_page).status_code == 200
        assert sessions["manager"].get(case_page).status_code == 200
        assert sessions["operations"].get(case_page).status_code == 403
        assert sessions["operations"].get("/counts").status_code == 200
        assert sessions["operations"].get("/queues/awaiting").status_code == 403
        assert sessions["partner key"].get("/counts").status_code == 401
        no_csrf = sessions["coordinator"].post(
            f"{case_page}/decisions", data={"action": "confirm", "rationale": "Seen."}
        )
        assert (no_csrf.status_code, no_csrf.headers["location"]) == (303, case_page)
        page = sessions["coordinator"].get(case_page).text
        assert "This form expired before it was sent, so nothing was recorded" in page
        token = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert token is not None
        record = read_published(service.bootstrap, service.settings).latest()[stack.police_contact]
        sign_off = {
            "csrf_token": token.group(1),
            "action": "sign_off",
            "signs_off": "dc-x",
            "rationale": "Agreed.",
            "seen_level": str(record["level"]),
            "seen_rag": record["rag"],
        }
        refused = sessions["coordinator"].post(f"{case_page}/decisions", data=sign_off)
        assert (refused.status_code, refused.headers["location"]) == (303, case_page)
        assert "Only a manager can sign off" in sessions["coordinator"].get(case_page).text
        cells += 8
    finally:
        for session in sessions.values():
            session.close()
    record_figures("access: console matrix", identities=len(sessions), routes=len(routes), cells=cells)
