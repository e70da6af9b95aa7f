"""The ingest HTTP API: manifest upload, in one request or as a resumable upload session.

Every route needs a bearer token of role ``platform`` (or ``admin``) once the token file exists
(see :mod:`consentry_shared.auth`). A platform uploads only for itself: a ``platform`` naming
another, in the query or the manifest header, is 403. Upload sessions are private to the
platform that opened them (another platform's session id is 404, as an unknown one is).

Errors are JSON ``{"detail": {"message": ..., "errors": [...]}}``; ``errors`` lists invalid lines
(line and field) for 422. A limit's 413 or 429 names the limit; 429 has ``Retry-After``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from starlette.requests import ClientDisconnect

from consentry_ingest.service import Accepted, IngestError, ManifestRejected, RateLimited, Submission
from consentry_ingest.uploads import OffsetConflict, ResumableUploads
from consentry_shared.auth import Principal, Role, require
from consentry_shared.contracts.v1 import Purpose

if TYPE_CHECKING:
    from consentry_ingest.app import IngestComponents

_UPLOAD_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "No valid bearer token"},
    403: {"description": "Another platform's upload, or a token that is not a platform's"},
    413: {"description": "Over a size limit (max_manifest_bytes or max_manifest_items, named)"},
    429: {"description": "Over the platform's upload rate (named); see Retry-After"},
}
_FORMAT_HELP = "jsonl, csv, parquet, croissant or cdxj (default: detected)"
_COLUMNS_HELP = 'Parquet column mapping as JSON, our field to theirs: {"url": "URL"}'


Platform = Annotated[str | None, Query(min_length=1, max_length=200)]
Format = Annotated[str | None, Query(description=_FORMAT_HELP)]
Columns = Annotated[str | None, Query(description=_COLUMNS_HELP)]
Territory = Annotated[str | None, Query(pattern="^[A-Z]{2}$")]


def _uploader(request: Request) -> Principal:
    """The caller, checked as ``require(book, Role.PLATFORM)`` checks it, against the app's token
    book (which only exists once the app is built, after this module is imported)."""
    check: Callable[[Request], Principal] = require(_components(request).tokens, Role.PLATFORM).dependency
    return check(request)


Uploader = Annotated[Principal, Depends(_uploader)]


def _submission(
    principal: Uploader,
    platform: Platform = None,
    purpose: Purpose | None = None,
    format: Format = None,
    columns: Columns = None,
    filename: str | None = None,
    territory: Territory = None,
) -> Submission:
    """What an upload says about itself beside its bytes (the same for one request and a session)."""
    return Submission(
        platform=platform,
        purpose=purpose,
        format=format,
        filename=filename,
        territory=territory,
        columns=_column_mapping(columns),
        caller=_caller(principal),
    )


SubmissionParams = Annotated[Submission, Depends(_submission)]
router = APIRouter()


def _components(request: Request) -> IngestComponents:
    return request.app.state.components  # type: ignore[no-any-return]


def _uploads(request: Request) -> ResumableUploads:
    components = _components(request)
    return ResumableUploads(components.service, components.uploads)


def _caller(principal: Principal) -> str | None:
    """The platform a caller acts as; ``None`` for an administrator (any platform)."""
    return None if principal.is_admin else principal.name


def _column_mapping(columns: str | None) -> dict[str, str] | None:
    if not columns:
        return None
    try:
        mapping = json.loads(columns)
    except ValueError:
        raise HTTPException(400, {"message": "columns must be a JSON object", "errors": []}) from None
    if not isinstance(mapping, dict) or not all(isinstance(v, str) for v in mapping.values()):
        raise HTTPException(400, {"message": "columns must map field names to column names", "errors": []})
    return mapping


def _http_error(error: IngestError) -> HTTPException:
    headers: dict[str, str] = {}
    body: dict[str, Any] = {"message": str(error), "errors": []}
    if isinstance(error, ManifestRejected):
        body["errors"] = [{"line": e.line, "field": e.field, "message": e.message} for e in error.errors]
        body["total_errors"] = error.total
    elif isinstance(error, RateLimited):
        headers["Retry-After"] = str(error.retry_after)
    elif isinstance(error, OffsetConflict):
        body["offset"] = error.offset
        headers["Upload-Offset"] = str(error.offset)
    return HTTPException(error.status, body, headers=headers or None)


def _gone() -> HTTPException:
    """The client went away mid-body: nobody reads this answer, but the request ends cleanly
    (an upload session keeps what arrived; a one-shot upload is dropped whole)."""
    return HTTPException(400, {"message": "the connection closed before the body was complete", "errors": []})


def _accepted(accepted: Accepted) -> dict[str, Any]:
    return {
        "manifest_id": accepted.manifest_id,
        "items": accepted.items,
        "platform": accepted.platform,
        "purpose": accepted.purpose.value,
        "format": accepted.format,
        "dataset": accepted.dataset,
        "version": accepted.version,
        "content_sha256": accepted.content_sha256,
    }


def _declared_length(request: Request) -> int | None:
    value = request.headers.get("content-length")
    return int(value) if value and value.isdigit() else None


@router.post(
    "/manifests",
    summary="Upload a manifest (JSONL, CSV, Parquet, Croissant or CDXJ, streamed); every item is "
    "published to items.v1",
    responses={
        **_UPLOAD_ERRORS,
        422: {"description": "Invalid lines (each names its line and field); nothing published"},
        415: {"description": "Not a manifest format ingest reads"},
    },
)
async def submit_manifest(request: Request, submission: SubmissionParams) -> dict[str, Any]:
    submission.declared_bytes = _declared_length(request)
    try:
        return _accepted(await _components(request).service.submit(request.stream(), submission))
    except IngestError as error:
        raise _http_error(error) from None
    except ClientDisconnect:
        raise _gone() from None


@router.post(
    "/uploads",
    status_code=201,
    summary="Open a resumable upload session (for large manifests and unreliable links)",
    description="Takes the same parameters as `POST /manifests` and no body. Then send the "
    "manifest's bytes in order with `PUT /uploads/{id}` and `Content-Range: bytes START-END/TOTAL` "
    "(`/*` while the total is unknown); a chunk must start at the committed offset, which "
    "`HEAD /uploads/{id}` (header `Upload-Offset`) or `GET /uploads/{id}` tell after a dropped "
    "connection. `POST /uploads/{id}/finish` then validates and publishes the assembled manifest "
    "exactly as `POST /manifests` would (all or nothing, same manifest id). Sessions are private to "
    "the platform that opened them and expire when untouched for a day.",
    responses={**_UPLOAD_ERRORS},
)
async def open_upload(
    request: Request,
    response: Response,
    submission: SubmissionParams,
    total: Annotated[int | None, Query(ge=1, description="The manifest's size in bytes, if known")] = None,
) -> dict[str, Any]:
    try:
        session = _uploads(request).open(submission, total)
    except IngestError as error:
        raise _http_error(error) from None
    response.headers["Location"] = f"/uploads/{session.id}"
    response.headers["Upload-Offset"] = "0"
    return {"upload_id": session.id, "offset": 0, "total": session.total}


@router.put(
    "/uploads/{upload_id}",
    summary="Append a chunk at the committed offset (Content-Range: bytes START-END/TOTAL)",
    responses={
        **_UPLOAD_ERRORS,
        400: {"description": "Missing or malformed Content-Range, or a body longer than it says"},
        404: {"description": "No such session (or not yours)"},
        409: {
            "description": "The chunk does not start at the committed offset (given in the body "
            "and Upload-Offset)"
        },
    },
)
async def upload_chunk(
    request: Request, response: Response, upload_id: str, principal: Uploader
) -> dict[str, Any]:
    try:
        session = await _uploads(request).append(
            upload_id, _caller(principal), request.headers.get("content-range"), request.stream()
        )
    except IngestError as error:
        raise _http_error(error) from None
    except ClientDisconnect:
        raise _gone() from None
    response.headers["Upload-Offset"] = str(session.offset)
    return {"upload_id": session.id, "offset": session.offset, "total": session.total}


@router.head(
    "/uploads/{upload_id}",
    summary="The session's committed offset, in the Upload-Offset header",
    responses={404: {"description": "No such session (or not yours)"}},
    operation_id="upload_offset",
)
@router.get(
    "/uploads/{upload_id}",
    summary="The session's committed offset and declared total (also in the Upload-Offset header)",
    responses={404: {"description": "No such session (or not yours)"}},
)
async def upload_state(
    request: Request, response: Response, upload_id: str, principal: Uploader
) -> dict[str, Any]:
    try:
        session = _uploads(request).state(upload_id, _caller(principal))
    except IngestError as error:
        raise _http_error(error) from None
    response.headers["Upload-Offset"] = str(session.offset)
    response.headers["Cache-Control"] = "no-store"
    return {"upload_id": session.id, "offset": session.offset, "total": session.total}


@router.post(
    "/uploads/{upload_id}/finish",
    summary="Validate and publish the uploaded manifest (as POST /manifests does); ends the session",
    responses={
        **_UPLOAD_ERRORS,
        404: {"description": "No such session (or not yours)"},
        409: {"description": "Bytes are still missing (the committed offset is below the total)"},
        415: {"description": "Not a manifest format ingest reads"},
        422: {"description": "Invalid lines (each names its line and field); nothing published"},
    },
)
async def finish_upload(request: Request, upload_id: str, principal: Uploader) -> dict[str, Any]:
    try:
        return _accepted(await _uploads(request).finish(upload_id, _caller(principal)))
    except IngestError as error:
        raise _http_error(error) from None


@router.delete(
    "/uploads/{upload_id}",
    status_code=204,
    summary="Abandon an upload session and delete what it holds",
    responses={404: {"description": "No such session (or not yours)"}},
)
async def cancel_upload(request: Request, upload_id: str, principal: Uploader) -> Response:
    try:
        _uploads(request).cancel(upload_id, _caller(principal))
    except IngestError as error:
        raise _http_error(error) from None
    return Response(status_code=204)


@router.get(
    "/manifests/{manifest_id}",
    summary="A manifest ingest accepted: its platform, item count, format and content hash "
    "(a platform: its own manifests only)",
    responses={
        401: {"description": "No valid bearer token"},
        404: {"description": "Ingest never accepted this manifest (or it is another platform's)"},
    },
)
async def accepted_manifest(request: Request, manifest_id: str, principal: Uploader) -> dict[str, Any]:
    found = (
        await _components(request).manifests.get(manifest_id)
        if principal.sees_manifest(manifest_id)
        else None
    )
    if found is None:
        raise HTTPException(404, f"ingest has not accepted a manifest {manifest_id!r}")
    return found
