"""The ledger's HTTP API (OpenAPI at ``/docs``).

- ``/checkpoint``, ``/tile/<L>/<N>[.p/<W>]``, ``/tile/entries/<N>[.p/<W>]``: the C2SP tlog-tiles
  read paths, so standard tile clients can read and verify the log; computed from the store
  and the in-memory hash cache, never stale, immutable once served (except the checkpoint).
- ``/proof/inclusion``, ``/proof/consistency``, ``/receipt/{index}``: RFC 9162 proofs with
  base64 hashes, each with the signed checkpoint it is relative to.
- ``POST /cosignatures``, ``/checkpoint/final``: witnesses hand in C2SP cosignatures, which the
  log verifies against its configured witness keys, keeps (append-only) and serves as extra
  signature lines on ``/checkpoint``; the final checkpoint is the latest with a quorum.
- ``/entries``, ``/vkey``, ``/witnesses``, ``/manifests/...``: entries by range, the verifier key,
  the witnesses' keys and quorum, reports.

Errors are JSON ``{"detail": "..."}``: 400 for an impossible request, 404 for a size, index,
entry or tile the log does not have.

The two proof paths are the hottest reads (auditors and monitors poll them), and FastAPI's
per-request machinery costs several times the proof itself. :class:`FastProofs` answers the
plain, well-formed forms (``?index=I[&size=N]``, ``?from=M[&to=N]``) directly in ASGI with the
same service calls and the same bodies; anything else (other parameters, errors) falls through
to the FastAPI routes below, which remain the documented and complete implementation.
``install`` puts both on an app.
"""

from __future__ import annotations

import functools
import json
import re
from binascii import b2a_base64
from collections.abc import Awaitable, Callable, MutableMapping
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Request, Response
from pydantic import BaseModel, Field

from consentry_ledger.service import (
    CheckpointNotFound,
    ConsistencyProof,
    EntryNotFound,
    InclusionProof,
    InvalidCosignature,
    InvalidRange,
    LedgerService,
    MalformedCosignature,
    QueryError,
    UnknownWitness,
    manifest_report,
)
from consentry_shared.auth import Principal, Role, require
from consentry_shared.tlog import TILE_WIDTH, encode_entry_bundle

if TYPE_CHECKING:
    from consentry_ledger.adapters.store import LedgerStore

router = APIRouter()

_MAX_RANGE = 10_000
_JSON = "application/json"
_TILE_HEADERS = {"Cache-Control": "public, max-age=31536000, immutable"}
_TILE_MEDIA = "application/octet-stream"
# <N> in tile paths: 3-digit groups, all but the last prefixed with "x"; an optional ".p/<W>".
_TILE_INDEX = re.compile(r"^((?:x\d{3}/)*)(\d{3})(?:\.p/([1-9]\d{0,2}))?$")


def _service(request: Request) -> LedgerService:
    return request.app.state.components.service  # type: ignore[no-any-return]


def _store(request: Request) -> LedgerStore:
    return request.app.state.components.store  # type: ignore[no-any-return]


def _b64(value: bytes) -> str:
    return b2a_base64(value, newline=False).decode("ascii")


@functools.lru_cache(maxsize=64)
def _json_string(note: str) -> str:
    # Proofs mostly cite the latest checkpoint: encode each note once.
    return json.dumps(note)


def _inclusion_json(proof: InclusionProof) -> bytes:
    """``json.dumps(_inclusion_body(proof), separators=(",", ":"))``, built directly: base64 needs
    no escaping, and the checkpoint's encoding is cached."""
    hashes = ",".join([f'"{_b64(h)}"' for h in proof.hashes])
    return (
        f'{{"index":{proof.index},"tree_size":{proof.tree_size},"leaf_hash":"{_b64(proof.leaf_hash)}",'
        f'"hashes":[{hashes}],"checkpoint":{_json_string(proof.checkpoint)}}}'
    ).encode()


