"""A replay line as the generator yields it, and the timestamps in it (docs/figures.md, "Replay
files"): one dict per line, `kind` saying whether it is a contact, an outcome or a decision."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

Line = dict[str, Any]


def stamp(at: datetime) -> str:
    """A line's time: UTC, to the whole second, as the partner API takes it."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
