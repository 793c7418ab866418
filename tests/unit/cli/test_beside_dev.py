"""Commands run beside `mash dev` use its settings file, after the environment."""

from __future__ import annotations

import json
import os
import stat
import subprocess
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from mash.cli.dev_settings import read_settings_file, remove_settings_file, write_settings_file
from mash.cli.main import main
from mash.config import Settings

STACK_ENV = {
    "MASH_MODE": "development",
    "MASH_KAFKA_BOOTSTRAP": "127.0.0.1:39999",
    "MASH_EMBEDDED_BROKER": "true",
    "MASH_CHILD_KEY_SECRET": "the-running-stacks-secret",
    "MASH_TOPIC_PREFIX": "devstack",
    "MASH_AGENCIES_FILE": "/somewhere/.mash/agencies.json",
}


@pytest.fixture(autouse=True)
def no_mash_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """A fresh terminal: no MASH_* variable set."""
    for key in list(os.environ):
        if key.upper().startswith("MASH_"):
            monkeypatch.delenv(key)


@pytest.fixture
def reported(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Settings, date, date]]:
    """`mash report`'s calls, instead of reading Kafka."""
    calls: list[tuple[Settings, date, date]] = []

    async def compute_report(settings: Settings, start: date, end: date) -> dict[str, Any]:
        calls.append((settings, start, end))
        return {"from": start.isoformat(), "to": end.isoformat()}

    monkeypatch.setattr("mash.cli.report.compute_report", compute_report)
    return calls


def dead_pid() -> int:
    finished = subprocess.Popen(["true"])
    finished.wait()
    return finished.pid


def report(state_dir: Path, *args: str) -> Result:
    return CliRunner().invoke(main, ["report", *args, "--state-dir", str(state_dir)])


def test_the_settings_file_is_readable_by_its_owner_alone_and_holds_only_mash_settings(
    tmp_path: Path,
) -> None:
    path = write_settings_file(tmp_path, {**STACK_ENV, "PATH": "/usr/bin", "HOME": "/root"}, 4242)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    content = json.loads(path.read_text())
    assert content["pid"] == 4242
    assert content["env"] == STACK_ENV


def test_the_settings_file_keeps_its_mode_when_written_again_over_a_wider_one(tmp_path: Path) -> None:
    path = write_settings_file(tmp_path, STACK_ENV, 1)
    path.chmod(0o644)
    write_settings_file(tmp_path, STACK_ENV, 2)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_command_beside_mash_dev_uses_its_bootstrap_prefix_secret_and_agencies(
    tmp_path: Path, reported: list[tuple[Settings, date, date]]
) -> None:
    write_settings_file(tmp_path, STACK_ENV, os.getpid())
    assert report(tmp_path, "--year", "2025").exit_code == 0
    [(settings, _, _)] = reported
    assert settings.kafka_bootstrap == "127.0.0.1:39999"
    assert settings.embedded_broker
    assert settings.topic_prefix == "devstack"
    assert settings.secret() == b"the-running-stacks-secret"
    assert settings.agencies_file == Path("/somewhere/.mash/agencies.json")


def test_environment_variables_come_before_the_settings_file_and_are_pointed_out(
    tmp_path: Path, reported: list[tuple[Settings, date, date]], monkeypatch: pytest.MonkeyPatch
) -> None:
    write_settings_file(tmp_path, {**STACK_ENV, "MASH_LOG_LEVEL": "warning"}, os.getpid())
    monkeypatch.setenv("MASH_KAFKA_BOOTSTRAP", "kafka.council.example:9092")
    monkeypatch.setenv("mash_log_level", "debug")  # in any case, as pydantic-settings reads names
    result = report(tmp_path, "--year", "2025")
    assert result.exit_code == 0, result.output
    [(settings, _, _)] = reported
    assert settings.kafka_bootstrap == "kafka.council.example:9092"
    assert settings.topic_prefix == "devstack"
    assert settings.log_level == "debug"
    assert "note: MASH_KAFKA_BOOTSTRAP is the environment's, not the running `mash dev`'s" in result.output


def test_with_no_mash_dev_running_the_error_says_how_to_start_one_or_what_to_set(
    tmp_path: Path, reported: list[Any]
) -> None:
    result = report(tmp_path, "--year", "2025")
    assert result.exit_code == 2
    assert "MASH_CHILD_KEY_SECRET must be set in production mode" in result.output
    assert f"no running `mash dev` found in {tmp_path}: start one with `make run`" in result.output
    assert "set MASH_KAFKA_BOOTSTRAP and MASH_CHILD_KEY_SECRET" in result.output
    assert reported == []


def test_a_settings_file_left_by_a_mash_dev_killed_outright_is_not_taken_for_a_running_one(
    tmp_path: Path, reported: list[Any]
) -> None:
    pid = dead_pid()
    write_settings_file(tmp_path, STACK_ENV, pid)
    result = report(tmp_path, "--year", "2025")
    assert result.exit_code == 2
    assert f"(process {pid}) is no longer running" in result.output
    assert reported == []


def test_a_damaged_settings_file_is_not_taken_for_a_running_mash_dev(
    tmp_path: Path, reported: list[Any]
) -> None:
    (tmp_path / "settings.json").write_text('{"pid": ')
    found = read_settings_file(tmp_path)
    assert found is not None
    assert not found.running()
    result = report(tmp_path, "--year", "2025")
    assert result.exit_code == 2
    assert "is not a settings file `mash dev` wrote, or cannot be read" in result.output


def test_without_a_running_mash_dev_the_environment_alone_still_serves_a_real_cluster(
    tmp_path: Path, reported: list[tuple[Settings, date, date]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MASH_KAFKA_BOOTSTRAP", "kafka.council.example:9092")
    monkeypatch.setenv("MASH_CHILD_KEY_SECRET", "the-councils-secret")
    assert report(tmp_path, "--year", "2025").exit_code == 0
    [(settings, _, _)] = reported
    assert (settings.mode, settings.kafka_bootstrap) == ("production", "kafka.council.example:9092")


def test_the_state_dir_can_be_given_by_mash_state_dir(
    tmp_path: Path, reported: list[tuple[Settings, date, date]], monkeypatch: pytest.MonkeyPatch
) -> None:
    write_settings_file(tmp_path, STACK_ENV, os.getpid())
    monkeypatch.setenv("MASH_STATE_DIR", str(tmp_path))
    result = CliRunner().invoke(main, ["report", "--year", "2025"])
    assert result.exit_code == 0, result.output
    assert reported[0][0].topic_prefix == "devstack"


def test_only_the_mash_dev_that_wrote_the_settings_file_removes_it(tmp_path: Path) -> None:
    path = write_settings_file(tmp_path, STACK_ENV, 2)
    remove_settings_file(tmp_path, 1)
    assert path.exists()
    remove_settings_file(tmp_path, 2)
    assert not path.exists()
