"""A refused form answers with a redirect (303) back to its page, so reloading never posts it again.

Why it was refused goes in the signed session cookie, naming the page it belongs to; what the
person had typed stays in this replica's memory for a few minutes under a random token, never
in a cookie, a URL or the browser's storage (it may describe a child, and a rationale can be
longer than a cookie may be). The page the browser is sent to takes both, once. Served by
another replica, the page still says why, with the form empty.
"""

from __future__ import annotations

import secrets
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from fastapi import Request
from fastapi.responses import RedirectResponse

SESSION_KEY = "refused"
KEEP_S = 300.0
MAX_KEPT = 2000


@dataclass
class Drafts:
    """Refused forms' fields by token, the oldest dropped first past `max_kept` or after `keep_s`."""

    keep_s: float = KEEP_S
    max_kept: int = MAX_KEPT
    clock: Callable[[], float] = time.monotonic
    _kept: OrderedDict[str, tuple[float, dict[str, str]]] = field(default_factory=OrderedDict)

    def keep(self, fields: Mapping[str, str]) -> str:
        self._expire()
        token = secrets.token_urlsafe(16)
        self._kept[token] = (self.clock(), dict(fields))
        while len(self._kept) > self.max_kept:
            self._kept.popitem(last=False)
        return token

    def take(self, token: str) -> dict[str, str]:
        self._expire()
        kept = self._kept.pop(token, None)
        return kept[1] if kept else {}

    def _expire(self) -> None:
        oldest = self.clock() - self.keep_s
        while self._kept and next(iter(self._kept.values()))[0] < oldest:
            self._kept.popitem(last=False)


@dataclass(frozen=True)
class Refusal:
    errors: list[str]
    form: dict[str, str]


class Refusals:
    def __init__(self, drafts: Drafts | None = None) -> None:
        self.drafts = drafts or Drafts()

    def redirect(
        self, request: Request, page: str, errors: list[str], fields: Mapping[str, str] | None = None
    ) -> RedirectResponse:
        """Back to `page`, which will say why; `fields` (without the CSRF token) are put back in its form."""
        kept = {k: v for k, v in (fields or {}).items() if k != "csrf_token"}
        request.session[SESSION_KEY] = {
            "page": page,
            "errors": list(errors),
            "draft": self.drafts.keep(kept) if kept else None,
        }
        return RedirectResponse(page, status_code=303)

    def take(self, request: Request, page: str) -> Refusal:
        """The refusal to show on `page`, if the last one was for it. Any page of its kind takes
        it, so a refusal never turns up later on a page it wasn't for."""
        said = request.session.pop(SESSION_KEY, None)
        if not isinstance(said, dict) or said.get("page") != page:
            return Refusal([], {})
        token = said.get("draft")
        errors = [e for e in said.get("errors", []) if isinstance(e, str)]
        return Refusal(errors, self.drafts.take(token) if isinstance(token, str) else {})
