"""Checks of the deployment files, which CI cannot run (there is no Docker engine or cluster).

- docker-compose.yml is validated against the official Compose Specification JSON Schema, as
  vendored by the `check-jsonschema` package, then checked for what the schema can't see.
- Every Kubernetes manifest is validated against the Kubernetes 1.30 OpenAPI schemas (strict:
  unknown fields are errors) bundled by `kubernetes-validate`, then checked the same way.
- deploy/prometheus/prometheus.yml goes through `promtool check config`, the alert rules through
  `promtool check rules`, and their unit tests through `promtool test rules`, where promtool is
  installed (Debian package `prometheus`; `make system-deps` installs it).
- The Grafana dashboards are well-formed, provisioned, and query only catalogued metrics; every
  alert has a runbook and a unit test. (tests/integration/test_observability.py checks the
  same metrics against a real Prometheus scraping the real processes.)
- Across all of them: every MASH_* variable is a field of `mash.config.Settings` and its value
  parses, every probe or healthcheck asks a port the process listens on for a path it serves,
  and every file, volume, Secret key and service they name exists.
- Keys go where they belong: the master key (MASH_MASTER_KEYS) to the intake and the console only,
  from `.env` or the Secret, never to the worker; the dead-letter public key to the worker; the
  dead-letter private key to no process.
"""

from __future__ import annotations

import copy
import importlib.metadata
import json
import os
import re
import shlex
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from mash.adapters.dead_letters import box_key
from mash.adapters.ruleset_registry import Registry
from mash.adapters.sealing import new_box_keys, new_master_key
from mash.cli.main import main as mash_cli
from mash.config import Settings
from mash.console.users import UserDirectory, UsersFile
from mash.domain.ruleset import load_ruleset
from mash.intake.agencies import DEMO_AGENCIES, AgencyDirectory, AgencyFile

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
DEPLOY = ROOT / "deploy"
KUBERNETES = DEPLOY / "kubernetes"
PROMETHEUS_CONFIG = DEPLOY / "prometheus" / "prometheus.yml"
ALERT_RULES = DEPLOY / "prometheus" / "alerts.yml"
ALERT_TESTS = DEPLOY / "prometheus" / "alerts.test.yml"
DASHBOARDS = DEPLOY / "grafana" / "dashboards"
# The metrics catalogue and the alert runbooks are pages of the docs site.
OPERATIONS_DOCS = (ROOT / "docs" / "operations" / "metrics.md", ROOT / "docs" / "operations" / "runbooks.md")
KUBERNETES_VERSION = "1.30.0"

# Compose durations are Go durations: "10s", "1m30s".
GO_DURATION = re.compile(r"^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$")
# ${NAME}, ${NAME:-default}, ${NAME-default}, ${NAME:?message}, ${NAME?message}
COMPOSE_VARIABLE = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}")
HEALTH_URL = re.compile(r"http://(?:127\.0\.0\.1|localhost):(?P<port>\d+)(?P<path>/[\w/.-]*)")
# The processes the image runs, by `mash` command: which Settings port they listen on.
PORT_FIELD = {"worker": "worker_port", "intake": "intake_port", "console": "console_port"}
SECRET = "test-child-key-secret"
SESSION_SECRET = "test-console-session-secret"
MASTER_KEYS = new_master_key("mk-test")
DEAD_LETTER_PUBLIC_KEY = new_box_keys()[1]
COMPOSE_SECRETS = {
    "MASH_CHILD_KEY_SECRET": SECRET,
    "MASH_CONSOLE_SESSION_SECRET": SESSION_SECRET,
    "MASH_MASTER_KEYS": MASTER_KEYS,
}
# What `.env` holds: the secrets, and the dead-letter public key (not secret, but required).
COMPOSE_ENV = {**COMPOSE_SECRETS, "MASH_DEAD_LETTER_PUBLIC_KEY": DEAD_LETTER_PUBLIC_KEY}
# The only processes that open children's personal details, so the only ones with the master key.
MASTER_KEY_COMMANDS = {"intake", "console"}


# ---------------------------------------------------------------- helpers


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def settings_fields() -> set[str]:
    return {f"MASH_{name.upper()}" for name in Settings.model_fields}


def settings_from_env(env: dict[str, str]) -> Settings:
    """The Settings a process would build from exactly these environment variables."""
    with pytest.MonkeyPatch.context() as mp:
        for name in [n for n in os.environ if n.startswith("MASH_")]:
            mp.delenv(name)
        for name, value in env.items():
            mp.setenv(name, value)
        return Settings()


def interpolate(value: Any, env: dict[str, str]) -> Any:
    """Compose's variable interpolation, enough for this file: fails like compose on `:?`."""
    if isinstance(value, dict):
        return {k: interpolate(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, env) for v in value]
    if not isinstance(value, str):
        return value

    def one(match: re.Match[str]) -> str:
        name, op, arg = match["name"], match["op"], match["arg"]
        present = env.get(name) not in (None, "") if op and op.startswith(":") else name in env
        if present:
            return env[name]
        if op and op.endswith("?"):
            raise ValueError(f"required variable {name} is missing: {arg}")
        return arg or ""

    return COMPOSE_VARIABLE.sub(one, value)


