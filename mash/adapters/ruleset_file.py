"""The ruleset in force, re-read when the council's ruleset file changes.

The intake adapter (which checks indicator codes against the catalogue) and the worker
(which screens with it) each hold one. `current` looks at MASH_RULESET_FILE at most every
`check_every_s` seconds; a changed file is parsed and validated exactly as at start. A
valid file replaces the ruleset in force; a file with errors is refused, each problem is
logged with its line, field and reason, and the last good ruleset stays in force. (At
start there is no last good ruleset: a bad file stops the process, see `load_or_exit`.)
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Callable
from pathlib import Path

from prometheus_client import Counter, Gauge

from mash.adapters.watched_file import WatchedFile
from mash.domain.ruleset import Ruleset, RulesetError, load_ruleset, parse_ruleset
from mash.observability.logging import get_logger

log = get_logger(__name__)

RULESET_RELOADS = Counter(
    "mash_ruleset_reloads_total",
    "Changed ruleset files read while running: applied, or refused with errors (the last good one kept)",
    ["outcome"],
)
RULESET_VERSION = Gauge("mash_ruleset_info", "The ruleset version in force (value 1)", ["version"])


class RulesetHolder:
    def __init__(
        self,
        ruleset: Ruleset,
        path: Path | None = None,
        check_every_s: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ruleset = ruleset
        self._codes = ruleset.codes
        self._file = WatchedFile(path) if path is not None else None
        self._check_every_s = check_every_s
        self._clock = clock
        self._next_check = clock() + check_every_s
        if self._file is not None:
            with contextlib.suppress(OSError):
                self._file.read()  # the version now in force, to notice the next change
        RULESET_VERSION.labels(version=ruleset.version).set(1)

    @property
    def current(self) -> Ruleset:
        if self._file is not None and self._clock() >= self._next_check:
            self._next_check = self._clock() + self._check_every_s
            self.reload_if_changed()
        return self._ruleset

    @property
    def codes(self) -> frozenset[str]:
        """`current.codes`, made once per ruleset rather than on every request (without looking at
        the file: read `current` first)."""
        return self._codes

    def reload_if_changed(self) -> bool:
        """Reads the file if it changed; True when a new ruleset came into force."""
        if self._file is None or not self._file.changed():
            return False
        source = str(self._file.path)
        try:
            ruleset = parse_ruleset(self._file.read().decode("utf-8"), source)
        except RulesetError as exc:
            RULESET_RELOADS.labels(outcome="refused").inc()
            log.error(
                "ruleset_reload_refused",
                file=source,
                problems=[str(p) for p in exc.problems],
                keeping=self._ruleset.version,
            )
            return False
        except (OSError, UnicodeDecodeError) as exc:
            RULESET_RELOADS.labels(outcome="refused").inc()
            log.error(
                "ruleset_reload_refused", file=source, error=type(exc).__name__, keeping=self._ruleset.version
            )
            return False
        RULESET_VERSION.labels(version=self._ruleset.version).set(0)
        RULESET_VERSION.labels(version=ruleset.version).set(1)
        RULESET_RELOADS.labels(outcome="applied").inc()
        log.info("ruleset_reloaded", file=source, version=ruleset.version, previous=self._ruleset.version)
        self._ruleset, self._codes = ruleset, ruleset.codes
        return True


def load_or_exit(path: Path | None) -> Ruleset:
    """The ruleset at start; a file with errors stops the process, naming each line and reason."""
    try:
        return load_ruleset(path)
    except RulesetError as exc:
        for problem in exc.problems:
            print(f"{exc.source}:{problem.line or 1}: {problem.field}: {problem.reason}", file=sys.stderr)
        sys.exit(f"the ruleset {exc.source} has {len(exc.problems)} problem(s); not starting")
    except (OSError, UnicodeDecodeError) as exc:
        sys.exit(f"cannot read the ruleset {path}: {type(exc).__name__}")
