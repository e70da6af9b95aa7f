"""The ingest application service: a manifest upload in, one ``items.v1`` event per item out.

Policy (documented in the README): a manifest is all-or-nothing. The upload is spooled to disk
while it is validated (bounded memory whatever its size); if any line is invalid the manifest is
rejected with every error (up to a limit) naming its line and field, and nothing is published.
While it is validated, each item's ``items.v1`` record is encoded and written to a second spool
file (:class:`~consentry_ingest.adapters.spill.RecordSpool`: about 500 bytes an item for
150-byte lines, so roughly three times the manifest on disk), which is published, in large keyed
batches, only once the whole manifest is known valid: the manifest is not parsed twice.
Re-submitting the same manifest yields the same event ids, so nothing is recorded twice.
"""

from __future__ import annotations

import errno
import hashlib
import os
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import NamedTuple

from opentelemetry import trace
from pydantic import ValidationError

from consentry_ingest.adapters.manifests import SqlManifestStore
from consentry_ingest.adapters.spill import FileSpill, RecordSpool
from consentry_ingest.domain import (
    LineError,
    ManifestErrors,
    ManifestParser,
    ParsedLine,
    RawItem,
    UnsupportedFormatError,
    manifest_id_for,
)
from consentry_ingest.domain.access import (
    PlatformMismatchError,
    check_requested_platform,
    upload_platform,
)
from consentry_ingest.domain.formats import (
    AnyManifestFormat,
    ColumnMappingError,
    ReadOptions,
    detect_any_format,
    read_manifest,
)
from consentry_ingest.domain.id_index import DuplicateIds
from consentry_ingest.domain.limits import (
    LimitExceededError,
    ManifestTooLargeError,
    PlatformLimits,
    RateLimitedError,
    UploadRateLimiter,
    check_size,
)
from consentry_ingest.domain.wire import ItemEventWriter
from consentry_shared import topics
from consentry_shared.contracts.v1 import ManifestHeader, Purpose, utc_now
from consentry_shared.kafka import KeyedBatchPublisher, OutRecord

_READ_CHUNK = 1024 * 1024
_DETECT_BYTES = 8192


class IngestError(Exception):
    """Base of the errors an upload can meet; each maps to one HTTP status."""

    status = 400


class ManifestRejected(IngestError):
    """Some lines are invalid: nothing was published."""

    status = 422

    def __init__(self, errors: list[LineError], total: int) -> None:
        super().__init__(f"{total} invalid line(s); nothing was published")
        self.errors = errors
        self.total = total


class ManifestTooLarge(IngestError):
    """Over a size limit (the platform's, or the service's absolute cap)."""

    status = 413


class RateLimited(IngestError):
    """The platform is over its upload rate; ``retry_after`` seconds until it may try again."""

    status = 429

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class NotYourPlatform(IngestError):
    """A platform token uploading for another platform."""

    status = 403


class MissingPlatform(IngestError):
    status = 422


class UnsupportedManifest(IngestError):
    """Not a manifest format ingest reads (or one with no items of its own)."""

    status = 415


class BadColumnMapping(IngestError):
    status = 400


class OutOfSpoolSpace(IngestError):
    """The disk the upload is spooled to (the manifest, and about 500 bytes an item of encoded
    records while it is validated) is full: nothing was published; try again later or smaller."""

    status = 507


@contextmanager
def spool_space(where: Path) -> Iterator[None]:
    """``ENOSPC`` while spooling becomes :class:`OutOfSpoolSpace` (a 507 that says so) rather
    than a 500; every other error passes through."""
    try:
        yield
    except OSError as error:
        if error.errno != errno.ENOSPC:
            raise
        raise OutOfSpoolSpace(
            f"the ingest service's spool disk ({where}) is full; nothing was published: "
            "try again later, or split the manifest"
        ) from None


