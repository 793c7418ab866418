"""Every ruleset version the service has used, kept on `mash.rulesets.v1`.

A process that screens or checks contacts (the worker, `mash replay`) registers the ruleset it
loads, and reads every version registered before, so a contact is always screened under the
version pinned to it (mash.domain.ruleset_history), whichever worker handles it and however
long ago it was received. The topic has one partition, keyed by version, so every reader sees
the versions in the order they were first used. A version already registered with other rules
is refused: change the file's version.
"""

from __future__ import annotations

from collections.abc import Callable

from aiokafka import AIOKafkaProducer
from pydantic import ValidationError

from mash.adapters.follow import TopicFollower
from mash.adapters.ports import Record
from mash.adapters.ruleset_file import RulesetHolder
from mash.config import Settings
from mash.domain.ruleset import Ruleset
from mash.domain.ruleset_history import RulesetConflict, RulesetHistory
from mash.observability.logging import get_logger

log = get_logger(__name__)


def encode(ruleset: Ruleset) -> tuple[bytes, bytes]:
    return ruleset.version.encode(), ruleset.model_dump_json().encode()


class Registry:
    """The versions read from the topic, plus those this process registered itself."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.history: RulesetHistory | None = None
        self.follower = TopicFollower(settings, [settings.topic("rulesets")], self._on_record, "rulesets")

    def _on_record(self, record: Record) -> None:
        if record.value is None:
            return
        try:
            ruleset = Ruleset.model_validate_json(record.value)
        except ValidationError:
            log.warning("ruleset_registry_unreadable", offset=record.offset)
            return
        try:
            self.add(ruleset)
        except RulesetConflict:
            # Only a process that skipped the check writes such a record: the first version stands.
            log.error("ruleset_registry_conflict", version=ruleset.version, offset=record.offset)

    def add(self, ruleset: Ruleset) -> bool:
        """Adds a version; False for one already known with the same rules. Raises
        RulesetConflict for a known version with other rules."""
        if self.history is None:
            self.history = RulesetHistory.of(ruleset)
            return True
        grown = self.history.with_ruleset(ruleset)
        added = grown is not self.history
        self.history = grown
        return added

    async def read(self) -> None:
        await self.follower.read_to_end()

    async def register(self, ruleset: Ruleset) -> None:
        """Adds `ruleset` and, if it is new here, writes it to the topic (acks=all)."""
        if not self.add(ruleset):
            return
        producer = AIOKafkaProducer(bootstrap_servers=self.settings.kafka_bootstrap, acks="all")
        await producer.start()
        try:
            key, value = encode(ruleset)
            await producer.send_and_wait(self.settings.topic("rulesets"), value, key=key)
        finally:
            await producer.stop()
        log.info("ruleset_registered", version=ruleset.version, effective_from=str(ruleset.effective_from))


async def history_with(settings: Settings, current: Ruleset) -> RulesetHistory:
    """Every version registered, with `current` registered too; raises RulesetConflict."""
    registry = Registry(settings)
    await registry.read()
    await registry.register(current)
    assert registry.history is not None
    return registry.history


class LiveRulesets:
    """The history a running worker screens with: every version registered, kept current with
    the council's ruleset file (a changed file with a new version is registered as it is picked
    up) and with the versions other processes register."""

    def __init__(
        self, registry: Registry, holder: RulesetHolder, publish: Callable[[bytes, bytes], None]
    ) -> None:
        assert registry.history is not None, "read the registry first"
        self.registry = registry
        self.holder = holder
        self.publish = publish
        self._last = holder.current

    @property
    def history(self) -> RulesetHistory:
        current = self.holder.current
        if current is not self._last:
            self._last = current
            try:
                if self.registry.add(current):
                    self.publish(*encode(current))
                    log.info("ruleset_registered", version=current.version)
            except RulesetConflict as exc:
                log.error("ruleset_version_conflict", version=current.version, reason=str(exc))
        assert self.registry.history is not None
        return self.registry.history
