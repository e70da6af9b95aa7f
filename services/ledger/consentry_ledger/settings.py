"""Ledger settings (env prefix ``CONSENTRY_LEDGER_``)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from consentry_shared.settings import ServiceSettings


class LedgerSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="CONSENTRY_LEDGER_", extra="ignore")

    port: int = 8703
    origin: str = "consentry.local/ledger"
    batch_max_records: int = 2000
    batch_timeout_ms: int = 100
    partitions: int = 6
    witnesses: list[str] = Field(
        default_factory=list,
        description="Verifier keys of the witnesses whose cosignatures the log accepts (a JSON list)",
    )
    witness_quorum: int = Field(
        default=0, ge=0, description="Cosignatures a checkpoint needs to be final (/checkpoint/final)"
    )
