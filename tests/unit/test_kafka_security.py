"""Kafka security settings: read from the environment, checked, mapped to FastStream and aiokafka."""

from __future__ import annotations

import pytest
from faststream.security import SASLScram512

from consentry_shared.kafka.security import KafkaSecurity, KafkaSecurityError
from consentry_shared.settings import ServiceSettings


def test_plaintext_by_default_and_empty_values_count_as_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_SASL_MECHANISM", "")
    security = ServiceSettings().kafka_security()
    assert security.for_faststream() is None
    assert security.for_aiokafka() == {"security_protocol": "PLAINTEXT"}


def test_scram_over_plaintext_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
        "KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
        "KAFKA_SASL_USERNAME": "rights",
        "KAFKA_SASL_PASSWORD": "s3cret",
    }.items():
        monkeypatch.setenv(name, value)
    settings = ServiceSettings()
    assert "s3cret" not in repr(settings)
    security = settings.kafka_security()
    assert isinstance(security.for_faststream(), SASLScram512)
    assert security.for_aiokafka() == {
        "security_protocol": "SASL_PLAINTEXT",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "rights",
        "sasl_plain_password": "s3cret",
    }


def test_tls_gets_an_ssl_context() -> None:
    options = KafkaSecurity(protocol="SSL").for_aiokafka()
    assert options["security_protocol"] == "SSL"
    assert options["ssl_context"] is not None


@pytest.mark.parametrize(
    "fields",
    [
        {"protocol": "SASL_SSL"},  # no mechanism or credentials
        {"protocol": "SASL_PLAINTEXT", "mechanism": "PLAIN", "username": "u"},  # no password
        {"protocol": "PLAINTEXT", "mechanism": "PLAIN"},  # a mechanism without SASL
    ],
)
def test_contradictory_settings_are_refused(fields: dict) -> None:
    with pytest.raises(KafkaSecurityError):
        KafkaSecurity(**fields)
