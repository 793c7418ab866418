"""What the browser tests of the console share: Debian's chromium and signing in."""

from __future__ import annotations

from typing import TYPE_CHECKING

from playwright.sync_api import Page, expect

if TYPE_CHECKING:
    from tests.integration.conftest import ConsoleProc


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def sign_in(page: Page, console: ConsoleProc, username: str) -> None:
    page.goto(f"{console.url}/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(console.password(username))
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#live-indicator")).to_have_attribute("data-state", "live")
