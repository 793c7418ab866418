"""The simulated contacts the pipeline measurements send, as the intake would have written them."""

from __future__ import annotations

from benchmarks.settings import bench_settings
from benchmarks.workload import (
    Workload,
    bench_keyring,
    one_child_bodies,
    resolved_child_keys,
    stand_in_child,
)
from mash.domain.contact import ContactSubmission, SealedContactEvent
from mash.domain.identities import Identities
from mash.domain.ruleset import load_ruleset
from mash.domain.ruleset_history import RulesetHistory
from mash.views.ledger import H_CONTACT
from mash.worker import identities_agent


def test_workload_records_are_the_contacts_keyed_by_contact_id_and_sealed(workload: Workload) -> None:
    assert len(workload.events) == len(workload.records) == 300
    keyring = bench_keyring()  # as a console holds it: the master key, and the keys topic read
    for key, value, _ in workload.keys:
        keyring.on_record(key, value)
    assert len(workload.keys) == 300  # a data key per contact
    for event, (key, value, headers) in zip(workload.events, workload.records, strict=True):
        assert key == event.contact_id.encode()
        sealed = SealedContactEvent.model_validate_json(value)
        assert (sealed.contact_id, sealed.identifiers) == (event.contact_id, event.identifiers)
        assert event.child.family_name.encode() not in value
        assert sealed.opened(keyring.personal(sealed)) == event
        assert dict(headers)[H_CONTACT] == event.contact_id.encode()
    assert len({e.contact_id for e in workload.events}) == 300
    assert 0 < workload.children < 300


def test_the_stand_in_children_are_the_children_the_worker_finds(workload: Workload) -> None:
    settings = bench_settings("127.0.0.1:1", "unitbench")
    rulesets = RulesetHistory.of(load_ruleset())
    identities = Identities()
    child_of: dict[str, str] = {}
    for _, value, _ in workload.records:
        for update in identities_agent.step(
            identities, settings.topic("contacts"), value, settings, rulesets
        ).updates:
            child_of.update((entry.id, update.child_key) for entry in update.add)
    assert child_of == resolved_child_keys(workload.events)
    assert (
        len(set(child_of.values())) == workload.children == len({stand_in_child(e) for e in workload.events})
    )


def test_one_child_bodies_are_valid_single_child_submissions_with_fresh_references() -> None:
    bodies = one_child_bodies(50, "run1")
    assert len({body["agency_reference"] for _, body in bodies}) == 50
    for _, body in bodies:
        submission = ContactSubmission.model_validate(body)
        assert len(submission.children) == 1
        assert submission.agency_reference.startswith("BENCH-run1-")
