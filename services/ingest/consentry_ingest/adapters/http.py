"""The ingest HTTP API: health and manifest upload."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request

from consentry_ingest.service import IngestError, ManifestRejected, Submission
from consentry_shared.contracts.v1 import Purpose

if TYPE_CHECKING:
    from consentry_ingest.app import IngestComponents

router = APIRouter()


def _components(request: Request) -> IngestComponents:
    return request.app.state.components  # type: ignore[no-any-return]


@router.post(
    "/manifests",
    summary="Upload a manifest (JSONL, CSV, Parquet, Croissant or CDXJ, streamed); every item is "
    "published to items.v1",
    responses={
        422: {"description": "Invalid lines (each names its line and field); nothing published"},
        415: {"description": "Not a manifest format ingest reads"},
        413: {"description": "Larger than the configured limit"},
    },
)
async def submit_manifest(
    request: Request,
    platform: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
    purpose: Purpose | None = None,
    format: Annotated[
        str | None, Query(description="jsonl, csv, parquet, croissant or cdxj (default: detected)")
    ] = None,
    columns: Annotated[
        str | None,
        Query(description='Parquet column mapping as JSON, our field to theirs: {"url": "URL"}'),
    ] = None,
    filename: str | None = None,
    territory: Annotated[str | None, Query(pattern="^[A-Z]{2}$")] = None,
) -> dict[str, Any]:
    service = _components(request).service
    mapping = None
    if columns:
        try:
            mapping = json.loads(columns)
        except ValueError:
            raise HTTPException(400, {"message": "columns must be a JSON object", "errors": []}) from None
        if not isinstance(mapping, dict) or not all(isinstance(v, str) for v in mapping.values()):
            raise HTTPException(
                400, {"message": "columns must map field names to column names", "errors": []}
            )
    submission = Submission(
        platform=platform,
        purpose=purpose,
        format=format,
        filename=filename,
        territory=territory,
        columns=mapping,
    )
    try:
        accepted = await service.submit(request.stream(), submission)
    except ManifestRejected as rejected:
        raise HTTPException(
            rejected.status,
            {
                "message": str(rejected),
                "errors": [{"line": e.line, "field": e.field, "message": e.message} for e in rejected.errors],
                "total_errors": rejected.total,
            },
        ) from None
    except IngestError as error:
        raise HTTPException(error.status, {"message": str(error), "errors": []}) from None
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
