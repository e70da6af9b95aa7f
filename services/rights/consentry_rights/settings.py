"""Rights settings (env prefix ``CONSENTRY_RIGHTS_``)."""

from __future__ import annotations

from typing import Literal

from consentry_shared.settings import ServiceSettings
from pydantic import Field, field_validator
from pydantic_settings import SettingsConfigDict

from consentry_rights.domain import Policy, regime_table


class RightsSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="CONSENTRY_RIGHTS_", extra="ignore")

    port: int = 8702
    regime: Literal["opt-in", "opt-out"] = Field(
        default="opt-in", description="The regime where the jurisdiction table says nothing"
    )
    regimes: dict[str, str] = Field(
        default_factory=lambda: {"EU": "opt-out", "JP": "opt-out"},
        description='Jurisdiction -> regime, as JSON: {"EU": "opt-out", "JP": "opt-out"}; EU and EEA '
        "expand to their member states, a country named on its own beats its group",
    )
    policy_version: str = "consentry-policy/1"
    batch_max_records: int = 2000
    batch_timeout_ms: int = 50
    partitions: int = 6
    max_import_bytes: int = 256 * 1024 * 1024

    @field_validator("regimes")
    @classmethod
    def _known_regimes(cls, value: dict[str, str]) -> dict[str, str]:
        regime_table(value)  # refuse a typo at start-up, not at the first decision
        return value

    def policy(self) -> Policy:
        """The engine policy these settings describe."""
        return Policy(version=self.policy_version, regime=self.regime, regimes=regime_table(self.regimes))