def _json_bytes(body: dict[str, Any]) -> bytes:
    return json.dumps(body, separators=(",", ":")).encode()


def _json(body: dict[str, Any]) -> Response:
    # Serialised here rather than through a response model: proofs are the hot path.
    return Response(_json_bytes(body), media_type=_JSON)


def _http_error(error: QueryError) -> HTTPException:
    if isinstance(error, (InvalidRange, MalformedCosignature)):
        status = 400
    elif isinstance(error, UnknownWitness):
        status = 403
    elif isinstance(error, InvalidCosignature):
        status = 422
    else:
        status = 404
    return HTTPException(status, str(error))


# --- documentation models (the handlers serialise the same shapes by hand) -------------------


class InclusionProofBody(BaseModel):
    """An RFC 9162 inclusion proof and the checkpoint whose root it leads to."""

    index: int = Field(description="The entry's index (leaf number)")
    tree_size: int = Field(description="Size of the tree the proof is for (the checkpoint's size)")
    leaf_hash: str = Field(description="base64 of SHA-256(0x00 || leaf bytes)")
    hashes: list[str] = Field(description="The audit path, base64, from the leaf's sibling upwards")
    checkpoint: str = Field(description="The signed checkpoint note of size tree_size")


class ConsistencyProofBody(BaseModel):
    """An RFC 9162 consistency proof between two tree sizes."""

    from_: int = Field(alias="from", description="The older tree size")
    to: int = Field(description="The newer tree size (the checkpoint's size)")
    hashes: list[str] = Field(description="The proof, base64, in RFC 9162 order")
    checkpoint: str = Field(description="The signed checkpoint note of size `to`")
    from_checkpoint: str | None = Field(description="The signed checkpoint of size `from`, if the log has it")


class ReceiptBody(InclusionProofBody):
    """Everything needed to show, offline, that an entry is in the log."""

    leaf: str = Field(description="base64 of the entry's exact leaf bytes (RFC 8785 canonical JSON)")
    entry: dict[str, Any] = Field(description="The same entry, parsed")
    cosignatures: list[str] = Field(description="Witness cosignature lines on the checkpoint (C2SP)")


def _inclusion_body(proof: InclusionProof) -> dict[str, Any]:
    return {
        "index": proof.index,
        "tree_size": proof.tree_size,
        "leaf_hash": _b64(proof.leaf_hash),
        "hashes": [_b64(h) for h in proof.hashes],
        "checkpoint": proof.checkpoint,
    }


def _consistency_body(proof: ConsistencyProof) -> dict[str, Any]:
    return {
        "from": proof.old_size,
        "to": proof.new_size,
        "hashes": [_b64(h) for h in proof.hashes],
        "checkpoint": proof.checkpoint,
        "from_checkpoint": proof.old_checkpoint,
    }


# --- service -------------------------------------------------------------------------------


@router.get(
    "/vkey",
    summary="The log's verifier key in signed-note vkey form",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}}},
)
async def vkey(request: Request) -> Response:
    return Response(_service(request).vkey + "\n", media_type="text/plain")


# --- tlog-tiles ----------------------------------------------------------------------------


@router.get(
    "/checkpoint",
    summary="The latest signed checkpoint (C2SP tlog-checkpoint signed note)",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}}, 404: {"description": "empty log"}},
)
async def checkpoint(request: Request) -> Response:
    note = _service(request).cosigned_checkpoint
    if note is None:
        raise HTTPException(404, "the log is empty: no checkpoint yet")
    return Response(note, media_type="text/plain; charset=utf-8", headers={"Cache-Control": "no-cache"})


@router.get(
    "/checkpoint/final",
    summary="The latest checkpoint cosigned by a quorum of the log's witnesses, with the cosignatures",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}}, 404: {"description": "no checkpoint has a quorum yet"}},
)
async def final_checkpoint(request: Request) -> Response:
    try:
        note = await _service(request).final_checkpoint()
    except QueryError as error:
        raise _http_error(error) from None
    return Response(note, media_type="text/plain; charset=utf-8", headers={"Cache-Control": "no-cache"})