@dataclass
class Submission:
    """What the platform says about an upload beside the file itself."""

    platform: str | None = None
    purpose: Purpose | None = None
    format: str | None = None
    filename: str | None = None
    territory: str | None = None
    columns: dict[str, str] | None = None  # Parquet: our field -> their column
    caller: str | None = None
    """The platform the uploader's token is for; ``None`` for an administrator or a trusted path
    (``manifests.v1``), who may upload for any platform."""
    declared_bytes: int | None = None
    """The upload's size as the request states it (Content-Length), charged to the byte rate
    up front so an over-rate upload is refused before it is sent."""


@dataclass
class Accepted:
    manifest_id: str
    items: int
    platform: str
    purpose: Purpose
    format: AnyManifestFormat
    dataset: str | None = None
    version: str | None = None
    content_sha256: str = ""
    extra: dict[str, str] = field(default_factory=dict)


class IngestService:
    def __init__(
        self,
        publisher: KeyedBatchPublisher,
        *,
        spool_dir: Path,
        topic_of: Callable[[str], str],
        tracer: trace.Tracer,
        max_bytes: int,
        batch_items: int,
        max_errors: int,
        limiter: UploadRateLimiter | None = None,
        clock: Callable[[], float] = time.monotonic,
        manifests: SqlManifestStore | None = None,
    ) -> None:
        self._publisher = publisher
        self._manifests = manifests
        self._limiter = limiter or UploadRateLimiter({}, PlatformLimits(uploads_per_minute=None))
        self._clock = clock
        self._spool = spool_dir
        self._topic = topic_of
        self._tracer = tracer
        self._max_bytes = max_bytes
        self._batch_items = batch_items
        self._max_errors = max_errors

    def admit(self, submission: Submission) -> PlatformLimits:
        """Refuse an upload before its first byte: another platform's (403) or over the rate
        (429). Returns the limits that apply to it. Limits are the platform's: the caller's own,
        or, for an administrator, the platform the request names (else only the service's cap)."""
        try:
            check_requested_platform(submission.platform, submission.caller)
        except PlatformMismatchError as error:
            raise NotYourPlatform(str(error)) from None
        key = submission.caller or submission.platform
        if key is None:
            return self.limits_of(submission)
        try:
            self._limiter.start_upload(key, self._clock(), declared_bytes=submission.declared_bytes)
        except RateLimitedError as error:
            raise RateLimited(str(error), error.retry_after) from None
        return self._limiter.limits_for(key)

    async def submit(self, body: AsyncIterator[bytes], submission: Submission) -> Accepted:
        """Validate the whole upload, then publish its items. See the module docstring."""
        limits = self.admit(submission)
        self._spool.mkdir(parents=True, exist_ok=True)
        spool = self._spool / f"{uuid.uuid4().hex}.upload"
        try:
            with spool_space(self._spool):
                size, head, digest = await self._spool_body(body, spool, submission, limits)
            return await self._validate_and_publish(spool, size, head, digest, submission, limits)
        finally:
            spool.unlink(missing_ok=True)

    async def submit_file(self, path: Path, submission: Submission, limits: PlatformLimits) -> Accepted:
        """Validate and publish a manifest already on disk (a finished resumable upload), exactly
        as :meth:`submit` does an uploaded body; the caller has admitted it already."""
        digest = hashlib.sha256()
        head = b""
        size = 0
        with path.open("rb") as source:
            while chunk := source.read(_READ_CHUNK):
                size += len(chunk)
                digest.update(chunk)
                if len(head) < _DETECT_BYTES:
                    head += chunk[: _DETECT_BYTES - len(head)]
        self.check_size(size, submission, limits)
        return await self._validate_and_publish(path, size, head, digest.hexdigest(), submission, limits)

    async def _validate_and_publish(
        self,
        spool: Path,
        size: int,
        head: bytes,
        digest: str,
        submission: Submission,
        limits: PlatformLimits,
    ) -> Accepted:
        with self._tracer.start_as_current_span("ingest.upload") as span:
            submitted_at = utc_now()
            records = RecordSpool(spool.with_suffix(".records"))
            try:
                with spool_space(spool.parent):
                    fmt, header, count, written = self._validate(
                        spool, size, head, submission, limits, records, digest, submitted_at
                    )
                target = _target(submission, header, digest)
                if isinstance(target, IngestError):
                    raise target
                platform, purpose, manifest_id = target.platform, target.purpose, target.manifest_id
                span.set_attribute("consentry.manifest_id", manifest_id)
                span.set_attribute("consentry.items", count)
                if written:
                    await self._publish_records(records)
                else:
                    writer = _writer(submission, header, digest, submitted_at)
                    await self._publish(spool, fmt, writer, submission.columns)
            finally:
                records.remove()
            accepted = Accepted(
                manifest_id=manifest_id,
                items=count,
                platform=platform,
                purpose=purpose,
                format=fmt,
                dataset=header.dataset if header else None,
                version=header.version if header else None,
                content_sha256=digest,
            )
            if self._manifests is not None:
                await self._manifests.record(
                    manifest_id=manifest_id,
                    platform=platform,
                    items=count,
                    purpose=purpose.value,
                    format=fmt,
                    dataset=accepted.dataset,
                    version=accepted.version,
                    content_sha256=digest,
                )
            return accepted

    def limits_of(self, submission: Submission) -> PlatformLimits:
        """The limits that apply to ``submission`` (see :meth:`admit`), charging nothing."""
        key = submission.caller or submission.platform
        if key is None:
            return PlatformLimits(max_manifest_bytes=None, max_manifest_items=None)
        return self._limiter.limits_for(key)

    def check_size(self, size: int, submission: Submission, limits: PlatformLimits) -> None:
        """413 when ``size`` bytes exceed the service's cap or the platform's limit."""
        if size > self._max_bytes:
            raise ManifestTooLarge(
                f"the manifest is larger than the service's limit max_manifest_bytes={self._max_bytes}"
            )
        self._check_limits(limits, submission, size=size)

    def _check_limits(
        self, limits: PlatformLimits, submission: Submission, *, size: int = 0, items: int = 0
    ) -> None:
        try:
            check_size(limits, submission.caller or submission.platform or "", size=size, items=items)
        except ManifestTooLargeError as error:
            raise ManifestTooLarge(str(error)) from None

    def charge_bytes(self, submission: Submission, amount: int) -> None:
        """Charge ``amount`` received bytes to the platform's byte rate (429 once over it)."""
        key = submission.caller or submission.platform
        if key is None or submission.declared_bytes is not None:
            return
        try:
            self._limiter.charge_bytes(key, amount, self._clock())
        except LimitExceededError as error:
            retry = error.retry_after if isinstance(error, RateLimitedError) else 60
            raise RateLimited(str(error), retry) from None

    async def _spool_body(
        self, body: AsyncIterator[bytes], spool: Path, submission: Submission, limits: PlatformLimits
    ) -> tuple[int, bytes, str]:
        digest = hashlib.sha256()
        head = b""
        size = 0
        with spool.open("wb") as out:
            async for chunk in body:
                if not chunk:
                    continue
                size += len(chunk)
                self.check_size(size, submission, limits)
                self.charge_bytes(submission, len(chunk))
                out.write(chunk)
                digest.update(chunk)
                if len(head) < _DETECT_BYTES:
                    head += chunk[: _DETECT_BYTES - len(head)]
        return size, head, digest.hexdigest()

    def _validate(
        self,
        spool: Path,
        size: int,
        head: bytes,
        submission: Submission,
        limits: PlatformLimits,
        records: RecordSpool,
        digest: str,
        submitted_at: datetime,
    ) -> tuple[AnyManifestFormat, ManifestHeader | None, int, bool]:
        """Validate every item; while none is invalid, write each one's encoded record to
        ``records`` too, so that publishing a valid manifest does not read it again. Returns the
        format, the header, the item count and whether ``records`` holds every item."""
        if size == 0:
            raise ManifestRejected([LineError(line=1, field=None, message="the manifest is empty")], 1)
        try:
            fmt = detect_any_format(submission.filename, head, override=submission.format)
        except UnsupportedFormatError as error:
            raise UnsupportedManifest(str(error)) from None
        if fmt == "hf-card":
            raise UnsupportedManifest(
                "a Hugging Face dataset card has no items of its own: submit the data files it "
                "describes (their items take the card's licence when they declare none)"
            )
        errors = ManifestErrors(self._max_errors)
        items = 0
        # Decided at the first item, when the header (a JSONL manifest's first line) is known;
        # None when the upload's target cannot be settled (its error is raised once the
        # manifest is validated, as the policy orders) or when a line is invalid.
        writer: ItemEventWriter | None = None
        writing = True
        scan = _Scan(spool, fmt, submission.columns, check_ids=True)
        for batch in scan.batches():
            counted = _tally(batch, errors)
            items += counted
            self._check_limits(limits, submission, items=items)
            if not writing:
                continue
            if errors.rejected:
                writing = False
                continue
            if counted:
                if writer is None:
                    writer = _writer_or_none(submission, scan.header, digest, submitted_at)
                    if writer is None:
                        writing = False
                        continue
                record = writer.record
                records.append([record(line) for line in batch if isinstance(line, RawItem)])
        if errors.rejected:
            raise ManifestRejected(list(errors.shown), errors.total)
        if items == 0:
            raise ManifestRejected([LineError(line=1, field=None, message="no items in the manifest")], 1)
        return fmt, scan.header, items, writing and writer is not None

    async def _publish_records(self, records: RecordSpool) -> None:
        """Publish the records :meth:`_validate` wrote, in order, ``batch_items`` at a time."""
        topic = self._topic(topics.ITEMS)
        size = self._batch_items
        batch: list[OutRecord] = []
        for block in records.blocks():
            batch += [OutRecord(key, value) for key, value in block]
            while len(batch) >= size:
                await self._publisher.publish(topic, batch[:size])
                del batch[:size]
        await self._publisher.publish(topic, batch)

    async def _publish(
        self,
        spool: Path,
        fmt: AnyManifestFormat,
        writer: ItemEventWriter,
        columns: dict[str, str] | None,
    ) -> None:
        """Read the manifest again and publish its items (when :meth:`_validate` wrote none)."""
        topic = self._topic(topics.ITEMS)
        batch: list[OutRecord] = []
        record = writer.record
        for raw in _Scan(spool, fmt, columns, check_ids=False).items():
            key, value = record(raw)
            batch.append(OutRecord(key, value))
            if len(batch) >= self._batch_items:
                await self._publisher.publish(topic, batch)
                batch = []
        await self._publisher.publish(topic, batch)


