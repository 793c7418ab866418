"""Who is asking: the signed session cookie, the user's role, and the CSRF token on every form.

Only the session cookie signs anyone in. An Authorization header (a partner's API key) is
never read, so a key can't open the console. The role is looked up in the users file on
every request, so removing a user or changing a role applies at once.
"""

from __future__ import annotations

import hmac
import secrets
import time

from fastapi import Request

from mash.console.users import User, UserDirectory

SESSION_SECONDS = 12 * 3600  # one long shift; then sign in again
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    # Pages carry children's personal data: never keep them in a browser or proxy cache.
    "Cache-Control": "no-store",
}


class SignedOut(Exception):
    pass


class Forbidden(Exception):
    def __init__(self, message: str) -> None:
        self.message = message


class Sessions:
    def __init__(self, users: UserDirectory) -> None:
        self.users = users

    def user(self, request: Request) -> User | None:
        name = request.session.get("user")
        since = request.session.get("since", 0)
        if not isinstance(name, str) or not isinstance(since, int) or time.time() - since > SESSION_SECONDS:
            return None
        return self.users.get(name)

    def require_user(self, request: Request) -> User:
        user = self.user(request)
        if user is None:
            raise SignedOut
        return user

    def require_caseworker(self, request: Request) -> User:
        """Coordinators and managers: the people who may see a case and decide on it."""
        user = self.require_user(request)
        if not user.can_decide:
            raise Forbidden("Your role sees the queue counts only, not cases.")
        return user

    @staticmethod
    def start(request: Request, user: User) -> None:
        # A fresh session on sign-in, so a token planted before it (session fixation) is useless.
        request.session.clear()
        request.session.update(user=user.username, since=int(time.time()), csrf=secrets.token_urlsafe(32))

    @staticmethod
    def csrf_token(request: Request) -> str:
        token = request.session.get("csrf")
        if not isinstance(token, str):
            token = secrets.token_urlsafe(32)
            request.session["csrf"] = token
        return token

    @staticmethod
    def csrf_ok(request: Request, fields: dict[str, str]) -> bool:
        expected = request.session.get("csrf")
        sent = fields.get("csrf_token", "")
        return isinstance(expected, str) and hmac.compare_digest(sent.encode(), expected.encode())
