"""The console's web app in-process, for its unit tests: no Kafka (the app's lifespan is not started),
its view filled by hand and its ruleset registry given the versions a test names. What it sends
fails as if Kafka were unavailable, unless a test asks to keep it (`Console(..., outbox=True)`)."""

from __future__ import annotations

import re
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

from fastapi.testclient import TestClient

from mash.adapters.producer import Outgoing, ProducerHandle
from mash.adapters.ruleset_registry import Registry
from mash.config import Settings
from mash.console.app import create_console_app
from mash.console.runtime import build_runtime
from mash.console.users import UserDirectory, write_demo_users
from mash.domain.ruleset import Ruleset, load_ruleset
from mash.views.queues import ConsoleView
from tests.support.keys import test_keyring

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
NOW = datetime(2026, 3, 10, 10, 30, tzinfo=UTC)


@cache
def _demo_users() -> tuple[bytes, dict[str, tuple[str, str]]]:
    """The demo users once per test run: hashing their passwords (argon2) is slow on purpose."""
    with tempfile.TemporaryDirectory() as tmp:
        shown = write_demo_users(Path(tmp) / "users.json", Path(tmp) / "demo.json")
        return (Path(tmp) / "users.json").read_bytes(), shown


@dataclass(frozen=True)
class Sent:
    topic: str
    key: bytes | None
    value: bytes | None


class Outbox(ProducerHandle):
    """The console's producer, connected, keeping every record it is asked to send."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings, "console")
        self.sent: list[Sent] = []

    @property
    def ready(self) -> bool:
        return True

    async def publish(self, *records: Outgoing) -> None:
        self.sent.extend(Sent(r.topic, r.key, r.value) for r in records)


class Console:
    """A browser's view of the app: one session, no redirects followed (tests look at them)."""

    def __init__(
        self,
        tmp_path: Path,
        view: ConsoleView | None = None,
        rulesets: Iterable[Ruleset] = (),
        secure: bool = True,
        now: Callable[[], datetime] = lambda: NOW,
        outbox: bool = False,
    ) -> None:
        users_file, self.users = _demo_users()
        (tmp_path / "users.json").write_bytes(users_file)
        settings = Settings(
            mode="development",
            console_session_secret="unit-secret",  # type: ignore[arg-type]
            console_secure_cookies=secure,
            console_users_file=tmp_path / "users.json",
        )
        ruleset = load_ruleset()
        registry = Registry(settings)
        for known in (ruleset, *rulesets):
            registry.add(known)
        self.view = view if view is not None else ConsoleView(test_keyring())
        self.settings = settings
        self.outbox = Outbox(settings) if outbox else None
        app = create_console_app(
            build_runtime(
                settings,
                UserDirectory(settings.console_users_file),
                ruleset,
                now,
                self.view,
                registry,
                self.outbox,
            )
        )
        self.client = TestClient(app, base_url="https://console.test", follow_redirects=False)

    def sign_in(self, username: str) -> Console:
        answer = self.client.post(
            "/login",
            data={
                "csrf_token": self.csrf("/login"),
                "username": username,
                "password": self.users[username][1],
            },
        )
        assert answer.status_code == 303, answer.text
        return self

    @property
    def sent(self) -> list[Sent]:
        assert self.outbox is not None, "Console(..., outbox=True) keeps what the console sends"
        return self.outbox.sent

    def csrf(self, path: str) -> str:
        token = CSRF.search(self.client.get(path).text)
        assert token is not None, f"no form on {path}"
        return token.group(1)
