"""Settings for every process, read from `MASH_*` environment variables.

Each field's environment variable is its name in capitals with the `MASH_` prefix, for
example `kafka_bootstrap` is `MASH_KAFKA_BOOTSTRAP`. The README lists them all.
"""

from __future__ import annotations

from datetime import time
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# See `Settings.fetch_wait_ms`.
EMBEDDED_FETCH_WAIT_MS = 25


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MASH_", extra="ignore")

    mode: Literal["production", "development"] = Field(
        "production", description="development allows a generated child-key secret and the embedded broker"
    )
    kafka_bootstrap: str = Field(
        "127.0.0.1:9092", description="Kafka bootstrap servers, host:port[,host:port]"
    )
    embedded_broker: bool = Field(
        False,
        description="the broker is the embedded one: produce one record per batch so end offsets are exact",
    )
    topic_prefix: str = Field("mash", pattern=r"^[a-zA-Z0-9_-]+$", description="prefix of every topic name")
    topic_partitions: int = Field(4, ge=1, description="partitions of each topic the service creates")
    topic_replication: int = Field(1, ge=1, description="replication factor of topics the service creates")
    child_key_secret: SecretStr | None = Field(
        None, description="secret for the keyed hash of child identifiers"
    )
    ruleset_file: Path | None = Field(
        None, description="the council's threshold ruleset; default: shipped one"
    )
    agencies_file: Path = Field(Path(".mash/agencies.json"), description="agencies and their hashed API keys")
    data_dir: Path = Field(Path(".mash/worker"), description="worker table state (RocksDB)")
    store: str = Field("rocksdb://", description="faust table store: rocksdb:// or memory://")
    intake_host: str = "127.0.0.1"
    intake_port: int = 8400
    console_host: str = "127.0.0.1"
    console_port: int = 8401
    console_users_file: Path = Field(
        Path(".mash/users.json"), description="console users, roles, password hashes"
    )
    console_session_secret: SecretStr | None = Field(None, description="signs console session cookies")
    console_secure_cookies: bool = Field(True, description="mark session cookies Secure (HTTPS only)")
    worker_host: str = "127.0.0.1"
    worker_port: int = 8402
    max_body_bytes: int = Field(256 * 1024, description="largest accepted request body")
    produce_timeout_s: float = Field(5.0, description="how long intake waits for Kafka before answering 503")
    worker_send_timeout_s: float = Field(
        1200.0,
        gt=0,
        description=(
            "how long the worker retries a record Kafka does not acknowledge; then it stops, "
            "uncommitted, for its supervisor to start it again from its last commit"
        ),
    )
    agency_rate_per_s: float = Field(
        20.0, gt=0, description="requests per second each agency may make to the intake (token bucket refill)"
    )
    agency_rate_burst: int = Field(
        300, ge=1, description="requests an agency may make at once before its rate limit applies"
    )
    ruleset_check_s: float = Field(
        2.0, gt=0, description="how often intake and worker look for a changed MASH_RULESET_FILE"
    )
    fetch_max_wait_ms: int | None = Field(
        None,
        ge=1,
        description=(
            "longest a fetch waits for records (worker, console, intake, figures); "
            "default the client's (1500 ms worker, 500 ms others), or 10 on the embedded broker"
        ),
    )
    rebalance_timeout_s: float = Field(60.0, description="consumer group rebalance timeout")
    session_timeout_s: float = Field(60.0, description="consumer group session timeout")
    heartbeat_interval_s: float = Field(3.0, description="consumer group heartbeat interval")
    imm_cutoff: time = Field(
        time(11, 30), description="when the mid-day meeting's agenda is frozen (Europe/London)"
    )
    log_level: str = "info"

    @model_validator(mode="after")
    def _secret_in_production(self) -> Settings:
        if self.mode == "production" and self.child_key_secret is None:
            raise ValueError("MASH_CHILD_KEY_SECRET must be set in production mode")
        return self

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