class WitnessesBody(BaseModel):
    """Who witnesses this log: what an auditor needs to check ``/checkpoint/final`` offline."""

    witnesses: list[str] = Field(description="Verifier keys (vkey form) of the witnesses the log accepts")
    quorum: int = Field(description="Cosignatures that make a checkpoint final (0: every checkpoint is)")


@router.get(
    "/witnesses",
    summary="The witnesses whose cosignatures this log accepts, and the quorum for a final checkpoint",
    response_model=WitnessesBody,
)
async def witnesses(request: Request) -> WitnessesBody:
    keys, quorum = _service(request).witness_policy
    return WitnessesBody(witnesses=list(keys), quorum=quorum)


class CosignatureBody(BaseModel):
    """A witness's cosignature of one of the log's checkpoints (c2sp.org/tlog-cosignature)."""

    size: int = Field(ge=1, description="Size of the checkpoint the witness cosigned")
    cosignature: str = Field(description="The signature line: `— <witness name> <base64>`")


@router.post(
    "/cosignatures",
    summary="Hand in a witness cosignature; it is verified, kept and served with the checkpoint",
    responses={
        400: {"description": "not a signature line"},
        403: {"description": "not a witness of this log"},
        404: {"description": "the log never signed that size"},
        422: {"description": "the cosignature does not verify for that checkpoint"},
    },
)
async def add_cosignature(request: Request, body: CosignatureBody) -> dict[str, Any]:
    try:
        witness, added = await _service(request).add_cosignature(body.size, body.cosignature)
    except QueryError as error:
        raise _http_error(error) from None
    return {"size": body.size, "witness": witness, "stored": added}


def _tile_coordinates(path: str) -> tuple[int, int]:
    """``(index, width)`` of a tile path tail such as ``x001/234`` or ``000.p/17``."""
    match = _TILE_INDEX.match(path)
    if match is None:
        raise HTTPException(404, f"not a tile path: {path!r}")
    groups, last, width = match.groups()
    parts = [g[1:] for g in groups.split("/") if g] + [last]
    if len(parts) > 1 and parts[0] == "000":
        raise HTTPException(404, f"not a canonical tile path: {path!r}")
    index = int("".join(parts))
    if width is None:
        return index, TILE_WIDTH
    if int(width) >= TILE_WIDTH:
        raise HTTPException(404, f"partial tile width must be 1..{TILE_WIDTH - 1}")
    return index, int(width)


@router.get(
    "/tile/entries/{path:path}",
    summary="An entry bundle: the leaf bytes of 256 entries (or W with .p/W), uint16-length-prefixed",
    response_class=Response,
    responses={200: {"content": {_TILE_MEDIA: {}}}, 404: {"description": "no such bundle at this size"}},
)
async def entry_bundle(request: Request, path: str) -> Response:
    index, width = _tile_coordinates(path)
    start = index * TILE_WIDTH
    if start + width > _service(request).size:
        raise HTTPException(404, f"entry bundle {path} does not exist yet")
    leaves = await _store(request).leaves(start, start + width)
    if len(leaves) != width:
        raise HTTPException(500, f"the store returned {len(leaves)} of {width} entries for bundle {path}")
    return Response(encode_entry_bundle(leaves), media_type=_TILE_MEDIA, headers=_TILE_HEADERS)


@router.get(
    "/tile/{level}/{path:path}",
    summary="A hash tile: 256 (or W) Merkle node hashes of tile level L (tree level 8L)",
    response_class=Response,
    responses={200: {"content": {_TILE_MEDIA: {}}}, 404: {"description": "no such tile at this size"}},
)
async def hash_tile(request: Request, level: str, path: str) -> Response:
    if not level.isdigit() or (len(level) > 1 and level[0] == "0") or int(level) > 63:
        raise HTTPException(404, f"not a tile level: {level!r}")
    index, width = _tile_coordinates(path)
    try:
        content = _service(request).hashes.tile(int(level), index, width)
    except ValueError:
        raise HTTPException(404, f"tile {level}/{path} does not exist yet") from None
    return Response(content, media_type=_TILE_MEDIA, headers=_TILE_HEADERS)


