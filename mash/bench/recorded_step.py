"""The worker with its domain step recorded: what the step costs inside a running worker.

Run as its own process with a worker's environment: `python -m mash.bench.recorded_step`.
It is `mash worker` with one change: `apply_stored` (the child's state from JSON, the
decision, the state back to JSON) runs for real on the first contact only; every later
contact gets a copy of that result under its own contact id. The worker still parses every
event, reads and writes its table, sends one case record per contact (of the same size as
a real one) and keeps its metrics, so the gap between this run and the worker's is what the
step costs where it runs: between faust's per-message work, which an in-process loop does
not have and a sampling profile of the worker under-counts.
"""

from __future__ import annotations

from dataclasses import replace

from mash.config import Settings
from mash.domain.child import Step, apply_stored
from mash.domain.ruleset_history import RulesetHistory
from mash.domain.timeline import Entry
from mash.streams import app as worker_app
from mash.streams.worker import run_worker


class RecordedStep:
    """`apply_stored`'s stand-in: the first real result, re-keyed to each contact."""

    def __init__(self) -> None:
        self.recorded: tuple[Step, bytes] | None = None

    def __call__(
        self, stored: bytes | None, child_key: str, entry: Entry, rulesets: RulesetHistory
    ) -> tuple[Step, bytes]:
        if self.recorded is None:
            self.recorded = apply_stored(stored, child_key, entry, rulesets)
        step, state = self.recorded
        case = replace(step.publish[0], key=entry.id)
        return Step(state=step.state, publish=[case], duplicate=False), state


def main() -> None:
    # The agent looks the step up by this module-level name as each event comes.
    worker_app.apply_stored = RecordedStep()  # type: ignore[attr-defined]
    run_worker(Settings())


if __name__ == "__main__":
    main()
