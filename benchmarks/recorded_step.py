"""The worker with its domain step recorded: what the step costs inside a running worker.

Run as its own process with a worker's environment: `python -m benchmarks.recorded_step`.
It is `mash worker` with one change: the children agent's `apply_stored` (the child's state
from JSON, the update applied, the decision, the state back to JSON) runs for real on the first
update only; every later update gets a copy of that result under the id of the entry it adds.
The worker still runs its identities agent for real (which child each contact is about, its
table, the update sent on the resolved topic), parses every update, reads and writes its child
table, sends one case record per contact (of the same size as a real one) and keeps its
metrics, so the gap between this run and the worker's is what the children's step costs where
it runs: between faust's per-message work, which an in-process loop does not have and a
sampling profile of the worker under-counts.
"""

from __future__ import annotations

from dataclasses import replace

from mash.config import Settings
from mash.domain.child import Step, apply_stored
from mash.domain.ruleset_history import RulesetHistory
from mash.domain.timeline import ChildUpdate
from mash.worker import children_agent
from mash.worker.main import run_worker


class RecordedStep:
    """`apply_stored`'s stand-in: the first real result, its case record re-keyed to each entry
    an update adds (one, a contact, for every update the bench's contacts make)."""

    def __init__(self) -> None:
        self.recorded: tuple[Step, bytes] | None = None

    def __call__(
        self, stored: bytes | None, update: ChildUpdate, rulesets: RulesetHistory
    ) -> tuple[Step, bytes]:
        if self.recorded is None:
            self.recorded = apply_stored(stored, update, rulesets)
        step, state = self.recorded
        cases = [replace(step.publish[0], key=entry.id) for entry in update.add]
        arrived = frozenset(entry.id for entry in update.add)
        return Step(state=step.state, publish=cases, duplicate=False, arrived=arrived), state


def main() -> None:
    # The agent looks the step up by this module-level name as each event comes.
    children_agent.apply_stored = RecordedStep()  # type: ignore[attr-defined]
    run_worker(Settings())


if __name__ == "__main__":
    main()
