"""Ledger settings (env prefix ``CONSENTRY_LEDGER_``)."""

from __future__ import annotations

from consentry_shared.settings import ServiceSettings
from pydantic_settings import SettingsConfigDict


class LedgerSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="CONSENTRY_LEDGER_", extra="ignore")

    port: int = 8703
    origin: str = "consentry.local/ledger"
    batch_max_records: int = 2000
    batch_timeout_ms: int = 100
    partitions: int = 6
