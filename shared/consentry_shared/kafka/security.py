"""Kafka connection security (TLS, SASL PLAIN / SCRAM) from settings, for FastStream and aiokafka."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from aiokafka.helpers import create_ssl_context
from faststream.security import BaseSecurity, SASLPlaintext, SASLScram256, SASLScram512

Protocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
Mechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]


class KafkaSecurityError(ValueError):
    """The security settings contradict each other (e.g. SASL without a mechanism)."""


@dataclass(frozen=True)
class KafkaSecurity:
    """How to reach the brokers. ``PLAINTEXT`` (the default) needs nothing else."""

    protocol: Protocol = "PLAINTEXT"
    mechanism: Mechanism | None = None
    username: str | None = None
    password: str | None = None
    cafile: str | None = None

    def __post_init__(self) -> None:
        if self.protocol.startswith("SASL"):
            if self.mechanism is None or not self.username or self.password is None:
                raise KafkaSecurityError(
                    f"{self.protocol} needs KAFKA_SASL_MECHANISM, KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD"
                )
        elif self.mechanism is not None:
            raise KafkaSecurityError(f"KAFKA_SASL_MECHANISM is set but the protocol is {self.protocol}")

    @property
    def uses_tls(self) -> bool:
        return self.protocol in ("SSL", "SASL_SSL")

    def for_faststream(self) -> BaseSecurity | None:
        """The FastStream ``security=`` object, or None for plaintext."""
        ssl_context = create_ssl_context(cafile=self.cafile) if self.uses_tls else None
        if not self.protocol.startswith("SASL"):
            return BaseSecurity(ssl_context=ssl_context, use_ssl=True) if self.uses_tls else None
        if self.username is None or self.password is None:  # unreachable: __post_init__ checks it
            raise KafkaSecurityError("SASL needs a username and a password")
        kind = {"PLAIN": SASLPlaintext, "SCRAM-SHA-256": SASLScram256, "SCRAM-SHA-512": SASLScram512}
        security_class: Any = kind[self.mechanism or "PLAIN"]
        security: BaseSecurity = security_class(
            self.username, self.password, ssl_context=ssl_context, use_ssl=self.uses_tls
        )
        return security

    def for_aiokafka(self) -> dict[str, Any]:
        """Keyword arguments for aiokafka clients (admin, producer, consumer)."""
        options: dict[str, Any] = {"security_protocol": self.protocol}
        if self.uses_tls:
            options["ssl_context"] = create_ssl_context(cafile=self.cafile)
        if self.protocol.startswith("SASL"):
            options.update(
                sasl_mechanism=self.mechanism,
                sasl_plain_username=self.username,
                sasl_plain_password=self.password,
            )
        return options
