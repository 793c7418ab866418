"""Partner agencies and their API keys.

Keys are stored only as SHA-256 hashes: a key is 32 random bytes, so a fast hash is as
safe as a slow one and keeps every request cheap. The file is re-read when it changes,
so a key can be added, rotated or revoked without a restart.
"""

from __future__ import annotations

import contextlib
import hashlib
import secrets
from pathlib import Path

import orjson
from pydantic import BaseModel, ConfigDict

from mash.domain.contact import CinSource


class Agency(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    name: str
    default_source: CinSource
    can_submit: bool = True
    can_report_outcomes: bool = False
    key_hashes: tuple[str, ...] = ()


class AgencyFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    agencies: list[Agency]


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def new_key(agency_id: str) -> str:
    return f"mash_{agency_id}_{secrets.token_urlsafe(32)}"


class AgencyDirectory:
    """Looks agencies up by API key, re-reading the file when its modification time changes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._mtime_ns = -1
        self._by_hash: dict[str, Agency] = {}
        self.reload_if_changed()

    def reload_if_changed(self) -> None:
        mtime_ns = self.path.stat().st_mtime_ns
        if mtime_ns == self._mtime_ns:
            return
        parsed = AgencyFile.model_validate_json(self.path.read_bytes())
        self._by_hash = {h: agency for agency in parsed.agencies for h in agency.key_hashes}
        self._mtime_ns = mtime_ns

    def by_key(self, key: str) -> Agency | None:
        # On a bad or missing file, keep the last good directory rather than lock every partner out.
        with contextlib.suppress(OSError, ValueError):
            self.reload_if_changed()
        return self._by_hash.get(hash_key(key))


DEMO_AGENCIES = (
    ("police", "Police", CinSource.POLICE, False),
    ("school", "Schools", CinSource.SCHOOLS, False),
    ("health", "Health", CinSource.OTHER_HEALTH, False),
    ("early-help", "Early help", CinSource.LA_EARLY_HELP, False),
    ("case-system", "Children's social care case system", CinSource.LA_SOCIAL_CARE, True),
)


def write_demo_agencies(agencies_file: Path, keys_file: Path) -> dict[str, str]:
    """Creates the demo agencies with fresh keys; returns agency id -> key (shown once)."""
    keys = {agency_id: new_key(agency_id) for agency_id, *_ in DEMO_AGENCIES}
    directory = AgencyFile(
        agencies=[
            Agency(
                id=agency_id,
                name=name,
                default_source=source,
                can_submit=True,
                can_report_outcomes=outcomes,
                key_hashes=(hash_key(keys[agency_id]),),
            )
            for agency_id, name, source, outcomes in DEMO_AGENCIES
        ]
    )
    agencies_file.parent.mkdir(parents=True, exist_ok=True)
    agencies_file.write_bytes(orjson.dumps(directory.model_dump(mode="json"), option=orjson.OPT_INDENT_2))
    keys_file.write_bytes(orjson.dumps(keys, option=orjson.OPT_INDENT_2))
    keys_file.chmod(0o600)
    return keys
