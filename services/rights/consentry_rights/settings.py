"""Rights settings (env prefix ``CONSENTRY_RIGHTS_``)."""

from __future__ import annotations

from typing import Literal

from consentry_shared.settings import ServiceSettings
from pydantic_settings import SettingsConfigDict


class RightsSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="CONSENTRY_RIGHTS_", extra="ignore")

    port: int = 8702
    regime: Literal["opt-in", "opt-out"] = "opt-in"
    policy_version: str = "consentry-policy/1"
    batch_max_records: int = 2000
    batch_timeout_ms: int = 50
    partitions: int = 6
    max_import_bytes: int = 256 * 1024 * 1024