def walk_strings(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for v in value.values():
            yield from walk_strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from walk_strings(v)
    elif isinstance(value, str):
        yield value


def env_map(environment: Any) -> dict[str, str]:
    """A service's environment, from either of compose's forms (map or list of NAME=value)."""
    if environment is None:
        return {}
    if isinstance(environment, list):
        return dict(item.split("=", 1) for item in environment)
    return {k: "" if v is None else str(v) for k, v in environment.items()}


def short_volumes(service: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(source, target, mode) of each of a service's volumes, written in the short syntax."""
    mounts = []
    for item in service.get("volumes", []):
        assert isinstance(item, str), f"use the short volume syntax: {item!r}"
        source, target, *mode = item.split(":")
        mounts.append((source, target, mode[0] if mode else "rw"))
    return mounts


def mash_command(service: dict[str, Any]) -> str | None:
    """The `mash` sub-command a compose service runs, or None for a third-party image."""
    if service.get("build") is None:
        return None
    command = service["command"]
    return (shlex.split(command) if isinstance(command, str) else command)[0]


@pytest.fixture(scope="module")
def routes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, set[str]]:
    from mash.console.app import create_console_app
    from mash.console.runtime import build_runtime
    from mash.intake.app import create_intake_app
    from mash.worker.faust_app import create_app

    tmp = tmp_path_factory.mktemp("routes")
    agencies = tmp / "agencies.json"
    agencies.write_text('{"agencies": []}', encoding="utf-8")
    users = tmp / "users.json"
    users.write_text('{"users": []}', encoding="utf-8")
    settings = Settings(
        mode="development",
        child_key_secret=SECRET,
        console_session_secret=SESSION_SECRET,
        master_keys=MASTER_KEYS,
        data_dir=tmp / "worker",
    )
    ruleset = load_ruleset(None)
    registry = Registry(settings)
    registry.add(ruleset)
    worker: Any = create_app(settings, ruleset, registry)
    intake = create_intake_app(settings, ruleset, AgencyDirectory(agencies))
    console = create_console_app(build_runtime(settings, UserDirectory(users), ruleset))
    return {
        # faust's pages are aiohttp routes; the intake's and console's are FastAPI (starlette) routes
        "worker": {route.resource.canonical for route in worker.web.web_app.router.routes()},
        "intake": {str(getattr(route, "path", "")) for route in intake.routes},
        "console": {str(getattr(route, "path", "")) for route in console.routes},
    }


# ---------------------------------------------------------------- docker-compose.yml


@pytest.fixture(scope="module")
def compose_raw() -> dict[str, Any]:
    document = load_yaml(COMPOSE_FILE)
    assert isinstance(document, dict)
    return document


@pytest.fixture(scope="module")
def compose(compose_raw: dict[str, Any]) -> dict[str, Any]:
    """The compose file as compose sees it once `.env` holds the required secrets and keys."""
    interpolated: dict[str, Any] = interpolate(compose_raw, COMPOSE_ENV)
    return interpolated


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = compose["services"]
    return found


def compose_schema() -> dict[str, Any]:
    # Read from the installed distribution: check-jsonschema vendors the official schema
    # (compose-spec/compose-spec, schema/compose-spec.json) for its `check-compose-spec` hook.
    schema_file = importlib.metadata.distribution("check-jsonschema").locate_file(
        "check_jsonschema/builtin_schemas/vendor/compose-spec.json"
    )
    schema: dict[str, Any] = json.loads(Path(str(schema_file)).read_text(encoding="utf-8"))
    assert schema["title"] == "Compose Specification"
    return schema


def schema_errors(validator: jsonschema.protocols.Validator, document: Any) -> list[str]:
    return [
        f"{'/'.join(map(str, error.absolute_path)) or '<root>'}: {error.message}"
        for error in sorted(validator.iter_errors(document), key=lambda e: list(map(str, e.absolute_path)))
    ]


def test_compose_file_is_valid_against_the_compose_specification(
    compose_raw: dict[str, Any], compose: dict[str, Any]
) -> None:
    schema = compose_schema()
    validator_class = jsonschema.validators.validator_for(schema)
    validator_class.check_schema(schema)
    validator = validator_class(schema)
    assert schema_errors(validator, compose_raw) == []
    assert schema_errors(validator, compose) == []


def test_the_compose_schema_really_rejects_mistakes(compose: dict[str, Any]) -> None:
    validator = jsonschema.validators.validator_for(compose_schema())(compose_schema())
    broken = copy.deepcopy(compose)
    broken["services"]["intake"]["helthcheck"] = broken["services"]["intake"].pop("healthcheck")
    broken["services"]["worker-1"]["depends_on"] = "kafka"
    errors = schema_errors(validator, broken)
    assert any("helthcheck" in e for e in errors), errors
    assert any(e.startswith("services/worker-1/depends_on") for e in errors), errors


def test_compose_refuses_to_start_without_its_secrets(compose_raw: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="MASH_CHILD_KEY_SECRET"):
        interpolate(compose_raw, {})
    without_master_key = {k: v for k, v in COMPOSE_ENV.items() if k != "MASH_MASTER_KEYS"}
    with pytest.raises(ValueError, match="MASH_MASTER_KEYS"):
        interpolate(compose_raw, without_master_key)
    with pytest.raises(ValueError, match="MASH_MASTER_KEYS"):
        interpolate(compose_raw, {**COMPOSE_ENV, "MASH_MASTER_KEYS": ""})
    # each of them, missing or empty, on its own
    for name in COMPOSE_ENV:
        without = {k: v for k, v in COMPOSE_ENV.items() if k != name}
        with pytest.raises(ValueError, match=name):
            interpolate(compose_raw, without)
        with pytest.raises(ValueError, match=name):
            interpolate(compose_raw, {**without, name: ""})
    for text in walk_strings(compose_raw):
        # every reference is ${NAME...}: a bare $NAME or an unescaped $ would be a surprise
        assert "$" not in COMPOSE_VARIABLE.sub("", text), text
        for match in COMPOSE_VARIABLE.finditer(text):
            assert match["op"], f"{match[0]}: give a default (:-) or make it required (:?)"
            if match["name"] in COMPOSE_ENV:
                assert match["op"] == ":?"


def test_compose_gives_the_master_key_to_intake_and_console_only(
    services: dict[str, dict[str, Any]],
) -> None:
    commands = set()
    for name, service in services.items():
        command = mash_command(service)
        if command is None:
            continue
        commands.add(command)
        env = env_map(service["environment"])
        assert "MASH_DEAD_LETTER_PRIVATE_KEY" not in env, f"{name}: the private key stays with operators"
        settings = settings_from_env(env)
        if command in MASTER_KEY_COMMANDS:
            assert settings.master_keys is not None, f"{name} refuses to start without the master key"
            assert settings.master_keys.get_secret_value() == MASTER_KEYS, f"{name}: from .env, never inline"
            assert settings.master().current.key_id == "mk-test"
        else:
            assert "MASH_MASTER_KEYS" not in env, f"{name} must never hold the master key"
            with pytest.raises(ValueError, match="MASH_MASTER_KEYS must be set"):
                settings.master()
        if command == "worker":
            assert settings.dead_letter_public_key == DEAD_LETTER_PUBLIC_KEY, f"{name}: from .env"
            box_key(settings.dead_letter_public_key, "MASH_DEAD_LETTER_PUBLIC_KEY")
        else:
            assert "MASH_DEAD_LETTER_PUBLIC_KEY" not in env, name
    assert commands == {"topics", "worker", "intake", "console"}


def test_expected_services_and_images(services: dict[str, dict[str, Any]]) -> None:
    assert set(services) == {
        "kafka",
        "topics",
        "worker-1",
        "worker-2",
        "intake",
        "console",
        "prometheus",
        "grafana",
    }
    assert services["kafka"]["image"] == "apache/kafka:3.9.1"
    assert services["prometheus"]["image"].startswith("prom/prometheus:")
    assert services["grafana"]["image"].startswith("grafana/grafana:")
    for name, service in services.items():
        assert "image" in service or "build" in service, name
        if "build" in service:
            assert service["build"] == ".", name
            assert (ROOT / "Dockerfile").is_file()
    commands = {name: mash_command(service) for name, service in services.items()}
    assert commands == {
        "kafka": None,
        "topics": "topics",
        "worker-1": "worker",
        "worker-2": "worker",
        "intake": "intake",
        "console": "console",
        "prometheus": None,
        "grafana": None,
    }
    for name, command in commands.items():
        if command is not None:
            assert command in mash_cli.commands, f"{name}: `mash {command}` does not exist"


def test_kafka_is_a_single_kraft_node_on_the_compose_network(services: dict[str, dict[str, Any]]) -> None:
    kafka = services["kafka"]
    env = env_map(kafka["environment"])
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"] == f"{env['KAFKA_NODE_ID']}@kafka:9093"
    assert re.fullmatch(r"[A-Za-z0-9_-]{22}", env["CLUSTER_ID"]), "a base64 UUID (kafka-storage random-uuid)"
    listeners = dict(item.split("://") for item in env["KAFKA_LISTENERS"].split(","))
    protocols = dict(item.split(":") for item in env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(","))
    assert set(listeners) == set(protocols)
    assert env["KAFKA_CONTROLLER_LISTENER_NAMES"] in listeners
    assert env["KAFKA_INTER_BROKER_LISTENER_NAME"] in listeners
    assert "ports" not in kafka, "the broker is for the compose network only"
    # the data volume is where the broker writes its log
    assert (("kafka-data", env["KAFKA_LOG_DIRS"], "rw")) in short_volumes(kafka)
    test = kafka["healthcheck"]["test"]
    assert test[0] == "CMD"
    assert test[1] == "/opt/kafka/bin/kafka-broker-api-versions.sh"
    assert test[test.index("--bootstrap-server") + 1] == "localhost:9092"
    # what the MASH processes connect to is what the broker advertises
    advertised = {item.split("://")[1] for item in env["KAFKA_ADVERTISED_LISTENERS"].split(",")}
    for name, service in services.items():
        if mash_command(service):
            assert env_map(service["environment"])["MASH_KAFKA_BOOTSTRAP"] in advertised, name


def test_every_mash_variable_is_a_setting_and_parses(services: dict[str, dict[str, Any]]) -> None:
    fields = settings_fields()
    for name, service in services.items():
        env = env_map(service.get("environment"))
        mash_vars = {k: v for k, v in env.items() if k.startswith("MASH_")}
        assert set(mash_vars) <= fields, f"{name}: not settings: {set(mash_vars) - fields}"
        if mash_command(service) is None:
            assert not mash_vars, name
            continue
        settings = settings_from_env(mash_vars)
        assert settings.mode == "production"
        assert settings.child_key_secret is not None
        assert settings.kafka_bootstrap == "kafka:9092"
        assert (settings.topic_partitions, settings.topic_replication) == (4, 1)


def test_processes_listen_on_all_interfaces(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        command = mash_command(service)
        if command in PORT_FIELD:
            host_var = f"MASH_{command.upper()}_HOST"
            assert env_map(service["environment"])[host_var] == "0.0.0.0", name  # noqa: S104


def test_healthchecks_are_well_formed_and_ask_a_served_path(
    services: dict[str, dict[str, Any]], routes: dict[str, set[str]]
) -> None:
    for name, service in services.items():
        command = mash_command(service)
        healthcheck = service.get("healthcheck")
        if command in PORT_FIELD or name == "kafka":
            assert healthcheck is not None, f"{name} needs a healthcheck"
        if healthcheck is None:
            continue
        test = healthcheck["test"]
        assert isinstance(test, list), name
        assert test[0] in ("CMD", "CMD-SHELL"), name
        for key in ("interval", "timeout", "start_period", "start_interval"):
            if key in healthcheck:
                assert GO_DURATION.match(healthcheck[key]), f"{name}: {key}={healthcheck[key]!r}"
        assert int(healthcheck["retries"]) >= 1, name
        if command in PORT_FIELD:
            # the slim image has no curl: python's urllib, which fails on a non-2xx answer
            assert test[:3] == ["CMD", "python", "-c"], name
            compile(test[3], f"{name} healthcheck", "exec")
            assert "urllib.request" in test[3]
            url = HEALTH_URL.search(test[3])
            assert url, f"{name}: no http://127.0.0.1:PORT/PATH in {test[3]!r}"
            settings = settings_from_env(env_map(service["environment"]))
            assert int(url["port"]) == getattr(settings, PORT_FIELD[command]), name
            assert url["path"] == "/health/ready"
            assert url["path"] in routes[command], f"{name}: {command} does not serve {url['path']}"


def test_depends_on_targets_exist_with_sensible_conditions(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        depends = service.get("depends_on", {})
        if isinstance(depends, list):
            depends = {target: {"condition": "service_started"} for target in depends}
        for target, spec in depends.items():
            assert target in services, f"{name} depends on unknown {target}"
            assert target != name
            condition = spec.get("condition", "service_started")
            if condition == "service_healthy":
                assert "healthcheck" in services[target], f"{name} waits for {target} to be healthy"
            if condition == "service_completed_successfully":
                assert services[target].get("restart") == "no", f"{target} must be a one-shot service"
    for name in ("topics", "worker-1", "worker-2", "intake", "console"):
        assert services[name]["depends_on"]["kafka"]["condition"] == "service_healthy", name
    for name in ("worker-1", "worker-2", "intake", "console"):
        assert services[name]["depends_on"]["topics"]["condition"] == "service_completed_successfully"


def test_volumes_are_declared_and_bind_mounts_exist(
    compose: dict[str, Any], services: dict[str, dict[str, Any]]
) -> None:
    declared = set(compose.get("volumes") or {})
    used: set[str] = set()
    for name, service in services.items():
        targets = []
        for source, target, mode in short_volumes(service):
            assert target.startswith("/"), f"{name}: {target}"
            assert mode in ("ro", "rw"), f"{name}: {mode}"
            targets.append(target)
            if source.startswith((".", "/")):
                assert (ROOT / source).exists(), f"{name}: bind source {source} does not exist"
            else:
                assert source in declared, f"{name}: volume {source} is not declared"
                used.add(source)
        assert len(targets) == len(set(targets)), f"{name}: two mounts on one path"
    assert declared == used, f"declared but unused: {declared - used}"


def test_each_worker_has_its_own_state_volume_at_the_data_dir(services: dict[str, dict[str, Any]]) -> None:
    workers = {name: s for name, s in services.items() if mash_command(s) == "worker"}
    assert sorted(workers) == ["worker-1", "worker-2"]
    state_volumes = []
    for name, service in workers.items():
        data_dir = str(settings_from_env(env_map(service["environment"])).data_dir)
        mounts = [(source, mode) for source, target, mode in short_volumes(service) if target == data_dir]
        assert len(mounts) == 1, f"{name}: nothing mounted at MASH_DATA_DIR={data_dir}"
        source, mode = mounts[0]
        assert mode == "rw", f"{name}: state volume mounted {mode}"
        assert not source.startswith((".", "/")), f"{name}: state needs a named volume, not a bind mount"
        state_volumes.append(source)
    assert len(set(state_volumes)) == len(state_volumes), "workers must not share a state volume"
    for name, service in services.items():
        if name not in workers:
            assert not {s for s, _, _ in short_volumes(service)} & set(state_volumes), name


def test_published_ports_are_unique_and_reach_the_process(services: dict[str, dict[str, Any]]) -> None:
    published: list[str] = []
    for name, service in services.items():
        for port in service.get("ports", []):
            assert re.fullmatch(r"\d+:\d+", str(port)), f"{name}: publish as HOST:CONTAINER, got {port!r}"
            host, container = str(port).split(":")
            published.append(host)
            command = mash_command(service)
            if command in PORT_FIELD:
                settings = settings_from_env(env_map(service["environment"]))
                assert int(container) == getattr(settings, PORT_FIELD[command]), name
    assert len(published) == len(set(published)), published
    assert "8400" in published, "the intake adapter is published on 8400"
    assert "8401" in published, "the console is published on 8401"


def test_intake_reads_the_agencies_file_from_a_read_only_mount(services: dict[str, dict[str, Any]]) -> None:
    intake = services["intake"]
    agencies_file = str(settings_from_env(env_map(intake["environment"])).agencies_file)
    mounts = {target: (source, mode) for source, target, mode in short_volumes(intake)}
    assert agencies_file in mounts, f"nothing mounted at MASH_AGENCIES_FILE={agencies_file}"
    source, mode = mounts[agencies_file]
    assert mode == "ro"
    assert (ROOT / source).resolve() == DEPLOY / "agencies.example.json"


def test_console_reads_its_users_file_from_a_read_only_mount(services: dict[str, dict[str, Any]]) -> None:
    console = services["console"]
    settings = settings_from_env(env_map(console["environment"]))
    assert settings.console_session_secret is not None
    assert settings.console_session_secret.get_secret_value() == SESSION_SECRET, "from .env, never inline"
    users_file = str(settings.console_users_file)
    mounts = {target: (source, mode) for source, target, mode in short_volumes(console)}
    assert users_file in mounts, f"nothing mounted at MASH_CONSOLE_USERS_FILE={users_file}"
    source, mode = mounts[users_file]
    assert mode == "ro"
    parsed = UsersFile.model_validate_json((ROOT / source).read_bytes())
    assert parsed.users == [], "the example ships no users (and so no password hashes)"


def test_example_agencies_file_is_valid_and_holds_no_keys() -> None:
    parsed = AgencyFile.model_validate_json((DEPLOY / "agencies.example.json").read_bytes())
    assert [a.id for a in parsed.agencies] == [agency_id for agency_id, *_ in DEMO_AGENCIES]
    assert all(a.key_hashes == () for a in parsed.agencies), "the example ships no key hashes"


# ---------------------------------------------------------------- Dockerfile


def dockerfile_instructions() -> list[tuple[str, str]]:
    text = DOCKERFILE.read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    joined = re.sub(r"\\\n", " ", "\n".join(lines))
    instructions = []
    for line in joined.splitlines():
        if line.strip():
            keyword, _, rest = line.strip().partition(" ")
            instructions.append((keyword.upper(), " ".join(rest.split())))
    return instructions


def test_dockerfile_builds_a_plain_production_image(services: dict[str, dict[str, Any]]) -> None:
    instructions = dockerfile_instructions()
    assert instructions[0] == ("FROM", "python:3.11-slim")
    assert [kw for kw, _ in instructions].count("FROM") == 1
    runs = " && ".join(rest for kw, rest in instructions if kw == "RUN")
    assert re.search(r"pip install \.(\s|$)", runs), "installs the package with `pip install .`"
    assert ".[" not in runs, "no extras (no dev extra) in the production image"
    for kw, rest in instructions:
        if kw in ("COPY", "ADD"):
            assert kw == "COPY"
            *sources, _ = rest.split()
            for source in sources:
                assert (ROOT / source).exists(), f"COPY of missing {source}"
                assert not source.startswith((".mash", ".venv", "tests", ".")), source
    users = [rest for kw, rest in instructions if kw == "USER"]
    assert users, "the image must not run as root"
    assert users[-1].split(":")[0] not in ("root", "0")
    assert ("ENTRYPOINT", '["mash"]') in instructions
    # the image's MASH_* defaults are settings, and the state directory is the one mounted
    env: dict[str, str] = {}
    for kw, rest in instructions:
        if kw == "ENV":
            env.update(dict(item.split("=", 1) for item in shlex.split(rest)))
    mash_env = {k: v for k, v in env.items() if k.startswith("MASH_")}
    assert set(mash_env) <= settings_fields()
    for secret in ("MASH_CHILD_KEY_SECRET", "MASH_MASTER_KEYS", "MASH_DEAD_LETTER_PRIVATE_KEY"):
        assert secret not in env, f"no secret in the image: {secret}"
    image_data_dir = mash_env["MASH_DATA_DIR"]
    assert image_data_dir in runs, "the image creates the state directory for its user"
    for name in ("worker-1", "worker-2"):
        assert str(settings_from_env(env_map(services[name]["environment"])).data_dir) == image_data_dir


# ---------------------------------------------------------------- Prometheus and Grafana


def test_prometheus_scrapes_every_process_on_its_port(services: dict[str, dict[str, Any]]) -> None:
    config = load_yaml(PROMETHEUS_CONFIG)
    assert config["global"]["scrape_interval"] == "15s"
    assert config["rule_files"] == ["alerts.yml"]
    assert (PROMETHEUS_CONFIG.parent / "alerts.yml").resolve() == ALERT_RULES
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert set(jobs) == {"mash-worker", "mash-intake", "mash-console"}
    expected = {"mash-worker": "worker", "mash-intake": "intake", "mash-console": "console"}
    for job_name, command in expected.items():
        job = jobs[job_name]
        assert job.get("metrics_path", "/metrics") == "/metrics"
        targets = [t for group in job["static_configs"] for t in group["targets"]]
        want = {name for name, s in services.items() if mash_command(s) == command}
        assert {t.split(":")[0] for t in targets} == want, job_name
        for target in targets:
            host, port = target.split(":")
            settings = settings_from_env(env_map(services[host]["environment"]))
            assert int(port) == getattr(settings, PORT_FIELD[command]), target


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    found = shutil.which("promtool")
    if found is None:
        pytest.skip("promtool is not installed (Debian package `prometheus`: make system-deps)")
    return subprocess.run([found, *args], capture_output=True, text=True, check=False, cwd=ROOT)


def test_prometheus_config_passes_promtool() -> None:
    result = promtool("check", "config", str(PROMETHEUS_CONFIG))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 rule files found" in result.stdout, "promtool checked the alert rules the config names"


def test_alert_rules_pass_promtool() -> None:
    result = promtool("check", "rules", str(ALERT_RULES))
    assert result.returncode == 0, result.stdout + result.stderr


def test_alert_rules_unit_tests_pass() -> None:
    """`promtool test rules`: each alert fires on its condition and not on the nearest fine one."""
    result = promtool("test", "rules", str(ALERT_TESTS))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def alert_rules() -> dict[str, dict[str, Any]]:
    rules: dict[str, dict[str, Any]] = {}
    for group in load_yaml(ALERT_RULES)["groups"]:
        for rule in group["rules"]:
            assert "alert" in rule, f"only alerting rules here: {rule}"
            assert rule["alert"] not in rules, f"{rule['alert']} defined twice"
            rules[rule["alert"]] = rule
    return rules


def operations_docs() -> str:
    return "\n".join(p.read_text(encoding="utf-8") for p in OPERATIONS_DOCS)


def test_the_alerts_the_issue_asks_for_exist_each_tested_with_a_runbook() -> None:
    rules = alert_rules()
    assert {
        "MashRedCaseOverdue",
        "MashOldestWaitingCaseOverTarget",
        "MashConsumerLagGrowing",
        "MashDeadLettersArriving",
        "MashIntakeErrorRate",
        "MashWorkerDown",
    } <= set(rules)
    tests = load_yaml(ALERT_TESTS)
    assert tests["rule_files"] == ["alerts.yml"]
    tested: dict[str, list[int]] = {}
    for case in tests["tests"]:
        for check in case["alert_rule_test"]:
            tested.setdefault(check["alertname"], []).append(len(check["exp_alerts"]))
    docs = operations_docs()
    for name, rule in rules.items():
        assert name in tested, f"{name} has no unit test in {ALERT_TESTS.name}"
        assert max(tested[name]) > 0, f"{name} is never shown firing"
        assert rule["labels"]["severity"] in ("critical", "warning"), name
        assert {"summary", "description", "runbook_url"} <= set(rule["annotations"]), name
        assert rule["annotations"]["runbook_url"].endswith(f"/operations/runbooks/#{name.lower()}")
        runbook = re.search(rf"^#+ {name}\n\n(.+?)(?=^#|\Z)", docs, flags=re.MULTILINE | re.DOTALL)
        assert runbook is not None, f"{name} has no runbook section (### {name}) in {OPERATIONS_DOCS[1]}"
        assert len(runbook.group(1).split()) > 60, f"{name}'s runbook is too thin"
    assert not set(tested) - set(rules), "tests for alerts that do not exist"


def test_alert_rules_use_only_the_configured_jobs() -> None:
    jobs = {job["job_name"] for job in load_yaml(PROMETHEUS_CONFIG)["scrape_configs"]}
    for name, rule in alert_rules().items():
        for job in re.findall(r'job="([^"]+)"', rule["expr"]):
            assert job in jobs, f"{name} names job {job}, which prometheus.yml does not scrape"


def test_prometheus_and_grafana_mounts(services: dict[str, dict[str, Any]]) -> None:
    prometheus = {t: s for s, t, _ in short_volumes(services["prometheus"])}
    assert (ROOT / prometheus["/etc/prometheus/prometheus.yml"]).resolve() == PROMETHEUS_CONFIG
    # rule_files are relative to the config file: alerts.yml must sit beside it in the container
    assert (ROOT / prometheus["/etc/prometheus/alerts.yml"]).resolve() == ALERT_RULES
    grafana = {t: s for s, t, _ in short_volumes(services["grafana"])}
    assert (ROOT / grafana["/etc/grafana/provisioning"]).resolve() == DEPLOY / "grafana" / "provisioning"

    datasources = load_yaml(DEPLOY / "grafana/provisioning/datasources/prometheus.yml")
    assert datasources["apiVersion"] == 1
    (source,) = datasources["datasources"]
    assert source["type"] == "prometheus"
    assert source["url"] == "http://prometheus:9090"
    assert "prometheus" in services

    dashboards = load_yaml(DEPLOY / "grafana/provisioning/dashboards/mash.yml")
    assert dashboards["apiVersion"] == 1
    (provider,) = dashboards["providers"]
    assert provider["type"] == "file"
    path = provider["options"]["path"]
    assert path in grafana, f"the dashboards provider reads {path}, which is not mounted"
    assert (ROOT / grafana[path]).resolve() == DASHBOARDS


# ---------------------------------------------------------------- Grafana dashboards

METRIC_NAME = re.compile(r"\bmash_[a-z0-9_]+")


def dashboards() -> dict[str, dict[str, Any]]:
    found = {p.name: json.loads(p.read_text(encoding="utf-8")) for p in sorted(DASHBOARDS.glob("*.json"))}
    assert found, "no dashboards"
    return found


def catalogued_metrics() -> set[str]:
    return set(re.findall(r"^\|\s*`(mash_[a-z0-9_]+)`", operations_docs(), flags=re.MULTILINE))


def test_dashboards_are_provisionable_and_distinct() -> None:
    boards = dashboards()
    titles = {board["title"] for board in boards.values()}
    assert {"MASH front door", "MASH service health"} <= titles
    uids = [board["uid"] for board in boards.values()]
    assert len(uids) == len(set(uids)), uids
    for name, board in boards.items():
        assert re.fullmatch(r"[a-z0-9-]{1,40}", board["uid"]), name
        assert name == f"{board['uid']}.json"
        assert board.get("id") is None, f"{name}: a provisioned dashboard has no fixed id"
        assert isinstance(board["schemaVersion"], int)
        ids = [panel["id"] for panel in board["panels"]]
        assert len(ids) == len(set(ids)), f"{name}: panel ids repeat"
        for panel in board["panels"]:
            grid = panel["gridPos"]
            assert grid["x"] + grid["w"] <= 24, f"{name}: {panel['title']} is wider than the grid"
            if panel["type"] == "row":
                continue
            assert panel["datasource"] == {"type": "prometheus", "uid": "prometheus"}, panel["title"]
            assert panel["targets"], f"{name}: {panel['title']} has no query"
            assert panel.get("description"), f"{name}: {panel['title']} says nothing about itself"
            refs = [t["refId"] for t in panel["targets"]]
            assert len(refs) == len(set(refs)), panel["title"]
    datasources = load_yaml(DEPLOY / "grafana/provisioning/datasources/prometheus.yml")
    assert datasources["datasources"][0]["uid"] == "prometheus"


def dashboard_metrics(board: dict[str, Any]) -> set[str]:
    names = set()
    for panel in board["panels"]:
        for target in panel.get("targets", []):
            for name in METRIC_NAME.findall(target["expr"]):
                names.add(name.removesuffix("_bucket"))
    return names


def test_dashboards_and_alerts_query_only_catalogued_metrics() -> None:
    catalogue = catalogued_metrics()
    assert catalogue, "no metrics catalogue in docs/operations/metrics.md"
    for name, board in dashboards().items():
        used = dashboard_metrics(board)
        assert used, name
        assert used <= catalogue, f"{name} queries uncatalogued metrics: {sorted(used - catalogue)}"
        for panel in board["panels"]:
            for target in panel.get("targets", []):
                # Console gauges are the same on every replica: max() them, never sum() them raw.
                assert not re.search(
                    r"sum(?: by \([^)]*\))? \(mash_(console|figures|imm)_", target["expr"]
                ), f"{name}: {panel['title']}: {target['expr']}"
    for name, rule in alert_rules().items():
        used = {n.removesuffix("_bucket") for n in METRIC_NAME.findall(rule["expr"])}
        assert used <= catalogue, f"{name} uses uncatalogued metrics: {sorted(used - catalogue)}"


def test_front_door_dashboard_answers_the_managers_questions() -> None:
    used = dashboard_metrics(dashboards()["mash-front-door.json"])
    for metric in (
        "mash_contacts_received_total",  # demand by source
        "mash_contacts_screened_total",  # levels
        "mash_figures_rolling_12m_conversion_rate",  # conversion
        "mash_figures_rolling_12m_re_referral_rate",  # re-referrals
        "mash_console_overdue_cases",  # overdue cases
        "mash_console_oldest_waiting_seconds",
        "mash_imm_latest_agenda_cases",  # IMM
    ):
        assert metric in used, metric
    health = dashboard_metrics(dashboards()["mash-service-health.json"])
    for metric in (
        "mash_worker_messages_consumed_total",  # throughput
        "mash_worker_event_processing_seconds",  # latency
        "mash_worker_consumer_lag_messages",  # lag
        "mash_intake_requests_total",  # errors
        "mash_dead_letters_total",  # DLQ
    ):
        assert metric in health, metric


# ---------------------------------------------------------------- Kubernetes


@pytest.fixture(scope="module")
def manifests() -> list[dict[str, Any]]:
    kustomization = load_yaml(KUBERNETES / "kustomization.yaml")
    assert kustomization["apiVersion"] == "kustomize.config.k8s.io/v1beta1"
    assert kustomization["kind"] == "Kustomization"
    assert kustomization["namespace"] == "mash"
    listed = kustomization["resources"]
    on_disk = sorted(p.name for p in KUBERNETES.glob("*.yaml") if p.name != "kustomization.yaml")
    assert sorted(listed) == on_disk, "kustomization.yaml lists every manifest and nothing else"
    documents = []
    for name in listed:
        for document in yaml.safe_load_all((KUBERNETES / name).read_text(encoding="utf-8")):
            if document is not None:
                documents.append(document)
    return documents


def by_kind(manifests: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {m["metadata"]["name"]: m for m in manifests if m["kind"] == kind}


def pod_templates(manifests: list[dict[str, Any]]) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    for manifest in manifests:
        if manifest["kind"] in ("Deployment", "StatefulSet", "Job"):
            yield manifest, manifest["spec"]["template"]


def container_env(container: dict[str, Any], manifests: list[dict[str, Any]]) -> dict[str, str]:
    """The environment a container starts with: envFrom ConfigMaps, then env, with Secret values."""
    config_maps = by_kind(manifests, "ConfigMap")
    secrets = by_kind(manifests, "Secret")
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        env.update(config_maps[source["configMapRef"]["name"]]["data"])
    for item in container.get("env", []):
        if "value" in item:
            env[item["name"]] = item["value"]
        elif "secretKeyRef" in item["valueFrom"]:
            ref = item["valueFrom"]["secretKeyRef"]
            env[item["name"]] = secrets[ref["name"]]["stringData"][ref["key"]]
        else:
            ref = item["valueFrom"]["configMapKeyRef"]
            env[item["name"]] = config_maps[ref["name"]]["data"][ref["key"]]
    return env


def test_every_manifest_is_valid_against_the_kubernetes_schemas(manifests: list[dict[str, Any]]) -> None:
    kinds = sorted(m["kind"] for m in manifests)
    assert kinds == [
        "ConfigMap",
        "Deployment",
        "Deployment",
        "Job",
        "Namespace",
        "Secret",
        "Service",
        "Service",
        "Service",
        "StatefulSet",
    ]
    problems = []
    for manifest in manifests:
        assert manifest["apiVersion"], manifest
        assert manifest["metadata"]["name"], manifest
        try:
            kubernetes_validate.validate(manifest, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            where = "/".join(map(str, exc.absolute_path))
            problems.append(f"{manifest['kind']}/{manifest['metadata']['name']}: {where}: {exc.message}")
    assert problems == []


def test_the_kubernetes_schemas_really_reject_mistakes(manifests: list[dict[str, Any]]) -> None:
    statefulset = copy.deepcopy(by_kind(manifests, "StatefulSet")["mash-worker"])
    statefulset["spec"]["replicaz"] = 2
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(statefulset, KUBERNETES_VERSION, strict=True)
    statefulset = copy.deepcopy(by_kind(manifests, "StatefulSet")["mash-worker"])
    statefulset["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"] = "8402"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(statefulset, KUBERNETES_VERSION, strict=True)


def test_pods_env_is_settings_and_parses(manifests: list[dict[str, Any]]) -> None:
    fields = settings_fields()
    for config_map in by_kind(manifests, "ConfigMap").values():
        assert set(config_map["data"]) <= fields
    for workload, template in pod_templates(manifests):
        # Service links would inject MASH_WORKER_PORT=tcp://... for a Service named mash-worker.
        assert template["spec"]["enableServiceLinks"] is False, workload["metadata"]["name"]
        for container in template["spec"]["containers"]:
            env = container_env(container, manifests)
            mash_vars = {k: v for k, v in env.items() if k.startswith("MASH_")}
            assert set(mash_vars) <= fields, f"{container['name']}: {set(mash_vars) - fields}"
            settings = settings_from_env(mash_vars)
            assert settings.mode == "production"
            assert settings.child_key_secret is not None
            assert container["args"][0] in mash_cli.commands, container["args"]


def test_probes_ask_served_paths_on_the_process_port(
    manifests: list[dict[str, Any]], routes: dict[str, set[str]]
) -> None:
    seen = set()
    for workload, template in pod_templates(manifests):
        annotations = template["metadata"].get("annotations", {})
        for container in template["spec"]["containers"]:
            command = container["args"][0]
            if command not in PORT_FIELD:
                assert "readinessProbe" not in container
                continue
            seen.add(command)
            settings = settings_from_env(container_env(container, manifests))
            listen_port = getattr(settings, PORT_FIELD[command])
            assert getattr(settings, f"{command}_host") == "0.0.0.0"  # noqa: S104
            ports = {p["name"]: p["containerPort"] for p in container["ports"]}
            assert listen_port in ports.values(), f"{command} listens on {listen_port}"
            for probe_name, path in (("readinessProbe", "/health/ready"), ("livenessProbe", "/health/live")):
                probe = container[probe_name]["httpGet"]
                port = ports[probe["port"]] if isinstance(probe["port"], str) else probe["port"]
                assert port == listen_port, f"{workload['metadata']['name']} {probe_name}"
                assert probe["path"] == path
                assert path in routes[command], f"{command} does not serve {path}"
            assert annotations["prometheus.io/scrape"] == "true"
            assert int(annotations["prometheus.io/port"]) == listen_port
            assert annotations["prometheus.io/path"] in routes[command]
            for kind in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(container["resources"][kind]), f"{command} {kind}"
    assert seen == set(PORT_FIELD)


def test_worker_statefulset_keeps_state_on_its_own_volumes(manifests: list[dict[str, Any]]) -> None:
    statefulset = by_kind(manifests, "StatefulSet")["mash-worker"]
    spec = statefulset["spec"]
    assert spec["replicas"] == 2
    (container,) = spec["template"]["spec"]["containers"]
    assert container["args"] == ["worker"]
    data_dir = str(settings_from_env(container_env(container, manifests)).data_dir)
    assert data_dir == "/var/lib/mash"
    claims = {claim["metadata"]["name"] for claim in spec["volumeClaimTemplates"]}
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    assert mounts.get(data_dir) in claims, "MASH_DATA_DIR is on a volumeClaimTemplate"
    # the non-root user can write the volume
    assert spec["template"]["spec"]["securityContext"]["fsGroup"] == 10001
    service = by_kind(manifests, "Service")[spec["serviceName"]]
    assert service["spec"]["clusterIP"] == "None", "the StatefulSet's Service is headless"


def test_services_select_their_pods_and_named_ports(manifests: list[dict[str, Any]]) -> None:
    templates = [template for _, template in pod_templates(manifests)]
    for name, service in by_kind(manifests, "Service").items():
        selector = service["spec"]["selector"]
        matching = [t for t in templates if selector.items() <= t["metadata"]["labels"].items()]
        assert len(matching) == 1, f"{name} selects {len(matching)} pod templates"
        container_ports = {
            p["name"]: p["containerPort"] for c in matching[0]["spec"]["containers"] for p in c["ports"]
        }
        for port in service["spec"]["ports"]:
            target = port["targetPort"]
            assert (
                target in container_ports if isinstance(target, str) else target in container_ports.values()
            )
    for workload, template in pod_templates(manifests):
        if workload["kind"] != "Job":
            assert (
                workload["spec"]["selector"]["matchLabels"].items() <= template["metadata"]["labels"].items()
            )
    assert by_kind(manifests, "Deployment")["mash-intake"]["spec"]["replicas"] == 2
    assert by_kind(manifests, "Deployment")["mash-console"]["spec"]["replicas"] >= 1


def test_secret_holds_a_valid_agencies_file_that_intake_mounts(manifests: list[dict[str, Any]]) -> None:
    secret = by_kind(manifests, "Secret")["mash-secrets"]
    AgencyFile.model_validate_json(secret["stringData"]["agencies.json"])
    deployment = by_kind(manifests, "Deployment")["mash-intake"]
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    agencies_file = settings_from_env(container_env(container, manifests)).agencies_file
    volumes = {v["name"]: v for v in pod["volumes"]}
    for mount in container["volumeMounts"]:
        if agencies_file.parent == Path(mount["mountPath"]):
            volume = volumes[mount["name"]]["secret"]
            assert mount["readOnly"] is True
            assert volume["secretName"] == "mash-secrets"
            items = {item["path"]: item["key"] for item in volume["items"]}
            assert items[agencies_file.name] in secret["stringData"]
            break
    else:
        pytest.fail(f"MASH_AGENCIES_FILE={agencies_file} is not on a mounted volume")


def test_console_gets_its_session_secret_and_users_file_from_the_secret(
    manifests: list[dict[str, Any]],
) -> None:
    secret = by_kind(manifests, "Secret")["mash-secrets"]
    assert UsersFile.model_validate_json(secret["stringData"]["console-users.json"]).users == []
    deployment = by_kind(manifests, "Deployment")["mash-console"]
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["args"] == ["console"]
    refs = {
        item["name"]: item["valueFrom"]["secretKeyRef"]
        for item in container["env"]
        if "valueFrom" in item and "secretKeyRef" in item["valueFrom"]
    }
    assert refs["MASH_CONSOLE_SESSION_SECRET"] == {"name": "mash-secrets", "key": "console-session-secret"}
    assert refs["MASH_CHILD_KEY_SECRET"] == {"name": "mash-secrets", "key": "child-key-secret"}
    assert secret["stringData"]["console-session-secret"] != secret["stringData"]["child-key-secret"]
    settings = settings_from_env(container_env(container, manifests))
    assert settings.console_session_secret is not None
    assert settings.console_secure_cookies is True, "behind the ingress's TLS: Secure cookies"
    users_file = settings.console_users_file
    volumes = {v["name"]: v for v in pod["volumes"]}
    for mount in container["volumeMounts"]:
        if users_file.parent == Path(mount["mountPath"]):
            volume = volumes[mount["name"]]["secret"]
            assert mount["readOnly"] is True
            assert "subPath" not in mount, "a subPath mount never sees an updated Secret"
            assert volume["secretName"] == "mash-secrets"
            items = {item["path"]: item["key"] for item in volume["items"]}
            assert items[users_file.name] == "console-users.json"
            break
    else:
        pytest.fail(f"MASH_CONSOLE_USERS_FILE={users_file} is not on a mounted volume")


def test_only_intake_and_console_get_the_master_key_from_the_secret(
    manifests: list[dict[str, Any]],
) -> None:
    secret = by_kind(manifests, "Secret")["mash-secrets"]["stringData"]
    assert "master-keys" in secret
    assert secret["master-keys"] not in (secret["child-key-secret"], secret["console-session-secret"])
    assert not [key for key in secret if "private" in key], "the dead-letter private key is given to no pod"
    for config_map in by_kind(manifests, "ConfigMap").values():
        assert "MASH_MASTER_KEYS" not in config_map["data"], "the master key is a secret"
    commands = set()
    for workload, template in pod_templates(manifests):
        for container in template["spec"]["containers"]:
            command = container["args"][0]
            commands.add(command)
            where = f"{workload['metadata']['name']}/{container['name']}"
            items = {item["name"]: item for item in container.get("env", [])}
            env = container_env(container, manifests)
            assert "MASH_DEAD_LETTER_PRIVATE_KEY" not in env, f"{where}: the private key stays with operators"
            if command in MASTER_KEY_COMMANDS:
                assert items["MASH_MASTER_KEYS"]["valueFrom"] == {
                    "secretKeyRef": {"name": "mash-secrets", "key": "master-keys"}
                }, where
                # the placeholder is refused: a process never starts on it
                with pytest.raises(ValueError, match="ID:BASE64"):
                    settings_from_env(env).master()
            else:
                assert "MASH_MASTER_KEYS" not in env, f"{where} must never hold the master key"
            if command == "worker":
                # public, so a plain value; the placeholder is refused, so the worker never starts on it
                assert "value" in items["MASH_DEAD_LETTER_PUBLIC_KEY"], where
                with pytest.raises(ValueError, match="MASH_DEAD_LETTER_PUBLIC_KEY"):
                    box_key(env["MASH_DEAD_LETTER_PUBLIC_KEY"], "MASH_DEAD_LETTER_PUBLIC_KEY")
            else:
                assert "MASH_DEAD_LETTER_PUBLIC_KEY" not in env, where
    assert commands == {"topics", "worker", "intake", "console"}


def test_topics_job_runs_mash_topics(manifests: list[dict[str, Any]]) -> None:
    job = by_kind(manifests, "Job")["mash-topics"]
    pod = job["spec"]["template"]["spec"]
    assert pod["restartPolicy"] in ("OnFailure", "Never")
    (container,) = pod["containers"]
    assert container["args"] == ["topics"]
    images = {c["image"] for _, t in pod_templates(manifests) for c in t["spec"]["containers"]}
    assert len(images) == 1, "every process runs the same image"
