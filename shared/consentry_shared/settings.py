"""Settings shared by every service.

Each service has one settings class (a subclass of :class:`ServiceSettings`) with its own env
prefix, built once at start-up (never at import time). ``KAFKA_BOOTSTRAP_SERVERS`` and
``DATABASE_URL`` are read without a prefix because operators set them once for all services;
every other setting has a safe default for the embedded mode.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from consentry_shared.auth import TokenBook
from consentry_shared.kafka.security import KafkaSecurity


class ServiceSettings(BaseSettings):
    """What every service needs: where Kafka is, where its database is, where its files go."""

    model_config = SettingsConfigDict(
        env_prefix="CONSENTRY_", extra="ignore", populate_by_name=True, env_ignore_empty=True
    )

    kafka_bootstrap_servers: str = Field(
        default="127.0.0.1:9092",
        validation_alias=AliasChoices("KAFKA_BOOTSTRAP_SERVERS", "CONSENTRY_KAFKA_BOOTSTRAP_SERVERS"),
    )
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        default="PLAINTEXT",
        validation_alias=AliasChoices("KAFKA_SECURITY_PROTOCOL", "CONSENTRY_KAFKA_SECURITY_PROTOCOL"),
    )
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = Field(
        default=None,
        validation_alias=AliasChoices("KAFKA_SASL_MECHANISM", "CONSENTRY_KAFKA_SASL_MECHANISM"),
    )
    kafka_sasl_username: str | None = Field(
        default=None, validation_alias=AliasChoices("KAFKA_SASL_USERNAME", "CONSENTRY_KAFKA_SASL_USERNAME")
    )
    kafka_sasl_password: str | None = Field(
        default=None,
        repr=False,
        validation_alias=AliasChoices("KAFKA_SASL_PASSWORD", "CONSENTRY_KAFKA_SASL_PASSWORD"),
    )
    kafka_ssl_cafile: str | None = Field(
        default=None, validation_alias=AliasChoices("KAFKA_SSL_CAFILE", "CONSENTRY_KAFKA_SSL_CAFILE")
    )
    database_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("DATABASE_URL", "CONSENTRY_DATABASE_URL"),
        description="SQLAlchemy or libpq URL; unset means SQLite in data_dir",
    )
    data_dir: Path = Field(
        default=Path(".consentry"),
        validation_alias=AliasChoices("CONSENTRY_DATA_DIR"),
    )
    topic_prefix: str = Field(
        default="",
        validation_alias=AliasChoices("CONSENTRY_TOPIC_PREFIX"),
        description="Prepended to every topic name (tests use one per run)",
    )
    consumer_group_prefix: str = Field(
        default="consentry",
        validation_alias=AliasChoices("CONSENTRY_GROUP_PREFIX"),
    )
    consumer_session_timeout_ms: int = Field(
        default=10_000,
        validation_alias=AliasChoices("CONSENTRY_CONSUMER_SESSION_TIMEOUT_MS"),
        description="Kafka consumer session timeout; `consentry up` lowers it for the embedded broker, "
        "which waits out a departed member's session before the group re-forms",
    )
    tokens_file: Path | None = Field(
        default=None,
        validation_alias=AliasChoices("CONSENTRY_TOKENS_FILE"),
        description="Hashed bearer tokens (JSONL, see consentry_shared.auth); unset means "
        "DATA_DIR/tokens.jsonl. Authentication is on whenever that file exists",
    )
    telemetry: bool = Field(default=True, validation_alias=AliasChoices("CONSENTRY_TELEMETRY"))
    host: str = "127.0.0.1"
    port: int = 0

    @property
    def consumer_heartbeat_ms(self) -> int:
        """A third of the session timeout, as Kafka recommends."""
        return max(100, self.consumer_session_timeout_ms // 3)

    def kafka_security(self) -> KafkaSecurity:
        """How to reach Kafka (TLS, SASL), checked for consistency."""
        return KafkaSecurity(
            protocol=self.kafka_security_protocol,
            mechanism=self.kafka_sasl_mechanism,
            username=self.kafka_sasl_username,
            password=self.kafka_sasl_password,
            cafile=self.kafka_ssl_cafile,
        )

    def topic(self, name: str) -> str:
        """The physical topic name for a logical one such as ``items.v1``."""
        return f"{self.topic_prefix}{name}"

    def group(self, service: str) -> str:
        """The consumer group of ``service``."""
        return f"{self.consumer_group_prefix}-{self.topic_prefix}{service}"

    def token_book(self) -> TokenBook:
        """The token file every HTTP endpoint authenticates against."""
        return TokenBook(self.tokens_file or self.data_dir / "tokens.jsonl")

    def database_url_for(self, service: str) -> str:
        """The database URL this service uses: ``DATABASE_URL`` or a SQLite file of its own."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / f'{service}.db').resolve()}"
