"""Settings for every process, read from `MASH_*` environment variables.

Each field's environment variable is its name in capitals with the `MASH_` prefix, for
example `kafka_bootstrap` is `MASH_KAFKA_BOOTSTRAP`. The docs' configuration page
(docs/configuration.md) is a table made from these fields and their descriptions when the site is
built, so a description here is what a council's operator reads.
"""

from __future__ import annotations

from datetime import time
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from mash.adapters.sealing import LocalMasterKey, MasterKeys

# See `Settings.fetch_wait_ms`.
EMBEDDED_FETCH_WAIT_MS = 25


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MASH_", extra="ignore")

    mode: Literal["production", "development"] = Field(
        "production",
        description=(
            "`development` allows running without MASH_CHILD_KEY_SECRET (for tools that need no key); "
            "`production` refuses to start without it"
        ),
    )
    kafka_bootstrap: str = Field(
        "127.0.0.1:9092", description="Kafka bootstrap servers, host:port[,host:port]"
    )
    embedded_broker: bool = Field(
        False,
        description=(
            "the broker is the embedded one: the embedded profile (one record per producer batch, so end "
            "offsets are exact, a short fetch wait, and the intake's topic check around every write)"
        ),
    )
    topic_prefix: str = Field(
        "mash",
        pattern=r"^[a-zA-Z0-9_-]+$",
        description="prefix of every topic (`mash.contacts.v1`) and of the worker group (`mash-worker`)",
    )
    topic_partitions: int = Field(4, ge=1, description="partitions of each topic the service creates")
    topic_replication: int = Field(
        1, ge=1, description="replication factor of topics the service creates (3 on a real cluster)"
    )
    child_key_secret: SecretStr | None = Field(
        None,
        description=(
            "secret of the keyed hashes (HMAC-SHA256) of a child's identifiers and of the contact ids; "
            "required in production mode, and never to be changed once contacts have been accepted"
        ),
    )
    dead_letter_public_key: str | None = Field(
        None,
        description=(
            "the operators' public key for dead letters, base64 X25519 (`mash dlq keys` makes a pair): the "
            "worker seals each dead letter's original record to it. Without it a dead letter keeps only the "
            "record's place (topic, partition, offset), its size and SHA-256, never its bytes"
        ),
    )
    dead_letter_private_key: SecretStr | None = Field(
        None,
        description=(
            "the private key that opens dead letters, for `mash dlq show` only; it stays with the "
            "operators and is never given to the worker"
        ),
    )
    master_keys: SecretStr | None = Field(
        None,
        description=(
            "the council's master key, `ID:BASE64` (`mash keys new` makes one), which wraps every child's "
            "data key; after it, comma-separated, older master keys still needed until `mash keys rotate` "
            "has re-wrapped every data key. The intake, console and the commands that read or erase "
            "personal details refuse to start without it; the worker never needs it"
        ),
    )
    retention_nfa_years: int = Field(
        6,
        ge=1,
        description=(
            "years after a child's last contact when, if every contact ended with no further action, "
            "their personal details are erased (`mash retention run`, and the worker's nightly job); "
            "6 follows the six-year limitation period most councils' schedules use for such records: set "
            "your council's own (docs/security-and-privacy.md)"
        ),
    )
    retention_at: time | None = Field(
        time(3, 30),
        description=(
            "when the worker applies the retention policy each night (Europe/London); empty turns the "
            "nightly job off (`mash retention run --apply` still works)"
        ),
    )
    ruleset_file: Path | None = Field(
        None,
        description=(
            "the council's threshold ruleset file; none means the shipped default "
            "(`mash/rulesets/default.yaml`)"
        ),
    )
    agencies_file: Path = Field(
        Path(".mash/agencies.json"),
        description="agencies and their SHA-256-hashed API keys; re-read when it changes, no restart",
    )
    data_dir: Path = Field(Path(".mash/worker"), description="the worker's table state (RocksDB)")
    store: str = Field(
        "rocksdb://", description="faust table store: `rocksdb://`, or `memory://` for throwaway runs"
    )
    intake_host: str = Field("127.0.0.1", description="address the intake adapter (partner API) listens on")
    intake_port: int = Field(8400, description="port of the intake adapter: the partner API, metrics, health")
    console_host: str = Field("127.0.0.1", description="address the coordinator console listens on")
    console_port: int = Field(8401, description="port of the console: its pages, metrics, health")
    console_users_file: Path = Field(
        Path(".mash/users.json"), description="console users, their roles and argon2 password hashes"
    )
    console_session_secret: SecretStr | None = Field(
        None, description="signs console session cookies; `mash console` needs it"
    )
    console_secure_cookies: bool = Field(
        True,
        description="mark session cookies `Secure` (HTTPS only); turn off only for plain HTTP on loopback",
    )
    worker_host: str = Field(
        "127.0.0.1", description="address the worker's metrics and health server listens on"
    )
    worker_port: int = Field(8402, description="port of the worker's metrics and health server")
    max_body_bytes: int = Field(
        256 * 1024, description="largest request body the intake accepts (`413` above it)"
    )
    max_backdate_hours: float = Field(
        24.0,
        gt=0,
        description="how far back a partner may date a contact's `received_at` (`422` beyond it); "
        "older history is loaded with `mash replay`, so nobody rewrites a closed year by accident",
    )
    produce_timeout_s: float = Field(5.0, description="how long intake waits for Kafka before answering 503")
    worker_send_timeout_s: float = Field(
        1200.0,
        gt=0,
        description=(
            "seconds the worker retries a record Kafka has not acknowledged; after that it stops without "
            "committing (exit code 75) and starts again from its last commit when its supervisor restarts it"
        ),
    )
    agency_rate_per_s: float = Field(
        20.0,
        gt=0,
        description=(
            "requests per second each agency may make to the intake (token bucket refill); over it, "
            "`429` with `Retry-After`"
        ),
    )
    agency_rate_burst: int = Field(
        300, ge=1, description="requests an agency may make at once before its rate limit applies"
    )
    ruleset_check_s: float = Field(
        2.0,
        gt=0,
        description=(
            "how often intake and worker look for a changed MASH_RULESET_FILE (a bad file is refused "
            "and the last good ruleset kept)"
        ),
    )
    fetch_max_wait_ms: int | None = Field(
        None,
        ge=1,
        description=(
            "longest a fetch waits for records (worker, console, intake, figures); "
            "default the client's (1500 ms worker, 500 ms others), or "
            f"{EMBEDDED_FETCH_WAIT_MS} with the embedded broker (see docs/embedded-broker.md)"
        ),
    )
    rebalance_timeout_s: float = Field(
        60.0, description="consumer group rebalance timeout (`mash dev` uses 3)"
    )
    session_timeout_s: float = Field(60.0, description="consumer group session timeout (`mash dev` uses 10)")
    heartbeat_interval_s: float = Field(
        3.0, description="consumer group heartbeat interval (`mash dev` uses 1)"
    )
    imm_cutoff: time = Field(
        time(11, 30), description="when the mid-day meeting's agenda is frozen (Europe/London)"
    )
    log_level: str = Field("info", description="log level: `debug`, `info`, `warning` or `error`")

    @model_validator(mode="after")
    def _secret_in_production(self) -> Settings:
        if self.mode == "production" and self.child_key_secret is None:
            raise ValueError("MASH_CHILD_KEY_SECRET must be set in production mode")
        return self

    def master(self) -> MasterKeys:
        """The master keys, parsed; a clear error when they are missing or malformed."""
        if self.master_keys is None:
            raise ValueError(
                "MASH_MASTER_KEYS must be set: it opens and seals children's personal details "
                "(`mash keys new` makes one; `mash dev` makes its own)"
            )
        keys = [LocalMasterKey.parse(part) for part in self.master_keys.get_secret_value().split(",")]
        return MasterKeys(keys[0], tuple(keys[1:]))

    def session_secret(self) -> bytes:
        if self.console_session_secret is None:
            raise ValueError("MASH_CONSOLE_SESSION_SECRET must be set to run the console")
        return self.console_session_secret.get_secret_value().encode("utf-8")

    @property
    def app_id(self) -> str:
        return f"{self.topic_prefix}-worker"

    @property
    def fetch_wait_ms(self) -> int | None:
        """The fetch wait every consumer uses. The embedded broker holds a fetch for its whole
        wait even when records arrive, so there it is short; Apache Kafka answers as soon as
        records are there, so its clients' defaults only bound idle waits."""
        return self.fetch_max_wait_ms or (EMBEDDED_FETCH_WAIT_MS if self.embedded_broker else None)

    def topic(self, name: str) -> str:
        """The full name of one of the service's topics, e.g. topic('contacts') -> 'mash.contacts.v1'."""
        return f"{self.topic_prefix}.{name}.v1"

    def secret(self) -> bytes:
        assert self.child_key_secret is not None
        return self.child_key_secret.get_secret_value().encode("utf-8")