# --- proofs --------------------------------------------------------------------------------


@router.get(
    "/proof/inclusion",
    summary="Inclusion proof of one entry, by index, by decision event id, or by manifest and item id",
    response_class=Response,
    responses={
        200: {"model": InclusionProofBody},
        400: {"description": "no way to find the entry given"},
        404: {"description": "no such entry, or no checkpoint of that size"},
    },
)
async def proof_inclusion(
    request: Request,
    index: int | None = Query(None, ge=0, description="The entry's index"),
    event_id: str | None = Query(None, description="The decision event id the entry records"),
    manifest_id: str | None = Query(None, description="With item_id: the item's latest entry"),
    item_id: str | None = Query(None, description="With manifest_id"),
    size: int | None = Query(None, ge=1, description="Tree size of a signed checkpoint (default: latest)"),
) -> Response:
    service = _service(request)
    try:
        if index is None:
            if event_id is not None:
                index = await service.index_of_event(event_id)
            elif manifest_id is not None and item_id is not None:
                index = await service.index_of_item(manifest_id, item_id)
            else:
                raise HTTPException(400, "give index, event_id, or manifest_id and item_id")
        proof = await service.inclusion(index, size)
    except QueryError as error:
        raise _http_error(error) from None
    return Response(_inclusion_json(proof), media_type=_JSON)


@router.get(
    "/proof/consistency",
    summary="Consistency proof: the tree of size `from` is a prefix of the tree of size `to`",
    response_class=Response,
    responses={
        200: {"model": ConsistencyProofBody},
        400: {"description": "from > to"},
        404: {"description": "no checkpoint of size `to`"},
    },
)
async def proof_consistency(
    request: Request,
    from_: int = Query(..., alias="from", ge=0, description="The older size (e.g. your saved checkpoint's)"),
    to: int | None = Query(None, ge=1, description="Size of a signed checkpoint (default: latest)"),
) -> Response:
    try:
        proof = await _service(request).consistency(from_, to)
    except QueryError as error:
        raise _http_error(error) from None
    return _json(_consistency_body(proof))


@router.get(
    "/receipt/{index}",
    summary="A per-entry receipt: the entry, its inclusion proof and the latest checkpoint",
    response_class=Response,
    responses={200: {"model": ReceiptBody}, 404: {"description": "no such entry"}},
)
async def receipt(request: Request, index: int) -> Response:
    service = _service(request)
    try:
        found = await service.receipt(index)
        cosigned, lines = await service.cosigned(found.proof.tree_size)
    except (EntryNotFound, CheckpointNotFound) as error:
        raise _http_error(error) from None
    body = _inclusion_body(found.proof)
    body["checkpoint"] = cosigned
    body["leaf"] = _b64(found.leaf)
    body["entry"] = json.loads(found.leaf)
    body["cosignatures"] = lines
    return _json(body)


# --- entries and reports -------------------------------------------------------------------


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
    leaves = await _store(request).leaves(start, end)
    return Response(b"".join(leaf + b"\n" for leaf in leaves), media_type="application/x-ndjson")


def _report_reader(request: Request) -> Principal:
    """A platform (or admin) token, checked as ``require(book, Role.PLATFORM)`` checks it against
    the ledger's token book (kept on the app: the book caches the parsed file)."""
    book = getattr(request.app.state, "token_book", None)
    if book is None:
        book = request.app.state.token_book = request.app.state.components.settings.token_book()
    check: Callable[[Request], Principal] = require(book, Role.PLATFORM).dependency
    return check(request)


