"""Partner agencies and their API keys.

Keys are stored only as SHA-256 hashes: a key is 32 random bytes, so a fast hash is as
safe as a slow one and keeps every request cheap. The file is re-read when it changes,
so a key can be added, rotated (list the new hash beside the old, then drop the old) or
revoked without a restart. An agency may carry its own rate and payload limits; without
them the intake's settings apply.
"""

from __future__ import annotations

import hashlib
import secrets
from pathlib import Path
from typing import Annotated

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from mash.adapters.watched_file import WatchedFile
from mash.domain.contact import CinSource
from mash.observability.logging import get_logger

log = get_logger(__name__)


class Agency(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    name: str
    default_source: CinSource
    can_submit: bool = True
    can_report_outcomes: bool = False
    key_hashes: tuple[Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")], ...] = ()
    rate_per_s: Annotated[float, Field(gt=0)] | None = Field(
        None, description="this agency's requests per second; default MASH_AGENCY_RATE_PER_S"
    )
    rate_burst: Annotated[int, Field(ge=1)] | None = Field(
        None, description="requests this agency may make at once; default MASH_AGENCY_RATE_BURST"
    )
    max_body_bytes: Annotated[int, Field(ge=1)] | None = Field(
        None, description="this agency's largest request body, below MASH_MAX_BODY_BYTES"
    )


class AgencyFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    agencies: list[Agency]


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def new_key(agency_id: str) -> str:
    return f"mash_{agency_id}_{secrets.token_urlsafe(32)}"


class AgencyDirectory:
    """Looks agencies up by API key, re-reading the file whenever it changes.

    A file that cannot be read or is invalid is refused (and logged); the last good
    directory stays in force, so a bad edit does not lock every partner out.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file = WatchedFile(path)
        self._by_hash: dict[str, Agency] = {}
        self._unreadable = False
        self._load()  # at start a bad file is an error: there is no last good one

    def _load(self) -> None:
        parsed = AgencyFile.model_validate_json(self._file.read())
        self._by_hash = {h: agency for agency in parsed.agencies for h in agency.key_hashes}

    def reload_if_changed(self) -> None:
        if not self._file.changed():
            return
        try:
            self._load()
        except OSError as exc:
            if not self._unreadable:  # once, not on every request while the file is missing
                log.error("agencies_reload_refused", file=str(self.path), error=type(exc).__name__)
            self._unreadable = True
            return
        except ValidationError as exc:
            # Where and why only: never the values, which include key hashes.
            problems = [
                f"{'.'.join(str(p) for p in err['loc']) or '(file)'}: {err['msg']}"
                for err in exc.errors(include_input=False, include_url=False)
            ]
            log.error("agencies_reload_refused", file=str(self.path), problems=problems)
            return
        self._unreadable = False
        log.info("agencies_reloaded", agencies=len({a.id for a in self._by_hash.values()}))

    def by_key(self, key: str) -> Agency | None:
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
