"""Ingest settings (env prefix ``CONSENTRY_INGEST_``)."""

from __future__ import annotations

from typing import Any

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from consentry_ingest.domain.limits import PlatformLimits
from consentry_shared.settings import ServiceSettings


class IngestSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="CONSENTRY_INGEST_", extra="ignore")

    port: int = 8701
    partitions: int = 6
    max_manifest_bytes: int = Field(
        default=16 * 1024 * 1024 * 1024,
        description="The service's absolute cap on one manifest, whoever uploads it (Kafka included)",
    )
    publish_batch_items: int = 5000
    max_reported_errors: int = 100
    default_limits: PlatformLimits = Field(
        default_factory=PlatformLimits,
        description="Every platform's upload limits unless platform_limits says otherwise; JSON, "
        "e.g. CONSENTRY_INGEST_DEFAULT_LIMITS='{\"uploads_per_minute\": 60}'",
    )
    platform_limits: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="Per platform, the fields of default_limits it overrides; JSON, e.g. "
        'CONSENTRY_INGEST_PLATFORM_LIMITS=\'{"acme-ai": {"max_manifest_items": 50000000}}\'',
    )
    upload_session_ttl_s: int = Field(
        default=24 * 3600,
        description="An unfinished resumable upload untouched this long is removed",
    )

    def limits_table(self) -> dict[str, PlatformLimits]:
        """Each configured platform's limits: the default, overridden field by field. A typo in a
        field name is an error at start-up, not a silently ignored limit."""
        base = self.default_limits.model_dump()
        return {
            name: PlatformLimits.model_validate({**base, **over})
            for name, over in self.platform_limits.items()
        }
