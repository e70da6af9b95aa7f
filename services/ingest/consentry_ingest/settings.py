"""Ingest settings (env prefix ``CONSENTRY_INGEST_``)."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from consentry_shared.settings import ServiceSettings


class IngestSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="CONSENTRY_INGEST_", extra="ignore")

    port: int = 8701
    partitions: int = 6
    max_manifest_bytes: int = 16 * 1024 * 1024 * 1024
    publish_batch_items: int = 5000
    max_reported_errors: int = 100
