"""In-memory fakes of the storage ports, for service tests on FastStream's test broker."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Sequence
from dataclasses import replace
from datetime import datetime

from consentry_rights.adapters.store import (
    DecidedItem,
    EvidenceFile,
    RecordOwnedElsewhere,
    RecordQuery,
    RecordVersion,
    RegistryStore,
    VerdictChange,
)
from consentry_rights.domain.importing import RegistryRecord
from consentry_rights.domain.revocation import Selectors
from consentry_shared.contracts.v1 import Deal, Holder, Work, utc_now


class FakeRegistryStore(RegistryStore):
    """Keeps every version in a list, as the SQL store's history table does."""

    def __init__(self) -> None:
        self._versions: list[tuple[int, datetime, RegistryRecord]] = []
        self._version = 0
        self._decided: dict[str, DecidedItem] = {}
        self._evidence: dict[str, EvidenceFile] = {}
        self._origins: dict[str, str] = {}

    async def initialise(self) -> None:
        return None

    async def version(self) -> int:
        return self._version

    async def version_at(self, recorded: datetime) -> int:
        return max((v for v, at, _ in self._versions if at <= recorded), default=0)

    def _at(self, version: int) -> dict[tuple[str, str], RegistryRecord]:
        found: dict[tuple[str, str], RegistryRecord] = {}
        for v, _, record in self._versions:
            if v <= version:
                found[(record.kind, record.id)] = record
        return found

    async def snapshot(
        self, as_of_version: int | None = None, *, as_of: datetime | None = None
    ) -> tuple[int, list[RegistryRecord]]:
        if as_of is not None:
            as_of_version = await self.version_at(as_of)
        version = self._version if as_of_version is None else min(as_of_version, self._version)
        return version, list(self._at(version).values())

    async def upsert(
        self,
        records: Sequence[RegistryRecord],
        *,
        owner: str | None = None,
        evidence: EvidenceFile | None = None,
    ) -> int:
        current = self._at(self._version)
        if owner is not None:
            for record in records:
                stored = current.get((record.kind, record.id))
                if stored is not None and stored.holder != owner:
                    raise RecordOwnedElsewhere(record.kind, record.id, stored.holder)
        if evidence is not None:
            self._evidence.setdefault(evidence.sha256, evidence)
        if not records:
            return self._version
        self._version += 1
        now = utc_now()
        self._versions.extend((self._version, now, record) for record in records)
        return self._version

    async def records_page(
        self, as_of_version: int, query: RecordQuery, *, after: tuple[str, str] | None, limit: int
    ) -> list[tuple[str, str, str]]:
        def wanted(r: RegistryRecord) -> bool:
            if query.valid_at is not None and not _in_force(r, query.valid_at):
                return False
            if isinstance(r, Deal) and (
                query.deal_licensee not in (None, r.licensee) or query.deal_holder not in (None, r.holder)
            ):
                return False
            prefix = query.id_prefix or ""
            return (
                query.kind in (None, r.kind) and query.holder in (None, r.holder) and r.id.startswith(prefix)
            )

        found = sorted(
            (key, r)
            for key, r in self._at(as_of_version).items()
            if wanted(r) and (after is None or key > after)
        )
        return [(k, i, r.model_dump_json(by_alias=True, exclude_none=True)) for (k, i), r in found[:limit]]

    async def history(self, kind: str, record_id: str) -> list[RecordVersion]:
        mine = [(v, at, r) for v, at, r in self._versions if (r.kind, r.id) == (kind, record_id)]
        return [
            RecordVersion(v, at, mine[n + 1][0] if n + 1 < len(mine) else None, r)
            for n, (v, at, r) in enumerate(mine)
        ]

    async def evidence(self, sha256: str) -> EvidenceFile | None:
        return self._evidence.get(sha256)

    async def origin_holder(self, origin: str) -> str | None:
        return self._origins.get(origin)

    async def register_origin(self, origin: str, holder: str) -> None:
        self._origins[origin] = holder

    async def remember_decisions(self, decided: Sequence[DecidedItem]) -> None:
        for d in decided:
            self._decided[d.item.event_id] = d

    async def manifest_verdicts(self, manifest_id: str) -> dict[str, int]:
        counts: dict[str, int] = {}
        for d in self._decided.values():
            if d.item.manifest_id == manifest_id:
                counts[d.verdict.value] = counts.get(d.verdict.value, 0) + 1
        return counts

    async def decided_pages(
        self, selectors: Selectors, *, size: int
    ) -> AsyncGenerator[list[DecidedItem], None]:
        found = [d for d in self._decided.values() if selectors.covers(d.item, d.host)]
        for start in range(0, len(found), size):
            yield found[start : start + size]

    async def remember_verdicts(self, changed: Sequence[VerdictChange]) -> None:
        for c in changed:
            if (d := self._decided.get(c.item_event_id)) is not None:
                self._decided[c.item_event_id] = replace(
                    d, verdict=c.verdict, decision_event_id=c.decision_event_id
                )

    async def ping(self) -> None:
        return None

    async def close(self) -> None:
        return None


def _in_force(record: RegistryRecord, at: datetime) -> bool:
    if isinstance(record, Work | Holder):
        return True
    ends = [record.valid_until] + ([record.revoked_at] if isinstance(record, Deal) else [])
    return record.valid_from <= at and all(end is None or end > at for end in ends)