class _Target(NamedTuple):
    """Where a validated upload goes."""

    platform: str
    purpose: Purpose
    territory: str | None
    manifest_id: str


def _target(submission: Submission, header: ManifestHeader | None, digest: str) -> _Target | IngestError:
    """Where a validated upload goes, or the error that refuses it (another platform's header,
    or no platform at all)."""
    declared = header.platform if header else None
    try:
        platform = upload_platform(submission.platform, declared, submission.caller)
    except PlatformMismatchError as error:
        return NotYourPlatform(str(error))
    if not platform:
        return MissingPlatform(
            "no platform: pass --platform (or ?platform=) or set it in the manifest "
            'header line {"manifest": {"platform": ...}}'
        )
    purpose = submission.purpose or (header.purpose if header else None)
    purpose = purpose or Purpose.AI_TRAINING
    territory = submission.territory or (header.territory if header else None)
    manifest_id = submission_manifest_id(platform, header, digest, purpose, territory)
    return _Target(platform, purpose, territory, manifest_id)


def _writer(
    submission: Submission, header: ManifestHeader | None, digest: str, submitted_at: datetime
) -> ItemEventWriter:
    """The writer of the upload's ``items.v1`` records; raises what :func:`_target` returns."""
    target = _target(submission, header, digest)
    if isinstance(target, IngestError):
        raise target
    return ItemEventWriter(
        manifest_id=target.manifest_id,
        platform=target.platform,
        purpose=target.purpose,
        territory=target.territory,
        commercial=header.commercial if header else True,
        submitted_at=submitted_at,
        jurisdiction=header.jurisdiction if header else None,
    )