def _visible(principal: Principal, manifest_id: str) -> None:
    """A platform sees only its own manifests: every manifest id begins with the percent-encoded
    platform and a colon (ingest's ``manifest_id_for``). Another's is 404, as an unknown one."""
    if not principal.is_admin and not manifest_id.startswith(quote(principal.name, safe="") + ":"):
        raise HTTPException(404, f"no manifest {manifest_id!r} of platform {principal.name!r}")


ReportReader = Annotated[Principal, Depends(_report_reader)]
_REPORT_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "No valid bearer token"},
    403: {"description": "Not a platform's or an administrator's token"},
    404: {"description": "Another platform's manifest"},
}


@router.get(
    "/manifests/{manifest_id}/status",
    summary="How many entries a manifest has so far (a platform: its own manifests only)",
    responses=_REPORT_ERRORS,
)
async def manifest_status(request: Request, manifest_id: str, principal: ReportReader) -> dict[str, Any]:
    _visible(principal, manifest_id)
    count = await _store(request).manifest_count(manifest_id)
    return {"manifest_id": manifest_id, "ledgered": count}


@router.get(
    "/manifests/{manifest_id}/report",
    summary="Counts by verdict and reason, and every item's verdict with its log index (a platform: "
    "its own manifests only)",
    responses=_REPORT_ERRORS,
)
async def report(request: Request, manifest_id: str, principal: ReportReader) -> dict[str, Any]:
    _visible(principal, manifest_id)
    rows = await _store(request).manifest_entries(manifest_id)
    body = manifest_report(manifest_id, [(r.index, r.leaf) for r in rows])
    body["checkpoint"] = _service(request).checkpoint_note
    return body


# --- the fast path ---------------------------------------------------------------------------

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_JSON_HEADERS = [(b"content-type", _JSON.encode())]


def _plain_query(query: bytes, required: str, optional: str) -> tuple[int, int | None] | None:
    """``(required, optional)`` from a query of exactly those decimal parameters, else ``None``."""
    values: dict[str, int] = {}
    for part in query.split(b"&"):
        name, equals, value = part.partition(b"=")
        key = name.decode("ascii", "replace")
        if not equals or key not in (required, optional) or key in values or not value.isdigit():
            return None
        values[key] = int(value)
    if required not in values:
        return None
    return values[required], values.get(optional)


class FastProofs:
    """ASGI middleware serving ``GET /proof/inclusion?index=I[&size=N]`` and
    ``GET /proof/consistency?from=M[&to=N]`` without FastAPI's routing and validation (see the
    module docstring). Responses are byte-identical to the FastAPI routes'."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET":
            path = scope["path"]
            if path == "/proof/inclusion":
                body = await self._inclusion(scope)
            elif path == "/proof/consistency":
                body = await self._consistency(scope)
            else:
                body = None
            if body is not None:
                headers = [*_JSON_HEADERS, (b"content-length", str(len(body)).encode())]
                await send({"type": "http.response.start", "status": 200, "headers": headers})
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)

    @staticmethod
    def _service(scope: Scope) -> LedgerService:
        return scope["app"].state.components.service  # type: ignore[no-any-return]

    async def _inclusion(self, scope: Scope) -> bytes | None:
        query = _plain_query(scope["query_string"], "index", "size")
        if query is None or query[1] == 0:
            return None
        try:
            proof = await self._service(scope).inclusion(*query)
        except QueryError:
            return None  # FastAPI answers with the error
        return _inclusion_json(proof)

    async def _consistency(self, scope: Scope) -> bytes | None:
        query = _plain_query(scope["query_string"], "from", "to")
        if query is None or query[1] == 0:
            return None
        try:
            proof = await self._service(scope).consistency(*query)
        except QueryError:
            return None
        return _json_bytes(_consistency_body(proof))


def install(app: FastAPI) -> None:
    """Add the ledger's HTTP API to ``app``: the routes and the proof fast path."""
    app.include_router(router)
    app.add_middleware(FastProofs)
