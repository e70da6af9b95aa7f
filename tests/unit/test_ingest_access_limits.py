"""The pure rules behind platform identity, upload limits and resumable chunks."""

from __future__ import annotations

import pytest

from consentry_ingest.domain.access import (
    PlatformMismatchError,
    check_requested_platform,
    owns_manifest,
    upload_platform,
)
from consentry_ingest.domain.items import manifest_id_for
from consentry_ingest.domain.limits import (
    ManifestTooLargeError,
    PlatformLimits,
    RateLimitedError,
    UploadRateLimiter,
    check_size,
)
from consentry_ingest.domain.uploads import (
    BadContentRangeError,
    ChunkRange,
    OffsetConflictError,
    check_chunk,
    parse_content_range,
)

SHA = "a" * 64


def test_a_platform_defaults_to_its_own_name_and_may_not_name_another() -> None:
    assert upload_platform(None, None, "acme-ai") == "acme-ai"
    assert upload_platform(None, "acme-ai", "acme-ai") == "acme-ai"
    assert upload_platform("acme-ai", "acme-ai", "acme-ai") == "acme-ai"
    with pytest.raises(PlatformMismatchError, match="manifest header names platform 'other'"):
        upload_platform(None, "other", "acme-ai")
    with pytest.raises(PlatformMismatchError, match="request names platform 'other'"):
        upload_platform("other", "acme-ai", "acme-ai")
    with pytest.raises(PlatformMismatchError):
        check_requested_platform("other", "acme-ai")
    check_requested_platform(None, "acme-ai")


def test_an_administrator_uploads_for_whoever_the_request_or_header_names() -> None:
    assert upload_platform("x", "y", None) == "x"
    assert upload_platform(None, "y", None) == "y"
    assert upload_platform(None, None, None) is None
    check_requested_platform("anyone", None)


@pytest.mark.parametrize("platform", ["acme-ai", "a:b", "a/b", "acme", "é"])
def test_a_manifest_belongs_to_the_platform_its_id_was_made_for(platform: str) -> None:
    manifest_id = manifest_id_for(platform, None, SHA)
    assert owns_manifest(platform, manifest_id)
    assert owns_manifest(platform, manifest_id_for(platform, "declared:id", SHA))
    for other in ("acme-ai2", "acme", "a", "acme-ai:sha256"):
        if other != platform:
            assert not owns_manifest(other, manifest_id), other


def test_size_limits_name_the_limit() -> None:
    limits = PlatformLimits(max_manifest_bytes=10, max_manifest_items=2)
    check_size(limits, "p", size=10, items=2)
    with pytest.raises(ManifestTooLargeError, match="max_manifest_bytes=10") as too_big:
        check_size(limits, "p", size=11)
    assert too_big.value.limit == "max_manifest_bytes"
    with pytest.raises(ManifestTooLargeError, match="max_manifest_items=2"):
        check_size(limits, "p", items=3)
    check_size(
        PlatformLimits(max_manifest_bytes=None, max_manifest_items=None), "p", size=10**15, items=10**12
    )


def test_the_upload_rate_is_a_bucket_refilled_over_a_minute() -> None:
    limiter = UploadRateLimiter({}, PlatformLimits(uploads_per_minute=2))
    limiter.start_upload("p", 0.0)
    limiter.start_upload("p", 0.0)
    with pytest.raises(RateLimitedError, match="uploads_per_minute=2") as limited:
        limiter.start_upload("p", 1.0)
    assert limited.value.retry_after == 29  # one upload refills in 30 s; 1 s has passed
    limiter.start_upload("q", 1.0)  # another platform, another bucket
    limiter.start_upload("p", 30.0)
    with pytest.raises(RateLimitedError):
        limiter.start_upload("p", 30.0)


def test_a_refused_upload_charges_nothing() -> None:
    limiter = UploadRateLimiter({}, PlatformLimits(uploads_per_minute=10, bytes_per_minute=100))
    limiter.start_upload("p", 0.0, declared_bytes=60)
    with pytest.raises(RateLimitedError, match="bytes_per_minute"):
        limiter.start_upload("p", 0.0, declared_bytes=60)
    limiter.start_upload("p", 0.0, declared_bytes=40)  # the refused upload took no bytes
    with pytest.raises(RateLimitedError):
        limiter.charge_bytes("p", 1, 0.0)


def test_an_upload_bigger_than_a_minutes_bytes_passes_on_a_full_bucket_then_waits() -> None:
    limiter = UploadRateLimiter({}, PlatformLimits(uploads_per_minute=None, bytes_per_minute=60))
    limiter.start_upload("p", 0.0, declared_bytes=600)
    with pytest.raises(RateLimitedError) as limited:
        limiter.start_upload("p", 0.0, declared_bytes=1)
    assert limited.value.retry_after == 541


def test_per_platform_limits_override_the_default() -> None:
    limiter = UploadRateLimiter(
        {"big": PlatformLimits(uploads_per_minute=100)}, PlatformLimits(uploads_per_minute=1)
    )
    for _ in range(50):
        limiter.start_upload("big", 0.0)
    limiter.start_upload("small", 0.0)
    with pytest.raises(RateLimitedError):
        limiter.start_upload("small", 0.0)


def test_content_range_is_parsed_as_a_half_open_range() -> None:
    assert parse_content_range("bytes 0-9/100") == ChunkRange(0, 10, 100)
    assert parse_content_range("bytes 10-19/*") == ChunkRange(10, 20, None)
    for bad in (None, "", "bytes 5-4/10", "bytes 0-10/10", "bytes=0-9/10", "items 0-9/10", "bytes -1-3/4"):
        with pytest.raises(BadContentRangeError):
            parse_content_range(bad)


def test_a_chunk_applies_only_at_the_committed_offset() -> None:
    assert check_chunk(0, None, ChunkRange(0, 10, None)) is None
    assert check_chunk(10, None, ChunkRange(10, 20, 30)) == 30
    assert check_chunk(20, 30, ChunkRange(20, 30, None)) == 30
    with pytest.raises(OffsetConflictError, match="continue from 10") as conflict:
        check_chunk(10, None, ChunkRange(0, 10, None))
    assert conflict.value.offset == 10
    with pytest.raises(OffsetConflictError, match="earlier ones said 30"):
        check_chunk(10, 30, ChunkRange(10, 20, 40))
    with pytest.raises(OffsetConflictError, match="beyond"):
        check_chunk(25, 30, ChunkRange(25, 35, None))