def _writer_or_none(
    submission: Submission, header: ManifestHeader | None, digest: str, submitted_at: datetime
) -> ItemEventWriter | None:
    """:func:`_writer`, or ``None`` where it raises (the error is raised again after validation)."""
    try:
        return _writer(submission, header, digest, submitted_at)
    except (IngestError, ValueError, ValidationError):
        return None


def submission_manifest_id(
    platform: str,
    header: ManifestHeader | None,
    content_sha256: str,
    purpose: Purpose,
    territory: str | None,
) -> str:
    """The manifest id of a submission: the same file, platform, purpose and territory always give
    the same id (so a re-submission is recognised and records nothing twice); changing any of
    them gives a new one (so a changed file under a declared id is never mistaken for the old).
    A declared header ``id`` stays readable: ``<platform>:id:<id>@<12 hex of the submission>``.
    """
    commercial = header.commercial if header else True
    key = hashlib.sha256(
        f"{content_sha256}\n{purpose.value}\n{territory or ''}\n{commercial}".encode()
    ).hexdigest()
    declared = header.id if header else None
    base = manifest_id_for(platform, declared, key)
    return f"{base}@{key[:12]}" if declared else base


def _tally(parsed: list[ParsedLine], errors: ManifestErrors) -> int:
    """Count the items of ``parsed`` and record its errors."""
    items = 0
    for line in parsed:
        if isinstance(line, RawItem):
            items += 1
        else:
            errors.add(line)
    return items


