"""Resumable uploads, the application side: open a session, append chunks at the committed
offset, tell the offset, finish. Finishing runs exactly what ``POST /manifests`` runs on the
assembled file (all-or-nothing validation, then publishing), so a manifest uploaded in pieces
over several connections gets the same manifest id and the same item events as one uploaded
whole. Errors are the service's :class:`~consentry_ingest.service.IngestError` family plus
:class:`UploadNotFound` (404) and :class:`OffsetConflict` (409, with the offset to continue from).
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from functools import partial
from typing import Any

from consentry_ingest.adapters.uploads import BodyTooLong, UploadSession, UploadStore
from consentry_ingest.domain.uploads import (
    BadContentRangeError,
    OffsetConflictError,
    check_chunk,
    parse_content_range,
)
from consentry_ingest.service import (
    Accepted,
    IngestError,
    IngestService,
    Submission,
    spool_space,
)
from consentry_shared.contracts.v1 import Purpose

__all__ = ["BadChunk", "OffsetConflict", "ResumableUploads", "UploadNotFound"]


class UploadNotFound(IngestError):
    """No such session, or not the caller's (the same answer, so ids cannot be probed)."""

    status = 404


class OffsetConflict(IngestError):
    status = 409

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(message)
        self.offset = offset


class BadChunk(IngestError):
    status = 400


class ResumableUploads:
    def __init__(self, service: IngestService, store: UploadStore) -> None:
        self._service = service
        self._store = store

    def open(self, submission: Submission, total: int | None) -> UploadSession:
        """Start a session (admitted like an upload: 403, 429 and 413 apply here already)."""
        limits = self._service.admit(dataclasses.replace(submission, declared_bytes=total))
        if total is not None:
            self._service.check_size(total, submission, limits)
        saved = {
            k: v.value if isinstance(v, Purpose) else v
            for k, v in dataclasses.asdict(submission).items()
            if k not in ("caller", "declared_bytes")
        }
        saved["declared"] = total is not None
        return self._store.create(submission.caller, saved, total)

    def state(self, upload_id: str, caller: str | None) -> UploadSession:
        session = self._store.get(upload_id)
        if session is None or (caller is not None and session.owner != caller):
            raise UploadNotFound(f"no upload session {upload_id!r}")
        return session

    async def append(
        self, upload_id: str, caller: str | None, content_range: str | None, body: AsyncIterator[bytes]
    ) -> UploadSession:
        """Append one chunk; returns the session with its new offset."""
        try:
            chunk = parse_content_range(content_range)
        except BadContentRangeError as error:
            raise BadChunk(str(error)) from None
        self.state(upload_id, caller)  # before taking a lock: no lock for an id that does not exist
        async with self._store.lock(upload_id):
            session = self.state(upload_id, caller)
            try:
                total = check_chunk(session.offset, session.total, chunk)
            except OffsetConflictError as error:
                raise OffsetConflict(str(error), error.offset) from None
            submission = self._submission(session)
            limits = self._service.limits_of(submission)
            self._service.check_size(max(chunk.end, total or 0), submission, limits)
            if total is not None:
                self._store.set_total(session, total)

            try:
                charge = partial(self._service.charge_bytes, submission)
                with spool_space(self._store.part(upload_id).parent):
                    await self._store.append(upload_id, body, chunk.length, charge)
            except BodyTooLong as error:
                raise BadChunk(str(error)) from None
            return self.state(upload_id, caller)

    async def finish(self, upload_id: str, caller: str | None) -> Accepted:
        """Validate and publish the assembled manifest, then drop the session. The session is
        kept only when the failure is the service's (5xx: finishing again is safe, since the
        same bytes publish the same event ids)."""
        self.state(upload_id, caller)
        async with self._store.lock(upload_id):
            session = self.state(upload_id, caller)
            if session.total is not None and session.offset != session.total:
                raise OffsetConflict(
                    f"the upload holds {session.offset} of {session.total} bytes: send the rest first",
                    session.offset,
                )
            submission = self._submission(session)
            try:
                accepted = await self._service.submit_file(
                    self._store.part(upload_id), submission, self._service.limits_of(submission)
                )
            except IngestError:
                self._store.remove(upload_id)
                raise
            self._store.remove(upload_id)
            return accepted

    def cancel(self, upload_id: str, caller: str | None) -> None:
        self.state(upload_id, caller)
        self._store.remove(upload_id)

    @staticmethod
    def _submission(session: UploadSession) -> Submission:
        fields: dict[str, Any] = {k: v for k, v in session.submission.items() if k != "declared"}
        if fields.get("purpose"):
            fields["purpose"] = Purpose(fields["purpose"])
        declared = session.total if session.submission.get("declared") else None
        return Submission(**fields, caller=session.owner, declared_bytes=declared)
