"""What the intake adapter knows of contacts: which submissions it has accepted and each
contact's current status.

It is rebuilt from Kafka (the contacts and cases topics) when the adapter starts and kept
current while it runs, so a restarted adapter, or any number of replicas, answers a
repeated submission with the original ids and produces nothing new.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import orjson

from mash.adapters.follow import TopicFollower
from mash.adapters.keyring import Keyring
from mash.adapters.ports import Follower, OnRecord, Record
from mash.config import Settings
from mash.domain.contact import ContactEvent
from mash.observability.logging import get_logger

log = get_logger(__name__)

# Headers on every contact record: enough to rebuild the ledger without parsing (or
# holding) the personal data in the record's value.
H_SUBMISSION = "mash-submission"
H_AGENCY = "mash-agency"
H_CONTACT = "mash-contact"
H_INDEX = "mash-child-index"
H_CHILDREN = "mash-children"


def contact_headers(reference_key: str, event: ContactEvent) -> list[tuple[str, bytes]]:
    return [
        (H_SUBMISSION, reference_key.encode()),
        (H_AGENCY, event.agency.encode()),
        (H_CONTACT, event.contact_id.encode()),
        (H_INDEX, str(event.child_index).encode()),
        (H_CHILDREN, str(event.children_in_submission).encode()),
    ]


# What the submitting agency may see of a case record: not the reasons or the trail, which can
# reveal the child's history with other agencies, and not the service's recommendation, which a
# partner could take for a decision. Once a person has decided, what they decided.
PARTNER_FIELDS = ("contact_id", "received_at", "due_at", "rag", "data_quality")
DECISION_FIELDS = ("level", "route", "pathway", "decided_at")


def partner_status(record: dict[str, object]) -> dict[str, object]:
    """A case record as its referrer sees it: `awaiting_decision`, `decided` or `closed`."""
    status: dict[str, object] = {"status": record["state"], **{key: record[key] for key in PARTNER_FIELDS}}
    if record["decided_at"] is not None:
        status.update({key: record[key] for key in DECISION_FIELDS})
    return status


@dataclass
class Submission:
    agency: str
    children: int
    contact_ids: dict[int, str] = field(default_factory=dict)

    @property
    def complete(self) -> bool:
        return len(self.contact_ids) == self.children

    def ordered_ids(self) -> list[str]:
        return [self.contact_ids[i] for i in sorted(self.contact_ids)]


class Ledger:
    def __init__(self) -> None:
        self.submissions: dict[str, Submission] = {}
        self.status: dict[str, dict[str, object]] = {}
        self.agency_of: dict[str, str] = {}
        self.placement: dict[str, int] = {}

    def clear(self) -> None:
        """Forgets everything: the topics it mirrors are gone (a fresh embedded broker)."""
        self.submissions.clear()
        self.status.clear()
        self.placement.clear()
        self.agency_of.clear()

    def accepted(self, reference_key: str) -> list[str] | None:
        sub = self.submissions.get(reference_key)
        return sub.ordered_ids() if sub and sub.complete else None

    def record_contact(
        self, reference_key: str, agency: str, contact_id: str, index: int, children: int
    ) -> None:
        sub = self.submissions.setdefault(reference_key, Submission(agency=agency, children=children))
        sub.contact_ids[index] = contact_id
        self.agency_of[contact_id] = agency
        self.status.setdefault(contact_id, {"contact_id": contact_id, "status": "received"})

    def record_case(self, record: dict[str, object]) -> None:
        contact_id = str(record["contact_id"])
        placement = int(str(record.get("placement", 0)))
        if placement < self.placement.get(contact_id, 0):
            return  # its old child's copy, published before it heard of the move (`supersedes`)
        self.placement[contact_id] = placement
        self.agency_of.setdefault(contact_id, str(record["agency"]))
        self.status[contact_id] = partner_status(record)

    def status_for(self, contact_id: str, agency: str) -> dict[str, object] | None:
        if self.agency_of.get(contact_id) != agency:
            return None
        return self.status.get(contact_id)


def _headers(pairs: Iterable[tuple[str, bytes]]) -> dict[str, str]:
    return {k: v.decode() for k, v in pairs}


def ledger_topics(settings: Settings) -> list[str]:
    return [settings.topic("contacts"), settings.topic("cases"), settings.topic("keys")]


def ledger_reader(settings: Settings, ledger: Ledger, keyring: Keyring) -> OnRecord:
    """Feeds the ledger from the contacts topic (headers only) and the cases topic, and the
    keyring from the keys topic."""
    contacts, keys = settings.topic("contacts"), settings.topic("keys")

    def on_record(record: Record) -> None:
        if record.topic == keys:
            keyring.on_record(record.key, record.value)
        elif record.topic == contacts:
            h = _headers(record.headers)
            if H_SUBMISSION in h:
                ledger.record_contact(
                    h[H_SUBMISSION], h[H_AGENCY], h[H_CONTACT], int(h[H_INDEX]), int(h[H_CHILDREN])
                )
        elif record.value is not None:
            try:
                ledger.record_case(orjson.loads(record.value))
            except (orjson.JSONDecodeError, KeyError, TypeError):
                log.warning("ledger_unreadable_case", offset=record.offset)

    return on_record


Follow = Callable[[list[str], OnRecord], Follower]
"""Makes a follower of these topics handing each record to `on_record`."""


class LedgerFeed:
    """The ledger and the keyring, kept current from Kafka by one follower.

    It starts following only once Kafka has been reached (`following` stays False until then),
    and is rebuilt from nothing when the broker turns out to be a fresh one (a restarted
    embedded broker): what the ledger knew is then gone from Kafka too.
    """

    def __init__(self, settings: Settings, keyring: Keyring, follow: Follow) -> None:
        self.ledger = Ledger()
        self.keyring = keyring
        self.following = False
        self._follow = follow
        self._topics = ledger_topics(settings)
        self._on_record = ledger_reader(settings, self.ledger, keyring)
        self._follower = follow(self._topics, self._on_record)

    @classmethod
    def from_kafka(cls, settings: Settings, keyring: Keyring) -> LedgerFeed:
        def follow(topics: list[str], on_record: OnRecord) -> Follower:
            return TopicFollower(settings, topics, on_record, "ledger")

        return cls(settings, keyring, follow)

    @property
    def caught_up(self) -> bool:
        """Whether the ledger has read what Kafka held when it started: until then, "no such
        submission" could be wrong."""
        return self._follower.caught_up.is_set()

    async def start(self) -> None:
        await self._follower.start()
        self.following = True

    async def stop(self) -> None:
        await self._follower.stop()

    async def rebuild(self) -> None:
        """Forgets everything and, if it was following, reads the (fresh) topics again."""
        await self._follower.stop()
        self.ledger.clear()
        self.keyring.clear()
        self._follower = self._follow(self._topics, self._on_record)
        if self.following:
            await self._follower.start()
