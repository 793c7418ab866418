"""The log filter that keeps personal data out of logs (mash.observability.logging)."""

from __future__ import annotations

import json
import logging

import pytest
import structlog

from mash.observability.logging import configure_logging, drop_personal_data


def test_personal_fields_are_redacted_and_nhs_like_numbers_masked() -> None:
    event = drop_personal_data(
        None,
        "info",
        {"event": "seen 943 476 5919 and 9434765919", "given_name": "Testa", "narrative": "x", "level": 4},
    )
    assert event["given_name"] == "[redacted]"
    assert event["narrative"] == "[redacted]"
    assert "9434765919" not in event["event"]
    assert "943 476 5919" not in event["event"]
    assert event["level"] == 4


def test_library_log_lines_pass_through_the_same_filter(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("info", process="unit")
    logging.getLogger("some.library").warning("child 9434765919 mentioned")
    structlog.get_logger("mash.test").info("accepted", family_name="Sampleford", contacts=1)
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert lines[0]["event"] == "child [redacted-number] mentioned"
    assert lines[1]["family_name"] == "[redacted]"
    assert lines[1]["contacts"] == 1
