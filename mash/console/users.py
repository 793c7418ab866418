"""Console users: who may sign in, with which role, checked against an argon2 password hash.

Users are defined in a JSON file for now (`MASH_CONSOLE_USERS_FILE`). The file holds only
hashes; a password is shown once, when `mash dev` makes the demo users.
"""

from __future__ import annotations

import contextlib
import secrets
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import orjson
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from pydantic import BaseModel, ConfigDict, Field

_HASHER = PasswordHasher()


class ConsoleRole(StrEnum):
    COORDINATOR = "coordinator"
    MANAGER = "manager"
    READ_ONLY = "read_only"  # operations: counts only, never a case


class User(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    username: Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9._@-]+$")]
    role: ConsoleRole
    password_hash: Annotated[str, Field(pattern=r"^\$argon2")]

    @property
    def can_decide(self) -> bool:
        return self.role in (ConsoleRole.COORDINATOR, ConsoleRole.MANAGER)

    @property
    def can_sign_off(self) -> bool:
        return self.role is ConsoleRole.MANAGER


class UsersFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    users: list[User]


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


# Verifying against this when the username is unknown makes a wrong username cost the same
# time as a wrong password, so response times don't reveal which usernames exist.
_DUMMY_HASH = hash_password(secrets.token_urlsafe(16))


class UserDirectory:
    """Looks users up, re-reading the file when it changes so a user can be removed without a restart."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._mtime_ns = -1
        self._users: dict[str, User] = {}
        self.reload_if_changed()

    def reload_if_changed(self) -> None:
        mtime_ns = self.path.stat().st_mtime_ns
        if mtime_ns == self._mtime_ns:
            return
        parsed = UsersFile.model_validate_json(self.path.read_bytes())
        self._users = {user.username: user for user in parsed.users}
        self._mtime_ns = mtime_ns

    def get(self, username: str) -> User | None:
        # On a bad or missing file keep the last good directory rather than lock everyone out.
        with contextlib.suppress(OSError, ValueError):
            self.reload_if_changed()
        return self._users.get(username)

    def authenticate(self, username: str, password: str) -> User | None:
        user = self.get(username)
        try:
            _HASHER.verify(user.password_hash if user else _DUMMY_HASH, password)
        except (VerificationError, InvalidHashError):
            return None
        return user


DEMO_USERS = (
    ("coordinator", ConsoleRole.COORDINATOR),
    ("manager", ConsoleRole.MANAGER),
    ("operations", ConsoleRole.READ_ONLY),
)


def write_demo_users(users_file: Path, demo_users_file: Path) -> dict[str, tuple[str, str]]:
    """Creates the demo users with fresh random passwords; returns username -> (role, password)."""
    passwords = {name: secrets.token_urlsafe(12) for name, _ in DEMO_USERS}
    directory = UsersFile(
        users=[
            User(username=name, role=role, password_hash=hash_password(passwords[name]))
            for name, role in DEMO_USERS
        ]
    )
    users_file.parent.mkdir(parents=True, exist_ok=True)
    users_file.write_bytes(orjson.dumps(directory.model_dump(mode="json"), option=orjson.OPT_INDENT_2))
    users_file.chmod(0o600)
    shown = {name: (role.value, passwords[name]) for name, role in DEMO_USERS}
    demo_users_file.write_bytes(
        orjson.dumps(
            {name: {"role": r, "password": p} for name, (r, p) in shown.items()}, option=orjson.OPT_INDENT_2
        )
    )
    demo_users_file.chmod(0o600)
    return shown
