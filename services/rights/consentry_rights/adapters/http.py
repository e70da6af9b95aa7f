"""The rights HTTP API: health and registry import."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, HTTPException, Request

from consentry_rights.domain.importing import parse_registry_jsonl

if TYPE_CHECKING:
    from consentry_rights.app import RightsComponents

router = APIRouter()


def _components(request: Request) -> RightsComponents:
    return request.app.state.components  # type: ignore[no-any-return]


@router.post(
    "/registry/import",
    summary="Bulk-load registry records (JSONL, one reservation, deal or work per line)",
    responses={
        422: {
            "description": "Some lines are invalid; nothing was stored. Each error names "
            "the line and the field."
        },
        413: {"description": "The upload is larger than the configured limit"},
    },
)
async def import_registry(request: Request) -> dict[str, Any]:
    components = _components(request)
    limit = components.settings.max_import_bytes
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise HTTPException(413, f"registry import larger than {limit} bytes")
    parsed = parse_registry_jsonl(bytes(body).split(b"\n"))
    if parsed.errors:
        raise HTTPException(
            422,
            {
                "message": f"{len(parsed.errors)} invalid line(s); nothing was imported",
                "errors": [
                    {"line": e.line, "field": e.field, "message": e.message, "text": str(e)}
                    for e in parsed.errors
                ],
            },
        )
    if not parsed.records:
        raise HTTPException(422, {"message": "no records in the import", "errors": []})
    version = await components.service.import_records(parsed.records)
    counts: dict[str, int] = {}
    for record in parsed.records:
        counts[record.kind] = counts.get(record.kind, 0) + 1
    reevaluated, changed = components.service.last_reevaluation
    return {
        "registry_version": version,
        "imported": len(parsed.records),
        "by_kind": counts,
        "reevaluated": reevaluated,
        "decisions_changed": changed,
    }
