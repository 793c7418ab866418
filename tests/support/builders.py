"""Fictional contact submissions for tests."""

from __future__ import annotations

import uuid
from typing import Any


def child(
    given: str = "Testa", family: str = "Sampleford", dob: str = "2015-03-02", **extra: Any
) -> dict[str, Any]:
    return {"given_name": given, "family_name": family, "date_of_birth": dob, **extra}


def submission(
    *indicators: str, children: list[dict[str, Any]] | None = None, **extra: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "agency_reference": f"REF-{uuid.uuid4().hex[:12]}",
        "children": children or [child()],
        "indicators": list(indicators) or ["no_unmet_needs"],
        "narrative": "A fictional concern used in tests.",
        "consent": {"status": "given"},
        "referrer": {"name": "PC Example", "role": "police officer", "phone": "0151 000 0000"},
    }
    body.update(extra)
    return body
