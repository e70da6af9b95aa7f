"""Rights settings (env prefix ``CONSENTRY_RIGHTS_``)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import SettingsConfigDict

from consentry_rights.adapters.fetcher import FetcherConfig
from consentry_rights.domain import Policy, regime_table
from consentry_shared.settings import ServiceSettings


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
    shard_registry: bool = Field(
        default=True,
        description="Hold in memory only the hash-keyed registry records (hash-only reservations and "
        "deals, works) of the items.v1 partitions this instance is assigned; every domain and URL "
        "prefix record is held by all. Safe on: an item keyed to a partition outside the share "
        "widens it before that item is decided. Off: every instance holds the whole registry",
    )
    max_import_bytes: int = 256 * 1024 * 1024
    max_signal_file_bytes: int = Field(
        default=8 * 1024 * 1024, description="Largest robots.txt, ai.txt or tdmrep.json accepted for import"
    )
    fetch_signals: bool = Field(
        default=False,
        description="Also fetch each item's signals now (its origin's tdmrep.json, robots.txt, ai.txt "
        "and RSL licences, and the item's headers) and read them beside its crawl-time evidence",
    )
    allow_private_origins: bool = Field(
        default=False, description="Let the fetcher connect to private, loopback and link-local addresses"
    )
    fetch_timeout_s: float = 5.0
    fetch_concurrency: int = 16
    fetch_origin_ttl_s: float = 3600.0
    fetch_failure_threshold: int = 3
    fetch_cooldown_s: float = 60.0
    fetch_max_redirects: int = 5
    signal_documents: int = Field(
        default=32_768,
        ge=1,
        description="Parsed origin files (robots.txt, ai.txt, tdmrep.json, RSL; one entry per file and "
        "URL) kept between batches, least recently used dropped first. An item carrying evidence "
        "needs its origin's files parsed: with fewer entries than its origins have files, the "
        "evidence path parses again. About 5 KB an entry for ordinary files (15 KB an origin with "
        "all three): the default holds about 10,000 origins in about 160 MiB; a very large "
        "robots.txt costs more",
    )

    @field_validator("regimes")
    @classmethod
    def _known_regimes(cls, value: dict[str, str]) -> dict[str, str]:
        regime_table(value)  # refuse a typo at start-up, not at the first decision
        return value

    def fetcher_config(self) -> FetcherConfig:
        """The signal fetcher's configuration from these settings."""
        return FetcherConfig(
            timeout=self.fetch_timeout_s,
            max_concurrency=self.fetch_concurrency,
            origin_ttl=self.fetch_origin_ttl_s,
            failure_threshold=self.fetch_failure_threshold,
            cooldown=self.fetch_cooldown_s,
            max_redirects=self.fetch_max_redirects,
            allow_private_origins=self.allow_private_origins,
        )

    def policy(self) -> Policy:
        """The engine policy these settings describe."""
        return Policy(version=self.policy_version, regime=self.regime, regimes=regime_table(self.regimes))
