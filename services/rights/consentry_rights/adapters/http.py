"""The rights HTTP API: the registry (import, list, history, signal files, evidence, origins).

Every endpoint takes a bearer token (``Authorization: Bearer cst_...``) when the token file
exists (see :mod:`consentry_shared.auth`); the rules of who may do what are in
:mod:`consentry_rights.domain.access`. The handlers only translate: bytes and query parameters in,
a call into the domain or the application service, JSON (or JSONL) out, errors to status codes.

Status codes: 401 no or unknown token; 403 the token may not do this (nothing was changed);
404 unknown (or invisible) record, version or file; 413 body too large; 422 bad input, each
error naming its line and field (nothing was changed).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from consentry_rights.adapters.store import RecordOwnedElsewhere, RecordQuery
from consentry_rights.domain import access
from consentry_rights.domain.importing import (
    ImportLineError,
    ParsedImport,
    RegistryRecord,
    parse_registry_csv,
    parse_registry_jsonl,
)
from consentry_rights.domain.signal_import import SignalFileError, canonical_origin
from consentry_shared.auth import Principal, Role, TokenBook, require

if TYPE_CHECKING:
    from consentry_rights.app import RightsComponents

__all__ = ["registry_router"]

NDJSON = "application/x-ndjson"
_PAGE = 2000

_Responses = dict[int | str, dict[str, Any]]
_401: _Responses = {401: {"description": "No bearer token, or one that is unknown or revoked"}}
_403: _Responses = {403: {"description": "The token may not do this; nothing was changed"}}
_422: _Responses = {
    422: {
        "description": "Invalid input; nothing was changed. The body is "
        '`{"detail": {"message": ..., "errors": [{"line", "field", "message", "text"}]}}`'
    }
}


def _components(request: Request) -> RightsComponents:
    return request.app.state.components  # type: ignore[no-any-return]


class ImportResult(BaseModel):
    registry_version: int = Field(description="The registry version this import made")
    imported: int
    by_kind: dict[str, int]
    reevaluated: int = Field(description="Earlier decisions this change could touch, decided again")
    decisions_changed: int = Field(description="Of those, how many flipped (a new decision was published)")


class SignalImportResult(ImportResult):
    origin: str
    kind: str
    holder: str
    evidence_sha256: str = Field(description="The stored file: GET /registry/evidence/{sha256}")
    records: list[str] = Field(description="Ids of the reservations made, repeated or closed")
    notes: list[str] = Field(description="What the file says that a registry scope cannot express")


class RecordVersionOut(BaseModel):
    registry_version: int
    recorded_at: datetime
    superseded_in: int | None = Field(description="The registry version that replaced this one")
    record: dict[str, Any] = Field(description="The record as an import line")


class RecordHistory(BaseModel):
    kind: str
    id: str
    current: dict[str, Any] | None = Field(description="The current version (null if none is current)")
    versions: list[RecordVersionOut] = Field(description="Every version, oldest first")


class OriginRegistration(BaseModel):
    origin: str = Field(description="scheme://host[:port]")
    holder: str = Field(min_length=1)


def _unprocessable(message: str, errors: list[ImportLineError]) -> HTTPException:
    return HTTPException(
        422,
        {
            "message": message,
            "errors": [
                {"line": e.line, "field": e.field, "message": e.message, "text": str(e)} for e in errors
            ],
        },
    )


async def _read_body(request: Request, limit: int) -> bytes:
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise HTTPException(413, f"upload larger than {limit} bytes")
    return bytes(body)


def _record_json(record: RegistryRecord) -> dict[str, Any]:
    return record.model_dump(mode="json", by_alias=True, exclude_none=True)


def registry_router(book: TokenBook) -> APIRouter:  # noqa: PLR0915 - one closure per endpoint, sharing the book
    """The registry endpoints, authenticated against ``book``."""
    router = APIRouter(tags=["registry"])
    # Used as parameter defaults, not in Annotated: postponed annotations cannot see these locals.
    writer = require(book, Role.HOLDER)  # admins always pass
    reader = require(book)  # any valid token

    @router.post(
        "/registry/import",
        summary="Bulk-load registry records (JSONL, or CSV with the documented columns)",
        description="All or nothing. JSONL: one reservation, deal, work or holder per line, as in the "
        "README. CSV (`?format=csv` or `Content-Type: text/csv`): a header row naming columns from `kind, "
        "id, holder, licensee, domain, url_prefix, sha256, md5, identifier, isbn, isrc, iswc, doi, "
        "creator_ids, name, contact, purposes, territories, from, until, revoked_at, attribution, "
        "compensation_basis, compensation_amount, compensation_currency, license, evidence_sha256`; "
        "lists separated by `;`. A holder token may import only records whose "
        "`holder` is its name, and may not replace another holder's record; an admin token may import "
        "anything. Every stored record is announced on `rights.updates.v1`.",
        response_model=ImportResult,
        responses={
            **_401,
            **_403,
            413: {"description": "The upload is larger than the configured limit"},
            **_422,
        },
    )
    async def import_registry(
        request: Request,
        import_format: Annotated[
            Literal["jsonl", "csv"] | None, Query(alias="format", description="Default: from Content-Type")
        ] = None,
        principal: Principal = writer,
    ) -> ImportResult:
        components = _components(request)
        body = await _read_body(request, components.settings.max_import_bytes)
        is_csv = import_format == "csv" or (
            import_format is None and "csv" in request.headers.get("content-type", "")
        )
        parsed = parse_registry_csv(body) if is_csv else parse_registry_jsonl(body.split(b"\n"))
        if parsed.errors:
            raise _unprocessable(f"{len(parsed.errors)} invalid line(s); nothing was imported", parsed.errors)
        if not parsed.records:
            raise _unprocessable("no records in the import", [])
        await _check_evidence(components, parsed)
        foreign = access.foreign_records(parsed.records, parsed.lines, principal.role.value, principal.name)
        if foreign:
            raise HTTPException(
                403,
                {
                    "message": f"{len(foreign)} record(s) belong to another holder; nothing was imported",
                    "errors": [
                        {"line": e.line, "field": e.field, "message": e.message, "text": str(e)}
                        for e in foreign[:100]
                    ],
                },
            )
        owner = access.import_owner(principal.role.value, principal.name)
        try:
            version = await components.service.import_records(parsed.records, owner=owner)
        except RecordOwnedElsewhere as error:
            raise HTTPException(403, {"message": f"{error}; nothing was imported", "errors": []}) from None
        return _result(components, version, parsed.records)

    @router.post(
        "/registry/signals",
        summary="Import an origin's robots.txt, ai.txt or tdmrep.json as reservations",
        description="The body is the file as served by the origin. It is kept as evidence (its bytes and "
        "SHA-256, which every record made from it names in `evidence_sha256`); the reservations are those "
        "the signal parsers find (see the rights domain's signal_import module). A newer file of the same "
        "kind and origin closes the reservations the old one made that it no longer makes. Allowed for "
        "the holder the origin is registered to (POST /registry/origins), and for admins: for the "
        "registered holder, or for `holder` when the origin is not registered.",
        response_model=SignalImportResult,
        responses={
            **_401,
            **_403,
            413: {"description": "The file is larger than the configured limit"},
            **_422,
        },
    )
    async def import_signals(
        request: Request,
        origin: Annotated[str, Query(description="scheme://host[:port] the file was served from")],
        kind: Annotated[Literal["robots.txt", "ai.txt", "tdmrep.json"], Query(description="Which file")],
        holder: Annotated[
            str | None, Query(description="Admins: the holder, if the origin is unregistered")
        ] = None,
        principal: Principal = writer,
    ) -> SignalImportResult:
        components = _components(request)
        try:
            canonical = canonical_origin(origin)
        except SignalFileError as error:
            raise _unprocessable(str(error), [ImportLineError(0, "origin", str(error))]) from None
        registered = await components.store.origin_holder(canonical)
        try:
            owner_name = access.signal_file_holder(principal.role.value, principal.name, registered, holder)
        except access.AccessDenied as error:
            raise HTTPException(403, {"message": str(error), "errors": []}) from None
        except ValueError as error:
            raise _unprocessable(str(error), [ImportLineError(0, "holder", str(error))]) from None
        body = await _read_body(request, components.settings.max_signal_file_bytes)
        try:
            version, found, digest = await components.service.import_signal_file(
                kind,
                body,
                origin=canonical,
                holder=owner_name,
                owner=access.import_owner(principal.role.value, principal.name),
            )
        except SignalFileError as error:
            raise _unprocessable(f"{kind}: {error}", [ImportLineError(1, None, str(error))]) from None
        except RecordOwnedElsewhere as error:
            raise HTTPException(403, {"message": f"{error}; nothing was imported", "errors": []}) from None
        base = _result(components, version, found.records)
        return SignalImportResult(
            **base.model_dump(),
            origin=canonical,
            kind=kind,
            holder=owner_name,
            evidence_sha256=digest,
            records=[record.id for record in found.records],
            notes=found.notes,
        )

    @router.post(
        "/registry/origins",
        summary="Register an origin to a holder (admin)",
        description="Its holder may then import the origin's signal files. Registering again moves it.",
        response_model=OriginRegistration,
        responses={**_401, **_403, **_422},
        dependencies=[require(book, Role.ADMIN)],
    )
    async def register_origin(request: Request, registration: OriginRegistration) -> OriginRegistration:
        try:
            canonical = canonical_origin(registration.origin)
        except SignalFileError as error:
            raise _unprocessable(str(error), [ImportLineError(0, "origin", str(error))]) from None
        await _components(request).store.register_origin(canonical, registration.holder)
        return OriginRegistration(origin=canonical, holder=registration.holder)

    @router.get(
        "/registry/records",
        summary="The registry as JSONL (now, or as it stood at a version or a recorded time)",
        description="One record per line, exactly as an import line, ordered by kind and id; the "
        "`X-Registry-Version` header says which version the lines make up. `as_of_version=N` gives the "
        "registry right after import N (0: empty); `as_of` the version current at that recorded time; "
        "`valid_at` keeps the records in force at that moment (valid time: from/until/revoked_at). "
        "Reservations and works are public; a deal is listed only to its holder, its licensee and admins.",
        response_class=StreamingResponse,
        responses={
            200: {
                "content": {NDJSON: {"schema": {"type": "string"}}},
                "description": "JSONL, one record a line",
            },
            **_401,
            404: {"description": "`as_of_version` is beyond the current version"},
            **_422,
        },
    )
    async def list_records(
        request: Request,
        kind: Literal["reservation", "deal", "work", "holder"] | None = None,
        holder: str | None = None,
        as_of_version: Annotated[int | None, Query(ge=0)] = None,
        as_of: Annotated[datetime | None, Query(description="RFC 3339 with a zone")] = None,
        valid_at: Annotated[datetime | None, Query(description="RFC 3339 with a zone")] = None,
        principal: Principal = reader,
    ) -> StreamingResponse:
        store = _components(request).store
        for name, moment in (("as_of", as_of), ("valid_at", valid_at)):
            if moment is not None and moment.tzinfo is None:
                raise _unprocessable(
                    f"{name} needs a time zone", [ImportLineError(0, name, "needs a time zone")]
                )
        if as_of is not None and as_of_version is not None:
            raise _unprocessable("give as_of_version or as_of, not both", [])
        current = await store.version()
        if as_of is not None:
            version = await store.version_at(as_of)
        elif as_of_version is not None:
            if as_of_version > current:
                raise HTTPException(
                    404, f"registry version {as_of_version} does not exist (current: {current})"
                )
            version = as_of_version
        else:
            version = current
        deals = access.deal_filter(principal.role.value, principal.name)
        query = RecordQuery(
            kind=kind,
            holder=holder,
            deal_licensee=deals.licensee,
            deal_holder=deals.holder,
            valid_at=valid_at,
        )

        async def lines() -> AsyncIterator[bytes]:
            after: tuple[str, str] | None = None
            while page := await store.records_page(version, query, after=after, limit=_PAGE):
                yield "".join(body + "\n" for _, _, body in page).encode()
                after = page[-1][0], page[-1][1]

        return StreamingResponse(lines(), media_type=NDJSON, headers={"X-Registry-Version": str(version)})

    @router.get(
        "/registry/records/{kind}/{record_id:path}",
        summary="One record with its full history",
        response_model=RecordHistory,
        responses={**_401, 404: {"description": "No such record (or a deal the caller is no party to)"}},
    )
    async def show_record(
        request: Request,
        kind: Literal["reservation", "deal", "work", "holder"],
        record_id: str,
        principal: Principal = reader,
    ) -> RecordHistory:
        versions = await _components(request).store.history(kind, record_id)
        role, name = principal.role.value, principal.name
        if not versions or not any(access.may_see(v.record, role, name) for v in versions):
            raise HTTPException(404, f"no {kind} {record_id!r}")
        latest = versions[-1]
        return RecordHistory(
            kind=kind,
            id=record_id,
            current=_record_json(latest.record) if latest.superseded_in is None else None,
            versions=[
                RecordVersionOut(
                    registry_version=v.registry_version,
                    recorded_at=v.recorded_at,
                    superseded_in=v.superseded_in,
                    record=_record_json(v.record),
                )
                for v in versions
                if access.may_see(v.record, role, name)
            ],
        )

    @router.get(
        "/registry/evidence/{sha256}",
        summary="A signal file kept as evidence, byte for byte",
        response_class=Response,
        responses={
            200: {
                "description": "The file; `X-Evidence-Kind`, `X-Evidence-Origin` and "
                "`X-Evidence-Recorded-At` say what it is",
                "content": {"text/plain": {}, "application/json": {}},
            },
            **_401,
            404: {"description": "No file with that hash"},
        },
        dependencies=[reader],
    )
    async def evidence(request: Request, sha256: str) -> Response:
        found = await _components(request).store.evidence(sha256.lower())
        if found is None:
            raise HTTPException(404, f"no evidence file {sha256}")
        media_type = "application/json" if found.kind.endswith(".json") else "text/plain; charset=utf-8"
        return Response(
            found.body,
            media_type=media_type,
            headers={
                "X-Evidence-Kind": found.kind,
                "X-Evidence-Origin": found.origin,
                "X-Evidence-Recorded-At": found.recorded_at.isoformat(),
            },
        )

    @router.get(
        "/manifests/{manifest_id}/decisions",
        tags=["decisions"],
        summary="How many of a manifest's items are decided, by current verdict (a platform: its own "
        "manifests only)",
        responses={**_401, 404: {"description": "Another platform's manifest"}},
    )
    async def manifest_decisions(
        request: Request, manifest_id: str, principal: Principal = reader
    ) -> dict[str, Any]:
        if not principal.sees_manifest(manifest_id):
            raise HTTPException(404, f"no manifest {manifest_id!r} of platform {principal.name!r}")
        verdicts = await _components(request).store.manifest_verdicts(manifest_id)
        return {"manifest_id": manifest_id, "decided": sum(verdicts.values()), "verdicts": verdicts}

    return router


async def _check_evidence(components: RightsComponents, parsed: ParsedImport) -> None:
    """Refuse records naming an evidence file the registry does not hold."""
    missing = await components.service.missing_evidence(parsed.records)
    if not missing:
        return
    errors = [
        ImportLineError(line, "evidence_sha256", "no evidence file with this hash is stored")
        for record, line in zip(parsed.records, parsed.lines, strict=True)
        if record.evidence_sha256 in missing
    ]
    raise _unprocessable(f"{len(errors)} invalid line(s); nothing was imported", errors[:100])


def _result(components: RightsComponents, version: int, records: Sequence[RegistryRecord]) -> ImportResult:
    counts: dict[str, int] = {}
    for record in records:
        counts[record.kind] = counts.get(record.kind, 0) + 1
    reevaluated, changed = components.service.last_reevaluation
    return ImportResult(
        registry_version=version,
        imported=len(records),
        by_kind=counts,
        reevaluated=reevaluated,
        decisions_changed=changed,
    )
