"""The worker run with its children's domain step recorded, to see what the step costs."""

from __future__ import annotations

from benchmarks.recorded_step import RecordedStep
from benchmarks.workload import Workload
from mash.domain.child import apply_stored
from mash.domain.persons import child_key_of
from mash.domain.ruleset import load_ruleset
from mash.domain.ruleset_history import RulesetHistory
from mash.domain.timeline import ChildUpdate, ContactEntry


def test_the_recorded_step_decides_the_first_update_and_hands_every_later_one_its_records(
    workload: Workload,
) -> None:
    ruleset = load_ruleset()
    rulesets = RulesetHistory.of(ruleset)
    first, later = (ContactEntry.of(e, ruleset.version) for e in workload.events[:2])
    keys = [child_key_of(e.contact_id) for e in workload.events[:2]]
    updates = [ChildUpdate(child_key=k, add=(entry,)) for k, entry in zip(keys, (first, later), strict=True)]
    recorded = RecordedStep()

    step, state = recorded(None, updates[0], rulesets)
    again, same_state = recorded(None, updates[1], rulesets)

    assert (step, state) == apply_stored(None, updates[0], rulesets)
    assert [p.key for p in step.publish] == [first.id]
    # The later update costs no step, yet sends a record as big as a real one under its entry's id.
    assert [p.key for p in again.publish] == [later.id]
    assert again.publish[0].value == step.publish[0].value
    assert (again.state, same_state) == (step.state, state)
    assert not again.duplicate
    assert recorded(None, ChildUpdate(child_key=keys[1], remove=(later.id,)), rulesets)[0].publish == []
