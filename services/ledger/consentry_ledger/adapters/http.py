"""The ledger's HTTP API: health, the latest checkpoint, entries, the verifier key, reports."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, HTTPException, Query, Request, Response

from consentry_ledger.service import manifest_report

if TYPE_CHECKING:
    from consentry_ledger.app import LedgerComponents

router = APIRouter()

_MAX_RANGE = 10_000


def _components(request: Request) -> LedgerComponents:
    return request.app.state.components  # type: ignore[no-any-return]


@router.get("/health", summary="Live and ready: the consumer runs and the log state is loaded")
async def health(request: Request) -> dict[str, Any]:
    service = _components(request).service
    return {"status": "ok", "service": "ledger", "size": service.size}


@router.get(
    "/checkpoint",
    summary="The latest signed checkpoint (C2SP tlog-checkpoint signed note)",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}}, 404: {"description": "empty log"}},
)
async def checkpoint(request: Request) -> Response:
    note = _components(request).service.checkpoint_note
    if note is None:
        raise HTTPException(404, "the log is empty: no checkpoint yet")
    return Response(note, media_type="text/plain; charset=utf-8")


@router.get(
    "/vkey",
    summary="The log's verifier key in signed-note vkey form",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}}},
)
async def vkey(request: Request) -> Response:
    return Response(_components(request).service.vkey + "\n", media_type="text/plain")


@router.get(
    "/entries",
    summary="Leaf bytes of entries [start, end): one canonical JSON entry per line",
    response_class=Response,
    responses={200: {"content": {"application/x-ndjson": {}}}},
)
async def entries(
    request: Request,
    start: int = Query(0, ge=0),
    end: int = Query(..., gt=0),
) -> Response:
    if end - start > _MAX_RANGE:
        raise HTTPException(400, f"at most {_MAX_RANGE} entries per request")
    leaves = await _components(request).store.leaves(start, end)
    return Response(b"".join(leaf + b"\n" for leaf in leaves), media_type="application/x-ndjson")


@router.get("/manifests/{manifest_id}/status", summary="How many entries a manifest has so far")
async def manifest_status(request: Request, manifest_id: str) -> dict[str, Any]:
    count = await _components(request).store.manifest_count(manifest_id)
    return {"manifest_id": manifest_id, "ledgered": count}


@router.get(
    "/manifests/{manifest_id}/report",
    summary="Counts by verdict and reason, and every item's verdict with its log index",
)
async def report(request: Request, manifest_id: str) -> dict[str, Any]:
    components = _components(request)
    rows = await components.store.manifest_entries(manifest_id)
    body = manifest_report(manifest_id, [(r.index, r.leaf) for r in rows])
    body["checkpoint"] = components.service.checkpoint_note
    return body
