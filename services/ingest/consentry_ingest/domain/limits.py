"""Per-platform upload limits: manifest size (bytes, items) and upload rate.

Pure: the rate limiter is handed the time (seconds on any monotonic clock) with every call, so
it never reads a clock itself and a test drives it with plain numbers. The adapters turn the
errors into HTTP 413 and 429 (with ``Retry-After``).

The rate is a token bucket per platform and per measure (uploads, bytes): a full bucket holds
one minute's allowance, and it refills continuously, so a platform may burst up to a minute's
worth and then proceeds at the configured rate. Buckets live in one ingest process; with N
ingest replicas behind a load balancer each grants the configured rate (documented, not hidden).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field

from .errors import IngestDomainError

__all__ = [
    "LimitExceededError",
    "ManifestTooLargeError",
    "PlatformLimits",
    "RateLimitedError",
    "UploadRateLimiter",
    "check_size",
]


class PlatformLimits(BaseModel):
    """What one platform may upload. ``None`` means unlimited."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_manifest_bytes: int | None = Field(default=16 * 1024**3, ge=1)
    max_manifest_items: int | None = Field(default=100_000_000, ge=1)
    uploads_per_minute: int | None = Field(default=120, ge=1)
    bytes_per_minute: int | None = Field(default=None, ge=1)


class LimitExceededError(IngestDomainError):
    """Base of the limit errors; ``limit`` names the setting, so the message can say which."""

    def __init__(self, message: str, limit: str) -> None:
        super().__init__(message)
        self.limit = limit


class ManifestTooLargeError(LimitExceededError):
    """The manifest exceeds the platform's size limit (HTTP 413)."""


class RateLimitedError(LimitExceededError):
    """The platform is over its upload rate (HTTP 429); retry after ``retry_after`` seconds."""

    def __init__(self, message: str, limit: str, retry_after: int) -> None:
        super().__init__(message, limit)
        self.retry_after = retry_after


def check_size(limits: PlatformLimits, platform: str, *, size: int = 0, items: int = 0) -> None:
    """Raise :class:`ManifestTooLargeError` when ``size`` bytes or ``items`` exceed the limits."""
    if limits.max_manifest_bytes is not None and size > limits.max_manifest_bytes:
        raise ManifestTooLargeError(
            f"the manifest is larger than platform {platform!r}'s limit max_manifest_bytes="
            f"{limits.max_manifest_bytes}",
            "max_manifest_bytes",
        )
    if limits.max_manifest_items is not None and items > limits.max_manifest_items:
        raise ManifestTooLargeError(
            f"the manifest has more items than platform {platform!r}'s limit max_manifest_items="
            f"{limits.max_manifest_items}",
            "max_manifest_items",
        )


@dataclass
class _Bucket:
    level: float
    at: float


class UploadRateLimiter:
    """Token buckets per (platform, measure); see the module docstring."""

    def __init__(self, table: dict[str, PlatformLimits], default: PlatformLimits) -> None:
        self._table = table
        self._default = default
        self._buckets: dict[tuple[str, str], _Bucket] = {}

    def limits_for(self, platform: str) -> PlatformLimits:
        return self._table.get(platform, self._default)

    def start_upload(self, platform: str, now: float, *, declared_bytes: int | None = None) -> None:
        """Charge one upload (and its declared size, when the request states one) or raise
        :class:`RateLimitedError` without charging anything."""
        limits = self.limits_for(platform)
        charges = [("uploads_per_minute", limits.uploads_per_minute, 1.0)]
        if declared_bytes:
            charges.append(("bytes_per_minute", limits.bytes_per_minute, float(declared_bytes)))
        for measure, per_minute, amount in charges:
            if per_minute is not None:
                self._check(platform, measure, per_minute, amount, now)
        for measure, per_minute, amount in charges:
            if per_minute is not None:
                self._bucket(platform, measure, per_minute, now).level -= amount

    def charge_bytes(self, platform: str, amount: int, now: float) -> None:
        """Charge bytes as they arrive (uploads that declared no size); raise once over the rate."""
        per_minute = self.limits_for(platform).bytes_per_minute
        if per_minute is None:
            return
        self._check(platform, "bytes_per_minute", per_minute, float(amount), now)
        self._bucket(platform, "bytes_per_minute", per_minute, now).level -= amount

    def _bucket(self, platform: str, measure: str, per_minute: int, now: float) -> _Bucket:
        bucket = self._buckets.setdefault((platform, measure), _Bucket(float(per_minute), now))
        bucket.level = min(float(per_minute), bucket.level + (now - bucket.at) * per_minute / 60.0)
        bucket.at = now
        return bucket

    def _check(self, platform: str, measure: str, per_minute: int, amount: float, now: float) -> None:
        bucket = self._bucket(platform, measure, per_minute, now)
        # An upload larger than a whole minute's allowance can never fit: let it through on a
        # full bucket (the size limits bound it) rather than refuse it forever.
        needed = min(amount, float(per_minute))
        if bucket.level >= needed:
            return
        wait = math.ceil((needed - bucket.level) * 60.0 / per_minute)
        raise RateLimitedError(
            f"platform {platform!r} is over its limit {measure}={per_minute}; retry in {max(1, wait)} s",
            measure,
            max(1, wait),
        )