class _Scan:
    """One pass over a spooled manifest: batches of parsed lines, and the JSONL header if any.

    The validating pass (``check_ids``) tracks item ids in bounded memory, spilling to a
    directory beside the spool file past a million ids; the publishing pass reads ids that pass
    already proved unique, so it tracks none.
    """

    def __init__(
        self, spool: Path, fmt: AnyManifestFormat, columns: dict[str, str] | None, *, check_ids: bool
    ) -> None:
        self._spool = spool
        self._fmt = fmt
        self._columns = columns
        self._check_ids = check_ids
        self.header: ManifestHeader | None = None

    def batches(self) -> Iterator[list[ParsedLine]]:
        spill = FileSpill(self._spool.with_suffix(".ids"))
        ids = DuplicateIds(spill, check=self._check_ids)
        try:
            with self._spool.open("rb") as source:
                if self._fmt in ("jsonl", "csv"):
                    parser = ManifestParser("jsonl" if self._fmt == "jsonl" else "csv", ids=ids)
                    while chunk := source.read(_READ_CHUNK):
                        batch = parser.feed(chunk)
                        self.header = parser.header  # final once a batch holds an item
                        yield batch
                    yield parser.close()
                    return
                options = ReadOptions(parquet_columns=self._columns, duplicate_ids=ids)
                try:
                    reader = read_manifest(self._fmt, source, options)
                except ColumnMappingError as error:
                    raise BadColumnMapping(str(error)) from None
                yield from reader
        finally:
            spill.remove()

    def items(self) -> Iterator[RawItem]:
        for batch in self.batches():
            for parsed in batch:
                if isinstance(parsed, RawItem):
                    yield parsed


def spool_dir(data_dir: Path) -> Path:
    """Where uploads wait while they are validated (one file per upload, removed after)."""
    return data_dir / "spool" / str(os.getpid())
